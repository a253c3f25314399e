"""Read raw inbound messages from files: ``.eml`` files, ``.mbox`` files and Maildir folders.

Streaming: one message's bytes in memory at a time (an mbox is indexed by offsets first, as
:class:`mailbox.mbox` does, then read message by message).
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from outreach.errors import IntakeError

_EML_SUFFIXES = frozenset({".eml"})
_MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})


def _kind(path: Path) -> str:
    """``"eml"``, ``"mbox"`` or ``"maildir"``; :class:`IntakeError` naming the path otherwise."""
    if not path.exists():
        raise IntakeError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return "maildir"
        raise IntakeError(f"{path}: a folder that is not a Maildir (no cur/ or new/ inside)")
    suffix = path.suffix.lower()
    if suffix in _EML_SUFFIXES:
        return "eml"
    if suffix in _MBOX_SUFFIXES:
        return "mbox"
    try:
        with path.open("rb") as fh:
            if fh.read(5) == b"From ":
                return "mbox"
    except OSError as exc:
        raise IntakeError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    raise IntakeError(f"{path}: not an .eml file, an .mbox file or a Maildir folder")


def iter_files(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(source_label, raw_bytes)`` for every message in ``paths``, in order.

    Every path is checked before anything is yielded, so a typo in the last path fails the
    whole call at once with :class:`IntakeError` naming it. Labels are the file path for an
    ``.eml``, ``PATH#N`` (1-based) for the N-th message of an mbox, and the message file's path
    for a Maildir. Maildir messages come from ``new/`` and ``cur/``, sorted by file name; nothing
    is moved, renamed or flagged. A read error later on raises :class:`IntakeError` with the path.
    """
    checked = [(Path(p), _kind(Path(p))) for p in paths]
    return _iterate(checked)


def _iterate(checked: list[tuple[Path, str]]) -> Iterator[tuple[str, bytes]]:
    for path, kind in checked:
        try:
            if kind == "eml":
                yield str(path), path.read_bytes()
            elif kind == "mbox":
                yield from _iter_mbox(path)
            else:
                yield from _iter_maildir(path)
        except OSError as exc:
            raise IntakeError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
        except mailbox.Error as exc:
            raise IntakeError(f"{path}: not a readable mailbox ({exc})") from exc


def _iter_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            yield f"{path}#{n}", box.get_bytes(key)
    finally:
        box.close()


def _iter_maildir(path: Path) -> Iterator[tuple[str, bytes]]:
    for sub in ("new", "cur"):
        folder = path / sub
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                yield str(entry), entry.read_bytes()
