# One image for both intent processes: `intent server` and `intent worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    INTENT_DATA_DIR=/var/lib/intent

RUN useradd --system --home-dir /var/lib/intent --create-home intent \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin intent-provider
WORKDIR /opt/intent
COPY pyproject.toml README.md ./
COPY server.py worker.py settings.py ./
COPY access ./access
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY providers ./providers
COPY policies ./policies
COPY store ./store
COPY cli ./cli
COPY observability ./observability
RUN pip install '.[otel]'

USER intent
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["intent", "server", "--host", "0.0.0.0"]
