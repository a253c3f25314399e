# outreach — the daemon and the CLI in one image, run as the unprivileged user `outreach`.
#   docker build -t outreach .          (docker compose builds it: see docker-compose.yml)
# /data is its writable data folder: the SQLite database when no PostgreSQL is configured,
# backups (outreach backup /data/…), the erasure key. /app holds the sample campaign, its
# letters and contacts (docker compose mounts the host's folders over them).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

# WeasyPrint (PDF letters) needs Pango; Noto fonts cover Vietnamese, Lao, French, Cyrillic;
# nano is the editor `outreach review edit` opens (EDITOR below)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core nano \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY outreach ./outreach
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home outreach \
    && install -d -o outreach -g outreach -m 0750 /data
COPY templates ./templates
COPY config ./config

VOLUME ["/data"]
USER outreach
# OUTREACH_* variables configure everything (docs/settings.md)
ENV HOME=/data \
    EDITOR=nano \
    OUTREACH_DATABASE_URL=sqlite:////data/outreach.db \
    OUTREACH_ERASURE_KEY_FILE=/data/erasure.key \
    OUTREACH_TEMPLATES_DIR=/app/templates \
    OUTREACH_CAMPAIGNS_DIR=/app/config/campaigns \
    OUTREACH_LOG_FORMAT=json
# `outreach web` (the console) listens on 8080; the daemon's /healthz and /metrics on
# OUTREACH_METRICS_PORT when set
EXPOSE 8080
ENTRYPOINT ["outreach"]
CMD ["daemon"]
