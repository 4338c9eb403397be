# The application image: bot (with the scheduler), action server, migrations, CLI.
# Rasa runs from the official rasa/rasa image; see docker-compose.yml.
FROM python:3.10.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements/app.lock requirements/app.lock
RUN pip install --no-cache-dir -r requirements/app.lock

COPY pyproject.toml alembic.ini ./
COPY bot bot
COPY data data
COPY actions actions
COPY scheduler scheduler
COPY coach coach
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 bridgework
USER bridgework

CMD ["coach", "run"]
