"""The benchmark input generators write well-formed files (contacts CSV, a replies mbox)."""

from __future__ import annotations

import mailbox

import pytest

from bench import data


def test_generated_inputs_are_well_formed(tmp_path) -> None:
    csv_path = data.write_contacts(tmp_path / "c.csv", 5)
    assert len(csv_path.read_text(encoding="utf-8").splitlines()) == 6
    sent = [
        ("<m1@bench.example.org>", "a@x.example.org"),
        ("<m2@bench.example.org>", "b@x.example.org"),
    ]
    mix = data.write_replies_mbox(tmp_path / "r.mbox", sent, 40)
    assert sum(mix.values()) == 40 and all(mix.values())
    box = mailbox.mbox(str(tmp_path / "r.mbox"), create=False)
    messages = list(box)
    box.close()
    assert len(messages) == 40
    assert all(
        m["In-Reply-To"] in {s[0] for s in sent} or "delivery-status" in m["Content-Type"]
        for m in messages
    )


@pytest.mark.parametrize("shares", [1, 2, 3, 7])
def test_mbox_shares_split_every_message_once(tmp_path, shares: int) -> None:
    from email.parser import BytesHeaderParser

    from bench.rawmail import header_row, mbox_share

    sent = [(f"<m{i}@bench.example.org>", f"d{i}@x.example.org") for i in range(5)]
    data.write_replies_mbox(tmp_path / "r.mbox", sent, 30)
    blob = (tmp_path / "r.mbox").read_bytes()
    messages = [m for i in range(shares) for m in mbox_share(blob, i, shares)]
    assert len(messages) == 30 and not any(m.startswith(b"From ") for m in messages)
    parser = BytesHeaderParser()
    rows = [header_row(m, parser) for m in messages]
    assert len({r["sha256"] for r in rows}) == 30
    assert all(r["in_reply_to"] in {s[0] for s in sent} or r["content_type"] for r in rows)
