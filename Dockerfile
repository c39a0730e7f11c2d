# kierto-bot: one image for polling or webhook mode (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEALTH_LISTEN=0.0.0.0:8080 \
    WEBHOOK_LISTEN=0.0.0.0:8080

RUN useradd --create-home --uid 1000 kierto
WORKDIR /app

# dependencies first, so code changes do not reinstall them
COPY pyproject.toml README.md ./
COPY bot/__init__.py bot/__init__.py
COPY dialogs/__init__.py dialogs/__init__.py
COPY knowledge/__init__.py knowledge/__init__.py
COPY locales/__init__.py locales/__init__.py
RUN pip install .  && pip uninstall -y kierto-bot

COPY . .
RUN pip install --no-deps -e . && mkdir -p /app/data && chown kierto /app/data
USER kierto

EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/livez', timeout=4)" || exit 1
CMD ["kierto-bot", "run"]
