"""`outreach demo`: the whole pipeline on the sample campaign, offline, in seconds.

A fresh SQLite database in a folder, the in-process SMTP sink (:mod:`outreach.smtpsink`) writing
every message it receives to an ``.eml`` file, and a virtual calendar stepped day by day from
2010-04-20 to 2010-11-13 driving the very same plan / dispatch / reply-intake functions the
daemon uses. A reviewer named "demo" approves what planning queues (in real use, a person
does). Along the way a few replies are injected into the intake — human answers, an
out-of-office, a hard bounce, an unsubscribe — so follow-ups can be seen being cancelled.

``outreach demo --smtp-host HOST`` sends the same letters through a real SMTP server instead
(no TLS, no AUTH: a local sink such as the Mailpit of the compose file), so that they can be
read in its web interface; the server is tried first, and an unreachable one stops the demo
with one line before anything runs.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from outreach.clock import FixedClock
from outreach.daemon import Daemon
from outreach.db import Engine, create_engine, migrate, session_scope
from outreach.errors import DispatchError
from outreach.funnel import campaign_funnels
from outreach.models import Contact, Message
from outreach.operations.campaigns import campaign_audience, load_campaigns
from outreach.operations.contacts import import_contacts
from outreach.replies.intake import ingest
from outreach.repository.demo import anything_due, events_since, sent_letters
from outreach.review import approve_all
from outreach.settings import Settings, load_settings
from outreach.smtpsink.server import EmlFolder, SmtpSink

START = date(2010, 4, 20)
END = date(2010, 11, 13)
REVIEWER = "demo"
#: The base URL of the demo's (fictional) console: each letter gets its own one-click
#: unsubscribe link under it.
PUBLIC_URL = "https://outreach.example.org"


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def sample_paths(settings: Settings | None = None) -> tuple[Path, Path, Path]:
    """(campaign file, contacts CSV, templates dir): from the working directory when it has
    them, else from the source tree outreach was installed from."""
    for base in (Path.cwd(), _repo_root()):
        campaign = base / "config" / "campaigns" / "ccm-2010.toml"
        contacts = base / "config" / "contacts" / "ccm-2010-sample.csv"
        templates = base / "templates"
        if campaign.exists() and contacts.exists() and (templates / "ccm").is_dir():
            return campaign, contacts, templates
    raise FileNotFoundError("the sample campaign (config/campaigns/ccm-2010.toml) was not found")


@dataclass(frozen=True)
class InjectedReply:
    """A reply the demo feeds to the intake on ``day``: to the letter of ``step`` sent to the
    ``index``-th contact who received it."""

    day: date
    step: str
    index: int
    kind: str  # human | auto_reply | bounce_hard | unsubscribe


SCRIPT = (
    InjectedReply(date(2010, 4, 26), "appeal", 0, "human"),
    InjectedReply(date(2010, 4, 27), "appeal", 1, "auto_reply"),
    InjectedReply(date(2010, 4, 27), "appeal", 2, "bounce_hard"),
    InjectedReply(date(2010, 4, 28), "appeal", 3, "human"),
    InjectedReply(date(2010, 4, 29), "appeal", 4, "unsubscribe"),
    # after the follow-ups were queued (4 May) and before they leave (7 May): watch one go
    InjectedReply(date(2010, 5, 5), "appeal", 5, "human"),
    InjectedReply(date(2010, 5, 10), "appeal-follow-up", 0, "human"),
)


def build_reply(kind: str, *, to_message: Message, contact: Contact, when: datetime) -> bytes:
    """The raw bytes of a fictional reply of ``kind`` to ``to_message``."""
    msg = EmailMessage()
    msg["Message-ID"] = make_msgid(domain="replies.example.net")
    msg["Date"] = format_datetime(when)
    if kind == "bounce_hard":
        # a Postfix-style DSN (RFC 3464) naming the original Message-ID
        return (
            f"Message-ID: {msg['Message-ID']}\r\n"
            f"Date: {msg['Date']}\r\n"
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
            f"To: {to_message.envelope_from}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
            "\r\n--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is the mail system at host mx.example.net.\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
            f"<{contact.email}>: host mx.example.net said: 550 5.1.1 user unknown\r\n"
            "\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.net\r\n\r\n"
            f"Final-Recipient: rfc822; {contact.email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
            "\r\n--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Message-ID: {to_message.message_id}\r\nTo: {contact.email}\r\n"
            "\r\n--b1--\r\n"
        ).encode("ascii")
    msg["From"] = f"{contact.name} <{contact.email}>" if contact.name else contact.email
    msg["To"] = to_message.envelope_from or "outreach@example.org"
    msg["In-Reply-To"] = to_message.message_id
    msg["References"] = to_message.message_id
    if kind == "auto_reply":
        msg["Subject"] = f"Out of Office: {to_message.subject}"
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("I am out of the office until 10 May with limited access to email.\n")
    elif kind == "unsubscribe":
        msg["Subject"] = "unsubscribe"
        msg.set_content("Please remove this address from your mailing list.\n")
    else:
        msg["Subject"] = f"Re: {to_message.subject}"
        msg.set_content(
            "Thank you for your letter. The Ministry is reviewing the Convention and will "
            "inform you of its position before the First Meeting of States Parties.\n\n"
            f"On {format_datetime(to_message.sent_at or when)}, the Coalition wrote:\n> "
            + to_message.body.text[:200].replace("\n", "\n> ")
            + "\n"
        )
    return msg.as_bytes()


@dataclass
class DemoResult:
    folder: Path
    eml_count: int
    funnel: dict[str, int]
    injected: Counter[str] = field(default_factory=Counter)
    days_with_news: int = 0
    relay: str | None = None  #: ``host:port`` the letters went through (None: the .eml sink)
    database: Path | None = None
    ended_at: datetime | None = None


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC).replace(hour=hour)


def _fresh_folder(folder: Path | None) -> Path:
    """``folder`` (a new temporary folder by default), without a database from an earlier
    run."""
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="outreach-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / 'outreach.db'}{suffix}").unlink(missing_ok=True)
    return folder


def _demo_settings(db_path: Path, templates: Path, host: str, smtp_port: int) -> Settings:
    return load_settings(
        env={},
        database_url=f"sqlite:///{db_path}",
        templates_dir=templates,
        smtp_host=host,
        smtp_port=smtp_port,
        smtp_tls="none",
        smtp_concurrency=2,
        lease_seconds=600,
        public_url=PUBLIC_URL,
    )


@contextmanager
def _smtp_server(
    relay: tuple[str, int] | None, folder: Path
) -> Iterator[tuple[str, int, Callable[[], int] | None]]:
    """(host, port, how many it accepted) of where the demo sends: ``relay`` (a real SMTP
    server; the count is not known here), else the in-process sink writing ``.eml`` files."""
    if relay is not None:
        _probe(*relay)
        yield relay[0], relay[1], None
        return
    eml = EmlFolder(folder)
    with SmtpSink(server_hostname="demo.example.org", on_message=eml, record=False) as sink:
        yield "127.0.0.1", sink.port, lambda: sink.accepted


def _probe(host: str, port: int, timeout: float = 10.0) -> None:
    """Raise :class:`DispatchError` (one line) unless ``host:port`` accepts a connection."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise DispatchError(
            f"cannot reach the SMTP server at {host}:{port} ({exc.strerror or exc}); is it "
            "running? With Docker Compose: docker compose up -d"
        ) from None


