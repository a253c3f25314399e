"""The file sources of reply intake: .eml files, mbox and Maildir folders, read from disk."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from outreach.errors import IntakeError
from outreach.replies.parse import parse_inbound
from outreach.replies.sources import iter_files


def test_iter_files_eml_mbox_and_maildir(tmp_path: Path) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(b"Message-ID: <1@example.net>\r\n\r\nbody one\r\n")
    mbox_path = tmp_path / "box.mbox"
    box = mailbox.mbox(mbox_path)
    box.add(b"Message-ID: <2@example.net>\n\nbody two\n")
    box.add(b"Message-ID: <3@example.net>\n\nbody three\n")
    box.close()
    md = mailbox.Maildir(tmp_path / "Maildir")
    md.add(b"Message-ID: <4@example.net>\n\nbody four\n")
    md.close()
    out = list(iter_files([eml, mbox_path, tmp_path / "Maildir"]))
    ids = [parse_inbound(raw).message_id for _, raw in out]
    assert ids == ["<1@example.net>", "<2@example.net>", "<3@example.net>", "<4@example.net>"]
    assert out[0][0] == str(eml)
    assert out[1][0] == f"{mbox_path}#1" and out[2][0] == f"{mbox_path}#2"
    assert out[3][0].startswith(str(tmp_path / "Maildir" / "new"))
    assert not out[1][1].startswith(b"From ")  # the mbox separator line is not part of it


def test_iter_files_rejects_bad_paths_before_yielding(tmp_path: Path) -> None:
    good = tmp_path / "ok.eml"
    good.write_bytes(b"Subject: x\r\n\r\n")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(IntakeError, match=r"missing\.eml: no such file"):
        iter_files([good, tmp_path / "missing.eml"])
    with pytest.raises(IntakeError, match=r"notes\.txt: not an \.eml file"):
        iter_files([other])
    (tmp_path / "plain-dir").mkdir()
    with pytest.raises(IntakeError, match="plain-dir: a folder that is not a Maildir"):
        iter_files([tmp_path / "plain-dir"])


def test_iter_files_streams_a_large_mbox(tmp_path: Path) -> None:
    path = tmp_path / "big.mbox"
    with path.open("wb") as fh:
        for i in range(2000):
            fh.write(b"From sender@example.net Fri Apr 23 09:00:00 2010\n")
            fh.write(b"Message-ID: <%d@example.net>\n\nbody %d\n\n" % (i, i))
    it = iter_files([path])
    first = next(it)
    assert first[0] == f"{path}#1"
    assert sum(1 for _ in it) == 1999
