"""A campaign file's letters and attachments: the ``[letters]`` table (PDF file name pattern,
signature, letterhead), each step's ``letter``, ``attachments`` and ``calendar``, and the
files they name, read once at load.

Pure apart from reading those files (as the template check looks for template files). A file
is named relative to the campaign file, must stay inside the campaign file's folder (no
absolute path, no ``..`` or symlink out of it), exist, be a regular file and weigh at most the
size cap (``OUTREACH_MAX_ATTACHMENT_BYTES``); its type is detected from its bytes and its
SHA-256 recorded, so that a change on disk is noticed (see :mod:`outreach.planner.assets`).
Errors are :class:`~outreach.errors.CampaignFileError` lines naming the file and the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outreach.attachments.filenames import pattern_problem
from outreach.attachments.sniff import sniff
from outreach.campaign_fields import FieldReader, kind_of
from outreach.spec import DEFAULT_LETTER_FILENAME, FileRef, LetterStyle, MilestoneSpec

#: The default size cap of one attached file (``OUTREACH_MAX_ATTACHMENT_BYTES``).
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp")


@dataclass(frozen=True)
class FileRules:
    """Where a campaign's files are (its file's folder; ``None``: the file names none) and
    how large one may be."""

    folder: Path | None
    max_bytes: int = DEFAULT_MAX_FILE_BYTES


def read_file_ref(p: FieldReader, value: Any, where: str, rules: FileRules) -> FileRef:
    """The file named by ``value`` (a path relative to the campaign file), read and checked."""
    written = p.string(value, where)
    if rules.folder is None:
        raise p.fail(where, "files can only be named in a campaign file loaded from disk")
    folder = rules.folder.resolve()
    if Path(written).is_absolute() or written.startswith(("/", "\\")):
        raise p.fail(where, f"{written!r} must be relative to the campaign file's folder")
    target = (folder / written).resolve()
    if not target.is_relative_to(folder):
        raise p.fail(where, f"{written!r} is outside the campaign file's folder {folder}")
    if not target.is_file():
        raise p.fail(where, f"{written!r}: no such file ({target})")
    size = target.stat().st_size
    if size > rules.max_bytes:
        raise p.fail(
            where,
            f"{written!r} is {size:,} bytes, over the cap of {rules.max_bytes:,} "
            "(OUTREACH_MAX_ATTACHMENT_BYTES)",
        )
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise p.fail(where, f"{written!r} cannot be read ({exc.strerror})") from None
    return FileRef(
        path=written,
        location=str(target),
        size=len(data),
        content_type=sniff(data, target.name).content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def parse_letters(p: FieldReader, value: Any, rules: FileRules) -> LetterStyle:
    """The ``[letters]`` table: ``filename`` (a pattern), ``signature`` and ``letterhead``
    (image files)."""
    table = p.table(value, "letters")
    p.keys(table, "letters", allowed={"filename", "signature", "letterhead"})
    pattern = DEFAULT_LETTER_FILENAME
    if "filename" in table:
        pattern = p.header_text(table["filename"], "letters.filename")
        problem = pattern_problem(pattern)
        if problem is not None:
            raise p.fail("letters.filename", problem)
    images = {}
    for key in ("signature", "letterhead"):
        if key in table:
            ref = read_file_ref(p, table[key], f"letters.{key}", rules)
            if ref.content_type not in _IMAGE_TYPES:
                raise p.fail(
                    f"letters.{key}",
                    f"{ref.path!r} is {ref.content_type}, not an image ({', '.join(_IMAGE_TYPES)})",
                )
            images[key] = ref
    return LetterStyle(
        filename=pattern,
        signature=images.get("signature"),
        letterhead=images.get("letterhead"),
        folder=str(rules.folder.resolve()) if rules.folder is not None else "",
    )


def parse_attachments(
    p: FieldReader, value: Any, where: str, rules: FileRules
) -> tuple[FileRef, ...]:
    """A step's ``attachments``: a list of file paths, each read and checked (one named twice
    is refused)."""
    if not isinstance(value, list):
        raise p.fail(where, f"must be a list of file paths, not {kind_of(value)}")
    refs: list[FileRef] = []
    for i, item in enumerate(value):
        ref = read_file_ref(p, item, f"{where}[{i}]", rules)
        if any(r.location == ref.location for r in refs):
            raise p.fail(f"{where}[{i}]", f"{ref.path!r} is attached twice")
        refs.append(ref)
    return tuple(refs)


def parse_calendar(
    p: FieldReader, value: Any, where: str, milestones: tuple[MilestoneSpec, ...]
) -> str:
    """A step's ``calendar``: the key of the milestone attached as a calendar event."""
    key = p.string(value, where)
    known = [m.key for m in milestones]
    if key not in known:
        raise p.fail(where, f"no milestone {key!r} (known: {', '.join(known) or 'none'})")
    return key


def file_refs_problem(refs: tuple[FileRef, ...]) -> str | None:
    """Why the files of one step cannot all go in one letter, or ``None``: the same attached
    name twice would leave a reader guessing which is which."""
    names = [Path(r.location).name for r in refs]
    for name in names:
        if names.count(name) > 1:
            return f"two attachments are called {name!r}"
    return None