def run_demo(
    folder: Path | None = None,
    *,
    echo: Callable[[str], None] = print,
    quiet: bool = False,
    relay: tuple[str, int] | None = None,
    until: date = END,
    review_until: date | None = None,
) -> DemoResult:
    """Run the demo in ``folder`` (a new temporary folder by default) from :data:`START` to
    ``until`` and return its result. With ``review_until``, the demo reviewer approves only
    what is planned before that day; later letters wait for a person (the console).

    With ``relay`` (host, port), the letters go through that SMTP server (no TLS, no AUTH:
    a local sink such as Mailpit) instead of the in-process one, and no ``.eml`` files are
    written."""

    say = (lambda _line: None) if quiet else echo
    folder = _fresh_folder(folder)
    db_path = folder / "outreach.db"
    campaign_file, contacts_csv, templates = sample_paths()
    clock = FixedClock(_at(START, 5))
    result = DemoResult(folder=folder / "sent", eml_count=0, funnel={})
    with _smtp_server(relay, result.folder) as (host, port, accepted):
        settings = _demo_settings(db_path, templates, host, port)
        engine = create_engine(settings.sqlalchemy_url)
        migrate(engine)
        load_campaigns(engine, campaign_file, settings=settings, now=clock.now(), actor="demo")
        imported = import_contacts(engine, contacts_csv, now=clock.now())
        with session_scope(engine) as session:
            audience = campaign_audience(session, slug="ccm-2010")
        say(f"outreach demo — database {db_path}")
        say(
            f"loaded campaign ccm-2010 and {imported.result.created if imported.result else 0} "
            "contacts"
        )
        say(audience.describe())
        say(f"simulating {START} … {until} day by day\n")
        _simulate(engine, settings, clock, result, say, until=until, review_until=review_until)
        with session_scope(engine) as session:
            funnels = campaign_funnels(session, now=clock.now())
        result.funnel = funnels[0].funnel if funnels else {}
        result.eml_count = accepted() if accepted is not None else result.funnel.get("sent", 0)
        result.database = db_path
        result.ended_at = clock.now()
        engine.dispose()
    say("\nfunnel: " + ", ".join(f"{k} {v}" for k, v in result.funnel.items() if v))
    if relay is not None:
        result.relay = f"{relay[0]}:{relay[1]}"
        say(f"{result.eml_count} message(s) sent through the SMTP server at {result.relay}")
    else:
        say(
            f"{result.eml_count} message(s) received by the demo SMTP server, written to "
            f"{result.folder}/"
        )
    return result


