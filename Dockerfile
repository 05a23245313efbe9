# One container: dashboard, JSON API and the MTProto layer in one process.
# Without MONGO_URI it runs the embedded database with its files in /data (see compose.yaml for MongoDB).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data \
    NICEGUI_STORAGE_PATH=/data/sessions

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin parsegram \
    && mkdir -p /data && chown parsegram:parsegram /data

WORKDIR /srv/parsegram
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .

USER parsegram
VOLUME ["/data"]
EXPOSE 4000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '4000'), timeout=4)"

CMD ["parsegram"]
