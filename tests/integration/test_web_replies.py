"""The replies inbox in the console (outreach/web/routes/replies.py): each reply's evidence,
strength and review flag, the needs-review filter, and an operator's correction through
outreach.replies.reclassify (reason required, CSRF, the operator role, events naming the
signed-in account) — on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, select

from outreach.models import Event, Inbound
from tests.integration.intake_kit import build_world, dsn, enrollment, inbound_rows, run, suppressed
from tests.web_kit import add_account, client, console, csrf_for, sign_in

INCONCLUSIVE = "550 5.2.1 The email account that you tried to reach is disabled."


def signed_in(db, name: str, role: str):  # type: ignore[no-untyped-def]
    add_account(db.engine, name, role)
    http = client(console(db.engine, db.url))
    assert sign_in(http, name).status_code == 303
    return http


def events(db, entity: str) -> list[Event]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return list(s.exec(select(Event).where(Event.entity == entity).order_by(Event.id)))


def test_the_inbox_shows_evidence_strength_and_the_review_flag(db) -> None:
    w = build_world(db.engine)
    run(db, dsn(w.a_email, "5.2.1", original_id=w.a_appeal, diagnostic=INCONCLUSIVE))
    run(db, dsn(w.b_email, "5.1.1", original_id=w.b_appeal))
    rows = inbound_rows(db)
    [flagged] = [r for r in rows if r.needs_review]
    [hard] = [r for r in rows if not r.needs_review]
    assert (flagged.strength, hard.strength) == ("inconclusive", "conclusive")
    reviewer = signed_in(db, "rita", "reviewer")
    page = reviewer.get("/replies")
    assert page.status_code == 200
    assert page.text.count('class="badge warn">needs review<') == 1
    assert "strength-inconclusive" in page.text and "strength-conclusive" in page.text
    assert "evidence" in page.text and "Diagnostic-Code" in page.text
    assert "/reclassify" not in page.text  # a reviewer gets no correction form
    only = reviewer.get("/replies?needs_review=1")
    assert f'id="reply-{flagged.id}"' in only.text and f'id="reply-{hard.id}"' not in only.text
    operator = signed_in(db, "olga", "operator")
    assert f'action="/replies/{hard.id}/reclassify"' in operator.get("/replies").text


def test_an_operator_corrects_a_wrong_hard_bounce(db) -> None:
    w = build_world(db.engine)
    run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    [row] = inbound_rows(db)
    assert row.classification == "bounce_hard" and suppressed(db) == {w.a_email: "bounce_hard"}
    olga = signed_in(db, "olga", "operator")
    done = olga.post(
        f"/replies/{row.id}/reclassify",
        data={
            "csrf": csrf_for(olga, "/replies"),
            "class": "bounce_soft",
            "reason": "the ministry says the address works",
        },
    )
    assert done.status_code == 303
    # the two letters the hard bounce had cancelled are planned again (back in review)
    notice = "done=reclassified&replanned=2&kept=0"
    assert done.headers["location"] == f"/replies?{notice}#reply-{row.id}"
    [stored] = inbound_rows(db)
    assert (stored.classification, stored.needs_review) == ("bounce_soft", False)
    assert suppressed(db) == {}  # the suppression the hard bounce put in place is lifted
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    [changed] = [e for e in events(db, "inbound") if e.action == "reclassified"]
    assert (changed.from_state, changed.to_state, changed.actor, changed.reason) == (
        "bounce_hard",
        "bounce_soft",
        "olga via web",
        "the ministry says the address works",
    )
    [lifted] = events(db, "suppression")
    assert (lifted.action, lifted.actor) == ("suppression_lifted", "olga via web")
    page = olga.get(f"/replies?{notice}").text
    assert "Reclassified" in page and "2 planned again" in page and "0 still cancelled" in page


def test_a_correction_needs_a_reason_the_operator_role_and_the_csrf_token(db) -> None:
    w = build_world(db.engine)
    run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    [row] = inbound_rows(db)
    url = f"/replies/{row.id}/reclassify"
    olga = signed_in(db, "olga", "operator")
    token = csrf_for(olga, "/replies")
    no_reason = olga.post(url, data={"csrf": token, "class": "human", "reason": " "})
    assert no_reason.status_code == 400 and "say why" in no_reason.text
    bad_class = olga.post(url, data={"csrf": token, "class": "oversize", "reason": "r"})
    assert bad_class.status_code == 400 and "not a class an operator can set" in bad_class.text
    missing = olga.post(
        "/replies/999999/reclassify", data={"csrf": token, "class": "human", "reason": "r"}
    )
    assert missing.status_code == 404
    assert olga.post(url, data={"class": "human", "reason": "r"}).status_code == 403
    rita = signed_in(db, "rita", "reviewer")
    refused = rita.post(
        url, data={"csrf": csrf_for(rita, "/replies"), "class": "human", "reason": "mine"}
    )
    assert refused.status_code == 403
    [stored] = inbound_rows(db)
    assert stored.classification == "bounce_hard" and suppressed(db) == {w.a_email: "bounce_hard"}
    with Session(db.engine) as s:
        assert s.get(Inbound, row.id).needs_review == row.needs_review
    assert [e.action for e in events(db, "inbound")] == ["received"]
