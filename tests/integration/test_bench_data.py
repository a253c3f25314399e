"""The benchmark input generators write well-formed files (contacts CSV, a replies mbox)."""

from __future__ import annotations

import mailbox

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
