"""``outreach campaign load`` as an operator meets it: every problem of every file in one run
(still all-or-nothing), and a warning — not silence — for steps whose dates are past, which
``templates preview`` and ``plan`` treat the same way."""

from __future__ import annotations

import sqlalchemy as sa

from tests.campaign_kit import SENDER, load_kit, write_kit
from tests.cli import run_cli

GOOD = (
    """slug = "good"
name = "Good"
timezone = "Europe/Zurich"
"""
    + SENDER
    + """
[[milestones]]
key = "eif"
title = "entry into force"
date = 2010-08-01

[[steps]]
key = "appeal"
template = "c/letter"
when = { milestone = "eif", days_before = 100, at = "09:00" }

[[steps]]
key = "reminder"
template = "c/letter"
when = { milestone = "eif", days_before = 10 }

[[steps]]
key = "follow-up"
template = "c/letter"
when = { after = "appeal", days = 14 }
"""
)
LETTER = """{% block subject %}{{ milestones.eif.days_until }} days{% endblock %}
{% block text %}
{{ milestones.eif.days_until }} days until {{ milestones.eif.title }}.
{% endblock %}
"""


def _campaigns(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM campaign")).scalar()


def test_every_problem_in_every_file_in_one_run(db, tmp_path) -> None:
    two_problems = (
        GOOD.replace('"good"', '"two"')
        .replace("Europe/Zurich", "Europe/Genf")
        .replace("outreach@example.org", "outreach@@example.org")
    )
    template_and_step = (
        GOOD.replace('"good"', '"three"')
        .replace(
            'template = "c/letter"\nwhen = { milestone = "eif", days_before = 10 }',
            'template = "c/broken"\nwhen = { milestone = "eif", days_before = 10 }',
        )
        .replace('when = { after = "appeal", days = 14 }', 'when = { after = "appeal", days = -1 }')
    )
    kit = write_kit(
        tmp_path,
        campaigns={"a.toml": GOOD, "b.toml": two_problems, "c.toml": template_and_step},
        templates={"c/letter.j2": LETTER, "c/broken.j2": LETTER.replace("}}.", "}.")},
    )
    result = run_cli("campaign", "load", str(kit.campaigns), db_url=db.url, env=kit.env)
    assert result.returncode == 1, result.stdout
    err = result.stderr
    assert "Traceback" not in err
    assert err.startswith("error: 4 problems in 2 campaign file(s); nothing was loaded:")
    assert "b.toml: timezone: unknown IANA timezone 'Europe/Genf'" in err
    assert "b.toml: sender.email:" in err
    assert "c.toml: steps[2].when.days: must be 0 or more" in err
    assert "c.toml: steps[1].template: c/broken.j2, line 3" in err
    assert "a.toml" not in err
    assert _campaigns(db.engine) == 0


def _good_kit(tmp_path):
    return write_kit(tmp_path, campaigns={"good.toml": GOOD}, templates={"c/letter.j2": LETTER})


def test_load_warns_about_steps_whose_dates_are_past(db, tmp_path) -> None:
    kit = _good_kit(tmp_path)
    result = run_cli(
        "campaign",
        "load",
        str(kit.campaigns),
        "--now",
        "2010-07-01T12:00Z",
        db_url=db.url,
        env=kit.env,
    )
    assert result.returncode == 0, result.stderr
    assert "good: created" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: good: step 'appeal' was due 2010-04-23 09:00 (Europe/Zurich), 69 days ago: "
        "it is past and will not be planned (more than 3 days overdue)"
    ], result.stderr
    quiet = run_cli(
        "campaign",
        "load",
        str(kit.campaigns),
        "--now",
        "2010-04-20T12:00Z",
        db_url=db.url,
        env=kit.env,
    )
    assert quiet.returncode == 0 and "warning" not in quiet.stderr, quiet.stderr


def test_preview_of_a_past_step_says_it_is_past(db, tmp_path) -> None:
    kit = _good_kit(tmp_path)
    load_kit(db.url, kit)
    args = ("templates", "preview", "--campaign", "good", "--contact", "ann@example.org")
    past = run_cli(
        *args, "--step", "appeal", "--now", "2011-01-14T12:00Z", db_url=db.url, env=kit.env
    )
    assert past.returncode == 1
    assert "days until" not in past.stdout and "-" not in past.stdout
    assert past.stderr.startswith(
        "error: good: step 'appeal' was due 2010-04-23 09:00 (Europe/Zurich), 266 days ago: "
        "it is past and will not be planned"
    ), past.stderr
    assert "--now" in past.stderr  # how to see it anyway
    plan = run_cli("plan", "--now", "2011-01-14T12:00Z", db_url=db.url, env=kit.env)
    assert "not queued: more than the lookahead overdue" in plan.stdout
    ahead = run_cli(
        *args, "--step", "appeal", "--now", "2010-04-20T12:00Z", db_url=db.url, env=kit.env
    )
    assert ahead.returncode == 0 and "100 days until" in ahead.stdout
