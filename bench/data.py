"""Generated benchmark inputs: a one-step campaign file, a contacts CSV of any size, and an
mbox of replies to sent messages. Deterministic (seeded); every address is fictional
(``example.org``-style domains)."""

from __future__ import annotations

import csv
import random
import re
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = BENCH_DIR / "templates"
TEMPLATE = "bench/letter"
SLUG = "bench"
SENDER = "outreach@bench.example.org"

#: Planning runs at this moment; the step is due the same morning (09:00 Geneva).
PLAN_NOW = datetime(2010, 4, 20, 6, 0, tzinfo=UTC)
#: Dispatch runs later the same day (Geneva): nothing is stale, everything is due.
DISPATCH_NOW = datetime(2010, 4, 20, 15, 0, tzinfo=UTC)
SUMMIT = PLAN_NOW.date() + timedelta(days=100)

_TIMEZONES = ("Europe/Geneva", "America/New_York", "Asia/Bangkok", "Africa/Nairobi", "UTC")
_LANGUAGES = ("en", "en", "en", "fr", "es")
_SALUTATIONS = ("Ambassador", "Minister", "Director", "Counsellor", "")
_FIRST = ("Amina", "Bruno", "Chen", "Dara", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas")
_LAST = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Haddad", "Novak", "Silva", "Kowalski")
_FROM_LINE = re.compile(r"^(>*From )", re.MULTILINE)
_COUNTRIES = ("AT", "BR", "CL", "DE", "GH", "JP", "KE", "MX", "NO", "TH", "VN", "ZA")


#: The PDF letter template of the campaign variant with letters (``campaign_toml(letter=True)``).
LETTER_TEMPLATE = "bench/letter_pdf"


def campaign_toml(*, summit: date = SUMMIT, letter: bool = False) -> str:
    """The benchmark campaign: one step 100 days before the summit, auto-approved (so the
    planned messages are ready for dispatch), sending every day around the clock; with
    ``letter``, the step also attaches a PDF letter per contact."""
    supporters = ", ".join(
        f'"{s}"'
        for s in (
            "Austria",
            "Chile",
            "Ghana",
            "Japan",
            "Mexico",
            "Norway",
            "Zambia",
            "New Zealand",
        )
    )
    return f"""\
slug = "{SLUG}"
name = "Benchmark campaign"
timezone = "Europe/Geneva"
require_approval = false
lookahead_days = 3

[sender]
name = "Bench Coalition"
email = "{SENDER}"
reply_to = "{SENDER}"

[sending]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00"
end = "24:00"

[vars]
city = "Geneva"
member_countries = 84
website = "https://www.example.org/summit"
signer_name = "Mara Quenneville"
signer_title = "Director, Universalization Campaign"
supporters = [{supporters}]

[[milestones]]
key = "summit"
title = "second review summit of the convention"
date = {summit.isoformat()}
location = "Vientiane, Lao PDR"

[[steps]]
key = "invitation"
template = "{TEMPLATE}"
{f'letter = "{LETTER_TEMPLATE}"' if letter else ""}
when = {{ milestone = "summit", days_before = 100, at = "09:00" }}
"""


def write_campaign(folder: Path, *, letter: bool = False) -> Path:
    path = folder / f"{SLUG}.toml"
    path.write_text(campaign_toml(letter=letter), encoding="utf-8")
    return path


def contact_email(i: int) -> str:
    return f"delegate{i}@mission{i % 97}.example.org"


def write_contacts(path: Path, count: int, *, seed: int = 8) -> Path:
    """A contacts CSV with ``count`` rows (a custom ``city`` column, mixed languages and
    timezones)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "email",
                "name",
                "salutation",
                "title",
                "organisation",
                "country",
                "language",
                "timezone",
                "tags",
                "city",
            ]
        )
        for i in range(count):
            country = rng.choice(_COUNTRIES)
            w.writerow(
                [
                    contact_email(i),
                    f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                    rng.choice(_SALUTATIONS),
                    "Permanent Representative to the United Nations Office at Geneva",
                    f"Permanent Mission of {country}",
                    country,
                    rng.choice(_LANGUAGES),
                    rng.choice(_TIMEZONES),
                    "bench;delegates",
                    rng.choice(("Geneva", "New York", "Vienna", "")),
                ]
            )
    return path


# -- replies -------------------------------------------------------------------------------------


def _human(i: int, to: str, frm: str, msgid: str, when: datetime) -> str:
    return (
        f"From: {frm}\nTo: {to}\nSubject: Re: your letter\nDate: {format_datetime(when)}\n"
        f"Message-ID: <reply{i}@mission.example.org>\nIn-Reply-To: {msgid}\n"
        f"References: {msgid}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
        f"Dear colleagues,\n\nThank you for your letter. Our delegation will attend; we would\n"
        f"be glad to meet before the summit.\n\nBest regards\n\n"
        f"> In {i % 100} days the second review summit opens.\n> We write on behalf of ...\n"
    )


def _ooo(i: int, to: str, frm: str, msgid: str, when: datetime) -> str:
    return (
        f"From: {frm}\nTo: {to}\nSubject: Automatic reply: your letter\n"
        f"Date: {format_datetime(when)}\nMessage-ID: <auto{i}@mission.example.org>\n"
        f"In-Reply-To: {msgid}\nReferences: {msgid}\nAuto-Submitted: auto-replied\n"
        f"X-Autoreply: yes\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
        f"I am out of the office until 3 May with limited access to e-mail.\n"
    )


def _dsn(i: int, to: str, rcpt: str, msgid: str, when: datetime) -> str:
    boundary = f"dsn-{i}"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@relay.example.net>\nTo: {to}\n"
        f"Subject: Undelivered Mail Returned to Sender\nDate: {format_datetime(when)}\n"
        f"Message-ID: <dsn{i}@relay.example.net>\nAuto-Submitted: auto-replied\n"
        f"MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\n\n"
        f"--{boundary}\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; relay.example.net\n\nFinal-Recipient: rfc822; {rcpt}\n"
        f"Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n"
        f"--{boundary}\nContent-Type: text/rfc822-headers\n\n"
        f"From: {to}\nTo: {rcpt}\nSubject: your letter\nMessage-ID: {msgid}\n\n"
        f"--{boundary}--\n"
    )


def write_replies_mbox(
    path: Path, sent: list[tuple[str, str]], count: int, *, seed: int = 8
) -> dict[str, int]:
    """An mbox of ``count`` messages answering ``sent`` ((Message-ID, recipient) pairs):
    about 60 % human replies, 25 % out-of-office, 15 % DSNs (hard bounces). Returns the mix."""
    rng = random.Random(seed)
    mix = {"human": 0, "auto": 0, "dsn": 0}
    base = datetime(2010, 4, 21, 8, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for i in range(count):
            msgid, rcpt = sent[i % len(sent)]
            when = base + timedelta(seconds=i)
            roll = rng.random()
            if roll < 0.60:
                kind, body = "human", _human(i, SENDER, rcpt, msgid, when)
                envelope = rcpt
            elif roll < 0.85:
                kind, body = "auto", _ooo(i, SENDER, rcpt, msgid, when)
                envelope = rcpt
            else:
                kind, body = "dsn", _dsn(i, SENDER, rcpt, msgid, when)
                envelope = "MAILER-DAEMON"
            mix[kind] += 1
            stamp = when.strftime("%a %b %d %H:%M:%S %Y")
            # mboxrd: a line starting with "From " (after any ">") gets one more ">"
            body = _FROM_LINE.sub(r">\1", body)
            fh.write(f"From {envelope} {stamp}\n{body}\n")
    return mix
