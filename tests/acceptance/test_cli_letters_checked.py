"""PDF letters under the checks operators rely on: ``campaign load`` compiles a step's letter
template and reports a missing attachment together with every other problem of the file;
``templates check`` prints each step's letter as planning would (a typo in a letter template
fails there, naming file and line); and the letter counts down from the recipient's own date,
as the e-mail does."""

from __future__ import annotations

import io
import shutil

import pypdf
import sqlalchemy as sa

from outreach.attachments.listing import attachments_in
from tests.campaign_kit import SENDER, load_kit, write_kit
from tests.cli import REPO, run_cli

CAMPAIGN = (
    """slug = "letters"
name = "Letters abroad"
timezone = "America/New_York"
lookahead_days = 3
"""
    + SENDER
    + """
[sending]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:30"
end = "17:00"

[[milestones]]
key = "meeting"
title = "the meeting"
date = 2010-06-14

[[steps]]
key = "letter"
template = "l/mail"
letter = "l/letter"
attachments = ["files/facts.pdf"]
when = { milestone = "meeting", days_before = 43, at = "20:30" }
"""
)
MAIL = """{% block subject %}{{ milestones.meeting.days_until }} days{% endblock %}
{% block text %}
{{ milestones.meeting.days_until }} days to go (see {{ letter.filename }}).
{% endblock %}
"""
LETTER = """<!doctype html>
<html><body>
<p>Dear {{ contact.name }},</p>
<p>Letter countdown: {{ milestones.meeting.days_until }} days, today {{ today }}.</p>
</body></html>
"""
CONTACTS = "email,name,timezone\nhanoi@example.org,Hanoi reader,Asia/Ho_Chi_Minh\n"


def _kit(tmp_path, *, letter: str = LETTER, campaign: str = CAMPAIGN):
    kit = write_kit(
        tmp_path,
        campaigns={"letters.toml": campaign},
        templates={"l/mail.j2": MAIL, "l/letter.j2": letter},
        contacts=CONTACTS,
    )
    (kit.campaigns / "files").mkdir()
    facts = REPO / "config" / "campaigns" / "files" / "ccm-key-facts.pdf"
    shutil.copy(facts, kit.campaigns / "files" / "facts.pdf")
    return kit


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_campaign_load_refuses_a_letter_template_that_does_not_compile(db, tmp_path) -> None:
    kit = _kit(tmp_path, letter=LETTER.replace("{{ today }}", "{{ today }"))
    result = run_cli("campaign", "load", str(kit.campaigns), db_url=db.url, env=kit.env)
    assert result.returncode == 1, result.stdout
    assert "letters.toml: steps[0].letter:" in result.stderr
    assert "l/letter.j2, line 4" in result.stderr
    assert "Traceback" not in result.stderr
    assert _count(db.engine, "campaign") == 0


def test_campaign_load_reports_a_missing_attachment_with_every_other_problem(db, tmp_path) -> None:
    kit = _kit(tmp_path, campaign=CAMPAIGN.replace('slug = "letters"', 'slug = "Letters!"'))
    (kit.campaigns / "files" / "facts.pdf").unlink()
    result = run_cli("campaign", "load", str(kit.campaigns), db_url=db.url, env=kit.env)
    assert result.returncode == 1
    assert "2 problems in 1 campaign file(s); nothing was loaded" in result.stderr
    assert "letters.toml: slug: 'Letters!' is not a valid slug" in result.stderr
    assert "letters.toml: steps[0].attachments[0]: 'files/facts.pdf': no such file" in (
        result.stderr
    )
    assert _count(db.engine, "campaign") == 0


def test_templates_check_prints_the_letter_and_names_a_typo(db, tmp_path) -> None:
    kit = _kit(tmp_path)
    load_kit(db.url, kit)
    good = run_cli("templates", "check", db_url=db.url, env=kit.env)
    assert good.returncode == 0, good.stderr
    assert "2 template(s) OK (1 letter(s) rendered" in good.stdout
    (kit.templates / "l" / "letter.j2").write_text(
        LETTER.replace("contact.name", "contact.nam"), encoding="utf-8"
    )
    bad = run_cli("templates", "check", db_url=db.url, env=kit.env)
    assert bad.returncode == 1
    assert "letters/letter:" in bad.stderr
    assert "l/letter.j2, line 3: 'contact' has no attribute 'nam'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_pdf_letter_counts_down_from_the_recipients_date(db, tmp_path) -> None:
    kit = _kit(tmp_path)
    load_kit(db.url, kit)
    plan = run_cli("plan", "--now", "2010-04-30T12:00Z", db_url=db.url, env=kit.env)
    assert plan.returncode == 0, plan.stderr
    with db.engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT raw FROM message_body")).scalar_one()
    [pdf] = [a for a in attachments_in(bytes(raw)) if a.filename != "facts.pdf"]
    reader = pypdf.PdfReader(io.BytesIO(pdf.data))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    # Monday 08:30 in Hanoi is Sunday evening in New York: the reader's Monday, 42 days to go
    assert "Letter countdown: 42 days, today 2010-05-03." in text, text
    assert b"42 days to go" in bytes(raw)
