# driverhome bot image: Python 3.11 slim, non-root, runs fully offline.
# The production Chinese embedding model is fetched here, at build time, never at run time.
# Used by docker-compose.yml (service `bot`); the steps mirror `make install` / `make run`.
FROM python:3.11-slim-bookworm

# Same model as retrieval.model in config.yml.
ARG EMBEDDING_MODEL=BAAI/bge-small-zh-v1.5
# PyPI's Linux torch wheel pulls the CUDA stack (GBs); the CPU build of the same version.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/opt/hf \
    DRIVERHOME_CONFIG=/app/config.yml

# A CJK font so the /report chart has Chinese labels; the PostgreSQL client tools for
# `driverhome backup` / `restore` (bookworm's pg_dump 15 matches the compose file's postgres:15).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml requirements.lock ./
COPY bot ./bot
COPY knowledge_base ./knowledge_base
COPY nlu ./nlu
COPY bench ./bench
COPY config.yml README.md ./
# torch first, from the CPU index, at the pin of pyproject.toml and requirements.lock; then the
# same install step as `make install` (pinned by requirements.lock, without the dev extra).
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" torch==2.13.0 \
 && pip install --no-cache-dir -c requirements.lock -e .
RUN HF_HUB_OFFLINE=0 python -c "from sentence_transformers import SentenceTransformer as S; S('${EMBEDDING_MODEL}')" \
 && useradd --create-home --uid 10001 driverhome \
 && mkdir -p /app/data && chown -R driverhome /app/data

ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
USER driverhome
VOLUME ["/app/data"]
# /healthz of the bot's HTTP server (server.port, default 8080): 200 when ok or degraded, 503 when
# the database or the index fails. Slim has no curl: Python's urllib (raises on 503).
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=8)"]
CMD ["driverhome", "run"]