def _simulate(
    engine: Engine,
    settings: Settings,
    clock: FixedClock,
    result: DemoResult,
    say: Callable[[str], None],
    *,
    until: date,
    review_until: date | None,
) -> None:
    """Step the virtual calendar from :data:`START` to ``until``, saying what each day
    brought."""
    daemon = Daemon(engine, settings, clock=clock, instance="demo")
    last_event = 0
    day = START
    while day <= until:
        reviewing = review_until is None or day < review_until
        news = _plan_and_review(daemon, engine, clock, day, reviewing=reviewing)
        news += _inject_replies(engine, settings, clock, day, result)
        for hour in range(24):
            clock.set(_at(day, hour))
            with session_scope(engine) as session:
                due = anything_due(session, now=clock.now())
            if due:
                asyncio.run(daemon.dispatch_job())
        last_event, lines = _events_since(engine, last_event)
        news.extend(lines)
        if news:
            result.days_with_news += 1
            say(f"{day.isoformat()}  " + "\n            ".join(news))
        day += timedelta(days=1)


def _plan_and_review(
    daemon: Daemon, engine: Engine, clock: FixedClock, day: date, *, reviewing: bool = True
) -> list[str]:
    """Plan at 04:00 on ``day``; the demo reviewer approves everything queued (unless it has
    stopped ``reviewing``)."""
    clock.set(_at(day, 4))
    daemon.plan_job()
    if not reviewing:
        return []
    with session_scope(engine) as session:
        approved = approve_all(session, reviewer=REVIEWER, note="demo reviewer", now=clock.now())
    return [f"reviewer 'demo' approved {len(approved)} letter(s)"] if approved else []


def _inject_replies(
    engine: Engine, settings: Settings, clock: FixedClock, day: date, result: DemoResult
) -> list[str]:
    """Feed the intake the replies :data:`SCRIPT` has for ``day``."""
    news = []
    for script in (s for s in SCRIPT if s.day == day):
        scripted = _scripted_reply(engine, script, clock.now())
        if scripted is not None:
            who, raw = scripted
            ingest(engine, [(f"demo:{script.kind}", raw)], settings=settings, now=clock.now())
            result.injected[script.kind] += 1
            news.append(f"reply injected: {_KIND_TEXT[script.kind]} from {who}")
    return news


_KIND_TEXT = {
    "human": "a human answer",
    "auto_reply": "an out-of-office notice",
    "bounce_hard": "a hard bounce (550 5.1.1)",
    "unsubscribe": "an unsubscribe request",
}


def _scripted_reply(
    engine: Engine, script: InjectedReply, now: datetime
) -> tuple[str, bytes] | None:
    """(who replies, the reply's bytes) for ``script``; None when fewer letters were sent."""
    with session_scope(engine) as session:
        letters = sent_letters(session, step_key=script.step)
        if len(letters) <= script.index:
            return None
        message, contact = letters[script.index]
        return contact.email, build_reply(
            script.kind, to_message=message, contact=contact, when=now
        )


_NOTABLE = {
    "planned": "queued for review",
    "sent": "sent",
    "cancelled": "cancelled",
    "replied": "replied",
    "bounced": "bounced",
    "unsubscribed": "unsubscribed",
    "failed": "failed",
    "stale": "stale",
}


def _events_since(engine: Engine, last_id: int) -> tuple[int, list[str]]:
    """(the newest event id, lines saying what happened since ``last_id``): message events
    counted per step, enrollment events one line each."""
    with session_scope(engine) as session:
        rows = events_since(session, after_id=last_id)
    if not rows:
        return last_id, []
    counts: Counter[tuple[str, str]] = Counter()
    lines: list[str] = []
    for e, step_key, email in rows:
        if e.entity == "message" and e.action in _NOTABLE:
            counts[(_NOTABLE[e.action], step_key or "?")] += 1
        elif e.entity == "enrollment" and e.action in _NOTABLE:
            why = f" ({e.reason})" if e.reason and e.reason != e.action else ""
            lines.append(f"enrollment of {email or '?'}: {_NOTABLE[e.action]}{why}")
    summary = [
        f"{n} × {step}: {what}"
        for (what, step), n in sorted(counts.items(), key=lambda kv: kv[0][1])
    ]
    return rows[-1].event.id or last_id, summary + lines
