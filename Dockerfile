# driverhome bot image: Python 3.11 slim, non-root, runs fully offline.
# The production Chinese embedding model is fetched here, at build time, never at run time.
FROM python:3.11-slim

ARG EMBEDDING_MODEL=BAAI/bge-small-zh-v1.5
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/opt/hf \
    DRIVERHOME_CONFIG=/app/config.yml

# A CJK font so the /report chart has Chinese labels.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml requirements.lock ./
COPY bot ./bot
COPY knowledge_base ./knowledge_base
COPY nlu ./nlu
COPY bench ./bench
COPY config.yml README.md ./
# Same install step as `make install` (pinned by requirements.lock; torch pinned to 2.13.0).
RUN pip install --no-cache-dir -c requirements.lock -e . \
 && HF_HUB_OFFLINE=0 python -c "from sentence_transformers import SentenceTransformer as S; S('${EMBEDDING_MODEL}')" \
 && useradd --create-home --uid 10001 driverhome \
 && mkdir -p /app/data && chown -R driverhome /app/data

ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
USER driverhome
VOLUME ["/app/data"]
HEALTHCHECK --interval=60s --timeout=20s --start-period=120s \
  CMD driverhome kb validate /app/knowledge_base/faq.yml > /dev/null || exit 1
CMD ["driverhome", "run"]
