"""Campaign values: the frozen types a validated campaign file becomes.

Pure: no I/O, no parser. :mod:`outreach.campaigns` builds these from TOML; the repository turns
them into rows and back; countdowns, planning and templating read them.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any

from outreach.errors import CampaignFileError

#: ``[sending] end = "24:00"``: the window runs until local midnight.
END_OF_DAY = time.max

WEEKDAYS: dict[str, int] = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}


@dataclass(frozen=True)
class SenderSpec:
    """Who the letters come from. ``email`` and ``reply_to`` are normalised addresses."""

    name: str
    email: str
    reply_to: str | None = None


@dataclass(frozen=True)
class SendingWindow:
    """When mail may leave, in the recipient's local time: on ``days`` (Mon=0 … Sun=6), from
    ``start`` (inclusive) to ``end`` (exclusive; :data:`END_OF_DAY` = until midnight)."""

    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(17, 0)
    daily_limit: int | None = None


@dataclass(frozen=True)
class MilestoneSpec:
    """A dated event the campaign counts down to; ``end`` for multi-day meetings."""

    key: str
    title: str
    date: date
    end: date | None = None
    location: str | None = None
    #: A timed event starts at ``time`` and ends at ``end_time`` (on ``end``, else ``date``)
    #: in ``timezone`` (None: the campaign's); without ``time`` it is an all-day event.
    time: time | None = None
    end_time: time | None = None
    timezone: str | None = None
    #: The milestone's revision: raised by each reload that changes it (the calendar
    #: event's SEQUENCE). 0 as read from a file.
    sequence: int = 0


@dataclass(frozen=True)
class MilestoneWhen:
    """Due ``days_before`` days before the milestone's date (negative: after it), at ``at``
    campaign-local (``None``: the send window's start)."""

    milestone: str
    days_before: int
    at: time | None = None

    @property
    def days_after(self) -> int:
        return -self.days_before


@dataclass(frozen=True)
class AfterWhen:
    """A follow-up: due ``days`` days after step ``after`` was sent to the same contact (and
    only if that contact has not replied)."""

    after: str
    days: int


@dataclass(frozen=True)
class DateWhen:
    """Due at a fixed moment, ``at`` being naive and local to the campaign's timezone."""

    at: datetime


When = MilestoneWhen | AfterWhen | DateWhen


@dataclass(frozen=True)
class FileRef:
    """A file a campaign file names (a static attachment, a signature, a letterhead) as it
    was when the campaign was loaded: ``path`` as written (relative to the campaign file),
    ``location`` the absolute path, its size, detected MIME type and SHA-256."""

    path: str
    location: str
    size: int
    content_type: str
    sha256: str


#: The default letter file name pattern (see :mod:`outreach.attachments.filenames`).
DEFAULT_LETTER_FILENAME = "{campaign}-{step}-{contact.organisation}.pdf"


@dataclass(frozen=True)
class LetterStyle:
    """The campaign's ``[letters]``: the PDF file name pattern, an optional signature image
    and letterhead, and ``folder``: the campaign file's folder (absolute), against which a
    letter's relative URLs resolve and outside of which a letter may read nothing."""

    filename: str = DEFAULT_LETTER_FILENAME
    signature: FileRef | None = None
    letterhead: FileRef | None = None
    folder: str = ""

    def files(self) -> tuple[FileRef, ...]:
        """The signature and letterhead, those given."""
        return tuple(f for f in (self.signature, self.letterhead) if f is not None)


@dataclass(frozen=True)
class StepSpec:
    """One letter of the campaign. ``position`` is its 0-based index in the file;
    ``audience_tags`` ``None`` means the campaign's audience unchanged. ``letter`` names the
    HTML template rendered to a PDF attachment, ``attachments`` the static files attached,
    ``calendar`` the milestone attached as a calendar event."""

    key: str
    template: str
    when: When
    audience_tags: tuple[str, ...] | None = None
    position: int = 0
    letter: str | None = None
    attachments: tuple[FileRef, ...] = ()
    calendar: str | None = None

    @property
    def encloses(self) -> bool:
        """Whether the step's letters carry attachments."""
        return bool(self.letter or self.attachments or self.calendar)


@dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign file. ``source_sha256`` is the SHA-256 of the UTF-8 text."""

    slug: str
    name: str
    timezone: str
    sender: SenderSpec
    sending: SendingWindow
    milestones: tuple[MilestoneSpec, ...]
    steps: tuple[StepSpec, ...]
    source_path: str
    source_sha256: str
    require_approval: bool = True
    approvals_required: int = 1
    lookahead_days: int = 3
    audience_tags: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    letters: LetterStyle = LetterStyle()

    def files(self) -> tuple[FileRef, ...]:
        """Every file the campaign names: the letters' signature and letterhead, then each
        step's attachments (a file named twice is listed once)."""
        seen: dict[str, FileRef] = {}
        for ref in (*self.letters.files(), *(f for s in self.steps for f in s.attachments)):
            seen.setdefault(ref.location, ref)
        return tuple(seen.values())

    def milestone(self, key: str) -> MilestoneSpec:
        """The milestone named ``key``; :class:`KeyError` when there is none."""
        for m in self.milestones:
            if m.key == key:
                return m
        raise KeyError(key)

    def step(self, key: str) -> StepSpec:
        """The step named ``key``; :class:`KeyError` when there is none."""
        for s in self.steps:
            if s.key == key:
                return s
        raise KeyError(key)


#: Names people use that the IANA database does not have, and the zone they mean. Geneva (and
#: every Swiss city) keeps Europe/Zurich's time; IANA never had a Europe/Geneva.
TIMEZONE_ALIASES: dict[str, str] = {"Europe/Geneva": "Europe/Zurich"}

_NOT_ZONES = {"localtime", "posixrules", "Factory"}


def canonical_timezone(name: str) -> str | None:
    """The IANA timezone ``name`` stands for (aliases in :data:`TIMEZONE_ALIASES` resolved),
    or ``None`` when this system's zoneinfo does not know it. Use it for contacts too."""
    name = TIMEZONE_ALIASES.get(name, name)
    if (
        not name
        or name != name.strip()
        or name.startswith(("/", ".", "posix/", "right/"))
        or "\\" in name
        or ".." in name
        or name in _NOT_ZONES
    ):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, UnicodeError):
        return None
    return name


def valid_timezone(name: str) -> bool:
    """True when ``name`` is an IANA timezone (or a known alias) this system can load."""
    return canonical_timezone(name) is not None


def step_order(spec: CampaignSpec) -> list[str]:
    """Step keys in an order where every follow-up comes after the step it follows; otherwise
    file order is kept. Relies on :func:`parse_campaign` having refused cycles."""
    by_key = {s.key: s for s in spec.steps}
    placed: set[str] = set()
    order: list[str] = []
    remaining = sorted(spec.steps, key=lambda s: s.position)
    while remaining:
        progressed = False
        for step in list(remaining):
            pred = step.when.after if isinstance(step.when, AfterWhen) else None
            if pred is None or pred in placed or pred not in by_key:
                order.append(step.key)
                placed.add(step.key)
                remaining.remove(step)
                progressed = True
                break  # restart from the earliest remaining step to keep file order stable
        if not progressed:
            raise CampaignFileError(
                f"{spec.source_path}: steps: cycle of after-steps among "
                f"{', '.join(s.key for s in remaining)}"
            )
    return order
