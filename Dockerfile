# outreach — the daemon and CLI in one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

# WeasyPrint (PDF letters) needs Pango; Noto fonts cover Vietnamese, Lao, French, Cyrillic
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY outreach ./outreach
RUN pip install . && useradd --system --home /app outreach
COPY templates ./templates
COPY config ./config

USER outreach
# OUTREACH_* variables configure everything (see README §Configuration)
ENV OUTREACH_TEMPLATES_DIR=/app/templates \
    OUTREACH_CAMPAIGNS_DIR=/app/config/campaigns \
    OUTREACH_LOG_FORMAT=json
ENTRYPOINT ["outreach"]
CMD ["daemon"]
