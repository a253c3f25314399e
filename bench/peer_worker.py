"""The peer's side of the bench: django-post-office, run by the interpreter of its own virtual
environment (``bench/.peer-venv``), never imported by outreach's. Stdlib, Django and
post_office only (no ``bench`` or ``outreach`` import).

    .venv-of-the-peer/bin/python bench/peer_worker.py setup SPEC_JSON
    .venv-of-the-peer/bin/python bench/peer_worker.py send SPEC_JSON

``setup`` migrates an empty database and queues one Email row per recipient of the content
file (``post_office.mail.send_many``, 1,000 per call; the queue is setup, not measured).
``send`` runs ``post_office.mail.send_queued_mail_until_done(lockfile, processes=P)``, exactly
what ``manage.py send_queued_mail -p P`` runs, with the package's defaults (5 threads per
process, batches of 100, log level 2: a Log row per sent email), and times it. Each prints
``RESULT {json}`` on its last line.

SPEC: ``db`` (``{"engine": "sqlite", "path": …}`` or ``{"engine": "postgresql", "name",
"user", "password", "host", "port"}``), ``smtp_port`` (a sink on 127.0.0.1, no TLS, no auth),
``content`` (setup: a JSON file with ``sender``, ``subject``, ``text``, ``html``,
``recipients``), ``processes`` and ``lockfile`` (send).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def configure(spec: dict[str, Any]) -> None:
    """Django settings for the peer: its app only, the SMTP backend to the sink, and SQLite
    with the pragmas outreach uses (WAL, synchronous=NORMAL, 30 s busy timeout)."""
    import django
    from django.conf import settings

    db = spec["db"]
    if db["engine"] == "sqlite":
        database = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": db["path"],
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                "timeout": 30,
            },
        }
    else:
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db["name"],
            "USER": db["user"],
            "PASSWORD": db.get("password") or "",
            "HOST": db["host"],
            "PORT": str(db["port"]),
        }
    settings.configure(
        SECRET_KEY="bench-only",
        DEBUG=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=["post_office"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        # post_office renders subject and bodies with Django templates even without an
        # EmailTemplate, so a template backend is required
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        DATABASES={"default": database},
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=int(spec["smtp_port"]),
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=60,
        POST_OFFICE={},
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"console": {"class": "logging.StreamHandler"}},
            "loggers": {"post_office": {"handlers": ["console"], "level": "WARNING"}},
        },
    )
    django.setup()


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection
    from post_office import mail
    from post_office.models import STATUS, Email

    with open(spec["content"], encoding="utf-8") as fh:
        content = json.load(fh)
    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for to in content["recipients"]:
        batch.append(
            {
                "recipients": [to],
                "sender": content["sender"],
                "subject": content["subject"],
                "message": content["text"],
                "html_message": content["html"],
                "priority": "medium",
            }
        )
        if len(batch) == 1000:
            mail.send_many(batch)
            batch = []
    if batch:
        mail.send_many(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as autovacuum would soon after (and as ours)
            cursor.execute("ANALYZE")
    elapsed = time.perf_counter() - t0
    queued = Email.objects.filter(status=STATUS.queued).count()
    first = Email.objects.order_by("id").first()
    size = len(first.prepare_email_message().message().as_bytes(linesep="\r\n")) if first else 0
    return {"queued": queued, "enqueue_s": elapsed, "message_bytes": size}


def send(spec: dict[str, Any]) -> dict[str, Any]:
    from django.db import connections
    from post_office import mail
    from post_office.models import STATUS, Email
    from post_office.settings import get_batch_size, get_log_level, get_threads_per_process

    queued = Email.objects.filter(status=STATUS.queued).count()
    connections.close_all()
    processes = int(spec["processes"])
    start = time.time()
    t0 = time.perf_counter()
    mail.send_queued_mail_until_done(spec["lockfile"], processes=processes)
    elapsed = time.perf_counter() - t0
    end = time.time()
    statuses = (
        ("sent", STATUS.sent),
        ("failed", STATUS.failed),
        ("queued", STATUS.queued),
        ("requeued", STATUS.requeued),
    )
    by_status = {label: Email.objects.filter(status=status).count() for label, status in statuses}
    return {
        "queued_before": queued,
        **by_status,
        "elapsed": elapsed,
        "start": start,
        "end": end,
        "processes": processes,
        "threads_per_process": get_threads_per_process(),
        "batch_size": get_batch_size(),
        "log_level": get_log_level(),
    }


def versions() -> dict[str, str]:
    from importlib import metadata

    return {name: metadata.version(name) for name in ("Django", "django-post-office", "psycopg")}


def main() -> None:
    action, spec = sys.argv[1], json.loads(sys.argv[2])
    configure(spec)
    result = setup(spec) if action == "setup" else send(spec)
    result["versions"] = versions()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
