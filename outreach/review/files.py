"""What a letter carries, for its reviewers: its attachments listed from the stored bytes
(name, type, size, SHA-256), written out to a folder (``review show ID --save-attachments
DIR``), one of them for a download (the console), and the first page of its PDF as a picture
(the console's preview).

Everything is read from the stored bytes — what leaves — never re-rendered.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from outreach.attachments.filenames import safe_filename
from outreach.attachments.listing import attachments_in
from outreach.attachments.preview import first_page_png
from outreach.compose.attachments import Attachment
from outreach.db import Session
from outreach.errors import NotFoundError, ReviewError
from outreach.repository import review as rows


def _stored(session: Session, message_id: int) -> tuple[Attachment, ...]:
    message = rows.get_message(session, message_id=message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    return attachments_in(message.body.raw)


def save_names(attachments: tuple[Attachment, ...]) -> list[str]:
    """A safe, distinct file name for each attachment (``name (2).pdf`` for a repeat)."""
    names: list[str] = []
    for att in attachments:
        name = safe_filename(att.filename)
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        n = 1
        while name.lower() in (x.lower() for x in names):
            n += 1
            name = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        names.append(name)
    return names


def save_attachments(
    session: Session, message_id: int, folder: Path, *, force: bool = False
) -> list[Path]:
    """Write the attachments of message ``message_id`` into ``folder`` (created if needed),
    each under a safe name of its own (never a path: no traversal); returns the files
    written. A file already there is refused (:class:`ReviewError`, nothing written) unless
    ``force``, which replaces it (a symlink is replaced, not followed)."""
    attachments = _stored(session, message_id)
    if not attachments:
        return []
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReviewError(f"{folder}: cannot create the folder ({exc.strerror})") from None
    targets = [folder / name for name in save_names(attachments)]
    if not force:
        taken = [str(t) for t in targets if t.exists() or t.is_symlink()]
        if taken:
            raise ReviewError(f"{', '.join(taken)} already exist(s); add --force to replace")
    for target, att in zip(targets, attachments, strict=True):
        _write(target, att.data, replace=force)
    return targets


def _write(target: Path, data: bytes, *, replace: bool) -> None:
    try:
        if not replace:
            with open(target, "xb") as out:
                out.write(data)
            return
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".outreach-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise ReviewError(f"{target}: cannot be written ({exc.strerror})") from None


@dataclass(frozen=True)
class AttachmentFile:
    """One attachment to hand out: a safe file name (as :func:`save_attachments` would write
    it), its MIME type and its exact bytes."""

    name: str
    content_type: str
    data: bytes


def attachment_file(session: Session, message_id: int, *, index: int) -> AttachmentFile:
    """Attachment number ``index`` (0-based, in the order ``review show`` lists them) of
    message ``message_id``, read from the stored bytes. Raises :class:`NotFoundError` for a
    missing message or attachment."""
    attachments = _stored(session, message_id)
    if not 0 <= index < len(attachments):
        raise NotFoundError(f"message {message_id} has no attachment {index + 1}")
    att = attachments[index]
    return AttachmentFile(save_names(attachments)[index], att.content_type, att.data)


def pdf_preview(session: Session, message_id: int, *, width: int = 800) -> bytes:
    """The first page of the first PDF the message ``message_id`` carries, as PNG bytes
    ``width`` pixels wide. Raises :class:`NotFoundError` when it carries no PDF."""
    for att in _stored(session, message_id):
        if att.content_type == "application/pdf":
            return first_page_png(att.data, width=width)
    raise NotFoundError(f"message {message_id} carries no PDF")
