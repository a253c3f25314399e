"""The byte-joined message of the compose/plan ceilings parses back to what was given."""

from __future__ import annotations


def test_byte_joined_message_parses_back_to_what_was_given() -> None:
    from datetime import UTC, datetime
    from email import policy
    from email.parser import BytesParser

    from bench.rawmail import join_message

    raw = join_message(
        from_name="Bench Coalition",
        from_email="outreach@bench.example.org",
        to_name="Amina Okafor",
        to_email="delegate1@mission1.example.org",
        reply_to="outreach@bench.example.org",
        subject="100 days to go: Summit — a letter",
        date=datetime(2010, 4, 20, 7, 0, tzinfo=UTC),
        message_id="<bench1@bench.example.org>",
        text="Dear Ambassador,\nÀ bientôt.\n",
        html="<p>Dear Ambassador,</p>\n",
        extra_headers=(("X-Outreach-Step", "invitation"),),
    )
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    m = BytesParser(policy=policy.default).parsebytes(raw)
    assert m["Subject"] == "100 days to go: Summit — a letter"
    assert m["To"].addresses[0].addr_spec == "delegate1@mission1.example.org"
    assert m.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        "Dear Ambassador,\nÀ bientôt.\n"
    )
    assert "Dear Ambassador" in m.get_body(("html",)).get_content()
