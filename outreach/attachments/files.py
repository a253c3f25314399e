"""The files a campaign names, as they are on disk now: their current digest (to notice a
change) and their bytes for a letter, checked against the digest recorded when the campaign
was loaded. Small per-process caches keep a file from being hashed or read again for every
letter of a planning pass.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

from outreach.attachments.sniff import sniff
from outreach.errors import AttachmentError
from outreach.spec import FileRef

#: Bytes of attached files kept in memory per process, at most.
_CACHE_BYTES = 64 * 1024 * 1024
_contents: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_digests: dict[str, tuple[tuple[int, int, int], FileRef]] = {}


def current_ref(ref: FileRef) -> FileRef | None:
    """``ref``'s file as it is on disk now (size, type, SHA-256; re-hashed only when its
    size, modification time or inode changed), or ``None`` when it is gone or unreadable."""
    try:
        stat = os.stat(ref.location)
    except OSError:
        return None
    key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    cached = _digests.get(ref.location)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        data = Path(ref.location).read_bytes()
    except OSError:
        return None
    fresh = FileRef(
        path=ref.path,
        location=ref.location,
        size=len(data),
        content_type=sniff(data, Path(ref.location).name).content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    _digests[ref.location] = (key, fresh)
    return fresh


def changed_files(refs: tuple[FileRef, ...]) -> dict[str, FileRef]:
    """The files of ``refs`` whose content on disk differs from the recorded one, by
    location, as they are now (a file that is gone is left out: letters that need it fail
    with :func:`read_file`'s error instead)."""
    out: dict[str, FileRef] = {}
    for ref in refs:
        now = current_ref(ref)
        if now is not None and now.sha256 != ref.sha256:
            out[ref.location] = now
    return out


def read_file(ref: FileRef) -> bytes:
    """The bytes of ``ref``'s file, which must still be what was recorded; else
    :class:`AttachmentError` (gone, unreadable or changed since the campaign was loaded)."""
    key = (ref.location, ref.sha256)
    data = _contents.get(key)
    if data is not None:
        _contents.move_to_end(key)
        return data
    try:
        data = Path(ref.location).read_bytes()
    except OSError as exc:
        raise AttachmentError(f"{ref.path}: cannot be read ({exc.strerror})") from None
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        raise AttachmentError(
            f"{ref.path}: changed on disk since the campaign was loaded; the next planning "
            "pass (or outreach campaign load) takes the new version"
        )
    _contents[key] = data
    while sum(len(v) for v in _contents.values()) > _CACHE_BYTES and len(_contents) > 1:
        _contents.popitem(last=False)
    return data
