"""``outreach templates check`` renders every active step's template and language variant with
the campaign's real context and a contact carrying every column of the loaded contacts, under
the planner's strict sandbox: a typo or a sandbox violation fails there, naming file and line,
not first at ``plan``. ``campaign load`` refuses a template that does not compile."""

from __future__ import annotations

import sqlalchemy as sa

from tests.campaign_kit import SENDER, load_kit, write_kit
from tests.cli import run_cli

CAMPAIGN = (
    """slug = "check"
name = "Template check"
timezone = "Europe/Zurich"

[vars]
signatories = 106
"""
    + SENDER
    + """
[[milestones]]
key = "eif"
title = "entry into force"
date = 2010-08-01

[[steps]]
key = "appeal"
template = "c/appeal"
when = { milestone = "eif", days_before = 100 }

[[steps]]
key = "follow-up"
template = "c/follow_up"
when = { after = "appeal", days = 14 }
"""
)
GOOD = """{% block subject %}{{ milestones.eif.days_until }} days{% endblock %}
{% block text %}
Dear {{ contact.salutation or contact.name }} ({{ contact.country }}, {{ contact.fields.mission_city }}),
{{ campaign.vars.signatories }} States have signed; {{ milestones.eif.weeks_until }} weeks to go.
{% endblock %}
"""
CONTACTS = (
    "email,name,salutation,country,language,mission_city\n"
    "ann@example.org,Ann,Minister,CH,fr,Geneva\n"
    "bob@example.org,Bob,,FR,,\n"
)


def _load(db, tmp_path, templates: dict[str, str], contacts: str = CONTACTS) -> dict[str, str]:
    kit = write_kit(
        tmp_path, campaigns={"check.toml": CAMPAIGN}, templates=templates, contacts=contacts
    )
    load_kit(db.url, kit)
    return kit.env


def _good(**overrides: str) -> dict[str, str]:
    files = {"c/appeal.j2": GOOD, "c/appeal.fr.j2": GOOD, "c/follow_up.j2": GOOD}
    files.update(overrides)
    return files


def test_good_templates_pass_with_the_contacts_custom_columns(db, tmp_path) -> None:
    env = _load(db, tmp_path, _good())
    result = run_cli("templates", "check", db_url=db.url, env=env)
    assert result.returncode == 0, result.stderr
    assert "2 template(s) OK" in result.stdout


def test_a_misspelt_attribute_fails_naming_file_and_line(db, tmp_path) -> None:
    typo = GOOD.replace("contact.country", "contact.countyr")
    env = _load(db, tmp_path, _good(**{"c/appeal.fr.j2": typo}))
    result = run_cli("templates", "check", db_url=db.url, env=env)
    assert result.returncode == 1
    assert "c/appeal.fr.j2, line 3: 'contact' has no attribute 'countyr'" in result.stderr
    assert "c/appeal.j2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_misspelt_name_in_a_follow_up_fails(db, tmp_path) -> None:
    typo = GOOD.replace("contact.salutation or contact.name", "contact.nam")
    env = _load(db, tmp_path, _good(**{"c/follow_up.j2": typo}))
    result = run_cli("templates", "check", db_url=db.url, env=env)
    assert result.returncode == 1
    assert "c/follow_up.j2, line 3: 'contact' has no attribute 'nam'" in result.stderr


def test_a_sandbox_violation_fails_the_check(db, tmp_path) -> None:
    escape = GOOD.replace("{{ campaign.vars.signatories }}", "{{ ''.__class__.__mro__ }}")
    env = _load(db, tmp_path, _good(**{"c/appeal.j2": escape}))
    result = run_cli("templates", "check", db_url=db.url, env=env)
    assert result.returncode == 1
    assert "c/appeal.j2, line 4:" in result.stderr and "unsafe" in result.stderr


def test_a_custom_column_no_contact_has_fails(db, tmp_path) -> None:
    env = _load(db, tmp_path, _good(), contacts="email,name\nann@example.org,Ann\n")
    result = run_cli("templates", "check", db_url=db.url, env=env)
    assert result.returncode == 1
    assert "'contact.fields' has no attribute 'mission_city'" in result.stderr


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("campaign", "step", "event")
        }


def test_campaign_load_refuses_a_template_syntax_error(db, tmp_path) -> None:
    broken = GOOD.replace("{{ campaign.vars.signatories }}", "{{ campaign.vars.signatories }")
    kit = write_kit(
        tmp_path, campaigns={"check.toml": CAMPAIGN}, templates=_good(**{"c/appeal.fr.j2": broken})
    )
    before = _counts(db.engine)
    result = run_cli("campaign", "load", str(kit.campaigns), db_url=db.url, env=kit.env)
    assert result.returncode == 1, result.stdout
    assert "steps[0].template" in result.stderr
    assert "c/appeal.fr.j2, line 4" in result.stderr
    assert "Traceback" not in result.stderr
    assert "unchanged" not in result.stdout and "created" not in result.stdout
    assert _counts(db.engine) == before
