"""Campaign files: one good file parsed fully, every malformed fixture refused in one line
naming the file and the key."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date, datetime, time
from pathlib import Path

import pytest

from outreach.campaigns import load_campaign_path, parse_campaign
from outreach.errors import CampaignFileError
from outreach.spec import (
    END_OF_DAY,
    AfterWhen,
    DateWhen,
    MilestoneWhen,
    SendingWindow,
    canonical_timezone,
    step_order,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAMPAIGNS = FIXTURES / "campaigns"
BAD = CAMPAIGNS / "bad"
TEMPLATES = FIXTURES / "templates"

# fixture name -> (the key the message must name, words that say what is wrong)
BAD_FILES: dict[str, tuple[str, str]] = {
    "syntax_error": ("TOML syntax error", "line 2"),
    "unknown_top_key": ("send_at_once", "unknown key"),
    "unknown_sender_key": ("sender.signature", "unknown key"),
    "missing_slug": ("slug", "required key is missing"),
    "bad_slug": ("slug", "'Bad Slug!' is not a valid slug"),
    "missing_sender_email": ("sender.email", "required key is missing"),
    "bad_sender_email": ("sender.email", "not a valid email address"),
    "header_injection_sender_name": ("sender.name", "line break"),
    "encoded_word_sender_name": ("sender.name", "encoded-word"),
    "bad_timezone": ("timezone", "unknown IANA timezone 'Europe/Atlantis'"),
    "approvals_three": ("approvals_required", "must be 1 or 2"),
    "negative_lookahead": ("lookahead_days", "0 or more"),
    "bad_time": ("sending.start", "'25:00' is not a valid time"),
    "window_backwards": ("sending.end", "must end after it starts"),
    "unknown_weekday": ("sending.days[1]", "unknown weekday 'funday'"),
    "duplicate_milestone": ("milestones[2].key", "duplicate milestone key 'entry_into_force'"),
    "end_before_date": ("milestones[0].end", "before date"),
    "bad_date": ("milestones[0].date", "'2010-02-30' is not a date"),
    "duplicate_step": ("steps[1].key", "duplicate step key 'appeal'"),
    "unknown_after_step": ("steps[1].when.after", "no step 'apeal'"),
    "unknown_milestone": (
        "steps[2].when.milestone",
        "no milestone 'first_mspp' (known: entry_into_force, first_msp)",
    ),
    "after_cycle": ("when.after", "cycle of after-steps"),
    "after_self": ("steps[1].when.after", "cannot follow itself"),
    "before_and_after": ("when.days_after", "not both"),
    "when_no_form": ("steps[0].when", "matches no form"),
    "unknown_when_key": ("steps[0].when.on", "unknown key"),
    "missing_template": ("steps[0].template", "not found"),
    "template_traversal": ("steps[0].template", "not a template name"),
    "no_steps": ("steps", "required key is missing"),
}


def test_every_bad_fixture_is_listed() -> None:
    on_disk = {p.stem for p in BAD.glob("*.toml")}
    assert on_disk == set(BAD_FILES)
    assert len(on_disk) >= 10


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_refused_naming_file_and_key(name: str) -> None:
    key, what = BAD_FILES[name]
    path = BAD / f"{name}.toml"
    with pytest.raises(CampaignFileError) as info:
        load_campaign_path(path, templates_dir=TEMPLATES)
    message = info.value.message
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message
    assert what in message


def test_good_file_parses_fully() -> None:
    path = CAMPAIGNS / "good.toml"
    [spec] = load_campaign_path(path, templates_dir=TEMPLATES)
    assert spec.slug == "good-2010"
    assert spec.name == "Fictional Coalition — universalization 2010"
    assert spec.timezone == "Europe/Zurich"
    assert (spec.require_approval, spec.approvals_required, spec.lookahead_days) == (True, 2, 5)
    assert spec.sender.name == "Fictional Coalition"
    assert spec.sender.email == "Outreach@example.org"  # domain normalised, local part kept
    assert spec.sender.reply_to == "replies@example.org"
    assert spec.sending == SendingWindow(
        days=frozenset({0, 1, 2, 3, 4, 5}), start=time(8, 30), end=time(18), daily_limit=150
    )
    assert spec.audience_tags == ("not-joined", "signatory")
    assert dict(spec.vars) == {"signatories": 106, "ratifications": 38, "treaty": "Convention"}
    with pytest.raises(TypeError):
        spec.vars["signatories"] = 1  # type: ignore[index]

    eif, msp = spec.milestones
    assert (eif.key, eif.date, eif.end, eif.location) == (
        "entry_into_force",
        date(2010, 8, 1),
        None,
        None,
    )
    assert (msp.key, msp.date, msp.end, msp.location) == (
        "first_msp",
        date(2010, 11, 8),
        date(2010, 11, 12),
        "Vientiane, Lao PDR",
    )

    steps = {s.key: s for s in spec.steps}
    assert [s.position for s in spec.steps] == list(range(5))
    assert steps["appeal"].when == MilestoneWhen("entry_into_force", 100, time(9))
    assert steps["appeal"].template == "campaign_file/appeal"
    assert steps["appeal"].audience_tags is None
    assert steps["appeal-follow-up"].when == AfterWhen("appeal", 14)
    assert steps["msp-invitation"].when == MilestoneWhen("first_msp", 30, None)
    assert steps["msp-invitation"].audience_tags == ("affected-state",)
    report = steps["msp-report"].when
    assert isinstance(report, MilestoneWhen)
    assert (report.days_before, report.days_after, report.at) == (-7, 7, time(10, 15))
    assert steps["press-note"].when == DateWhen(datetime(2010, 5, 10, 9, 0))

    assert spec.source_path == str(path)
    assert spec.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec.milestone("first_msp") is msp
    assert spec.step("appeal") is steps["appeal"]


def test_good_file_without_template_check_and_same_result_from_text() -> None:
    path = CAMPAIGNS / "good.toml"
    from_text = parse_campaign(path.read_text("utf-8"), source=str(path), templates_dir=None)
    [from_file] = load_campaign_path(path, templates_dir=TEMPLATES)
    assert from_text == from_file


def test_defaults_when_optional_tables_are_missing() -> None:
    text = """
slug = "minimal"
name = "Minimal"
timezone = "Asia/Ho_Chi_Minh"
[sender]
name = "Fictional Coalition"
email = "outreach@example.org"
[[steps]]
key = "only"
template = "x/only"
when = { date = 2010-05-10 }
"""
    spec = parse_campaign(text, source="inline.toml", templates_dir=None)
    assert spec.sending == SendingWindow(frozenset(range(5)), time(9), time(17), None)
    assert (spec.require_approval, spec.approvals_required, spec.lookahead_days) == (True, 1, 3)
    assert spec.milestones == ()
    assert spec.audience_tags == ()
    assert spec.sender.reply_to is None
    # a bare date means the send window's start that day
    assert spec.steps[0].when == DateWhen(datetime(2010, 5, 10, 9, 0))


def test_window_can_run_to_midnight_and_geneva_is_an_alias() -> None:
    text = """
slug = "late"
name = "Late"
timezone = "Europe/Geneva"
[sender]
name = "Fictional Coalition"
email = "outreach@example.org"
[sending]
days = ["SAT", "sun"]
start = "00:00"
end = "24:00"
[[steps]]
key = "only"
template = "x/only"
when = { date = 2010-05-10T23:30:00+00:00 }
"""
    spec = parse_campaign(text, source="inline.toml", templates_dir=None)
    assert spec.sending.end == END_OF_DAY
    assert spec.sending.days == frozenset({5, 6})
    assert spec.timezone == "Europe/Zurich"
    assert canonical_timezone("Europe/Geneva") == "Europe/Zurich"
    assert canonical_timezone("Europe/Atlantis") is None
    assert canonical_timezone("../../etc/passwd") is None
    # an offset date-time is converted to campaign-local wall time (CEST, +2)
    assert spec.steps[0].when == DateWhen(datetime(2010, 5, 11, 1, 30))


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("approvals_required = true", "approvals_required"),
        ('require_approval = "yes"', "require_approval"),
        ("lookahead_days = 1.5", "lookahead_days"),
        ("vars = 3", "vars"),
    ],
)
def test_wrong_types_are_refused(line: str, key: str) -> None:
    text = f"""
slug = "typed"
name = "Typed"
timezone = "UTC"
{line}
[sender]
name = "Fictional Coalition"
email = "outreach@example.org"
[[steps]]
key = "only"
template = "x/only"
when = {{ date = 2010-05-10T09:00 }}
"""
    with pytest.raises(CampaignFileError, match=rf"^inline\.toml: {key}: must be"):
        parse_campaign(text, source="inline.toml", templates_dir=None)


def test_directory_is_loaded_sorted_and_all_or_nothing(tmp_path: Path) -> None:
    good = (CAMPAIGNS / "good.toml").read_text("utf-8")
    (tmp_path / "b.toml").write_text(good.replace('"good-2010"', '"b-camp"'), "utf-8")
    (tmp_path / "a.toml").write_text(good.replace('"good-2010"', '"a-camp"'), "utf-8")
    (tmp_path / "notes.txt").write_text("not a campaign", "utf-8")
    specs = load_campaign_path(tmp_path, templates_dir=TEMPLATES)
    assert [s.slug for s in specs] == ["a-camp", "b-camp"]

    shutil.copy(BAD / "bad_timezone.toml", tmp_path / "c.toml")
    with pytest.raises(CampaignFileError, match=r"c\.toml: timezone: unknown IANA timezone"):
        load_campaign_path(tmp_path, templates_dir=TEMPLATES)


def test_duplicate_slug_across_files_is_refused(tmp_path: Path) -> None:
    good = (CAMPAIGNS / "good.toml").read_text("utf-8")
    (tmp_path / "one.toml").write_text(good, "utf-8")
    (tmp_path / "two.toml").write_text(good, "utf-8")
    with pytest.raises(CampaignFileError, match=r"two\.toml: slug: 'good-2010' is already used"):
        load_campaign_path(tmp_path, templates_dir=TEMPLATES)


def test_missing_path_empty_dir_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match="no such file"):
        load_campaign_path(tmp_path / "nope.toml", templates_dir=None)
    with pytest.raises(CampaignFileError, match=r"no \*\.toml campaign files"):
        load_campaign_path(tmp_path, templates_dir=None)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Coalición"\n'.encode("latin-1"))
    with pytest.raises(CampaignFileError, match=r"latin\.toml: not UTF-8"):
        load_campaign_path(latin, templates_dir=None)


def test_step_order_puts_follow_ups_after_their_step() -> None:
    text = """
slug = "order"
name = "Order"
timezone = "UTC"
[sender]
name = "Fictional Coalition"
email = "outreach@example.org"
[[steps]]
key = "third"
template = "x/t"
when = { after = "second", days = 3 }
[[steps]]
key = "second"
template = "x/t"
when = { after = "first", days = 3 }
[[steps]]
key = "standalone"
template = "x/t"
when = { date = 2010-05-10T09:00 }
[[steps]]
key = "first"
template = "x/t"
when = { date = 2010-05-01T09:00 }
"""
    spec = parse_campaign(text, source="inline.toml", templates_dir=None)
    order = step_order(spec)
    assert sorted(order) == sorted(s.key for s in spec.steps)
    assert order.index("first") < order.index("second") < order.index("third")
    assert order == ["standalone", "first", "second", "third"]


def test_times_without_seconds_as_design_md_writes_them() -> None:
    """Python 3.11's tomllib reads TOML 1.0, which needs seconds; DESIGN.md omits them."""
    text = """
slug = "short-times"
name = "Short times"
timezone = "UTC"
[sender]
name = "Fictional Coalition"
email = "outreach@example.org"
[sending]
start = 08:00
end = "16:30"
[vars]
meeting = { note = "doors 2010-05-10T08:00", at = 09:30 }
[[milestones]]
key = "m"
title = "M"
date = 2010-08-01
[[steps]]
key = "dated"
template = "x/t"
when = { date = 2010-05-10T09:00 }
[[steps]]
key = "timed"
template = "x/t"
when = { milestone = "m", days_before = 1, at = 07:45 }
"""
    spec = parse_campaign(text, source="inline.toml", templates_dir=None)
    assert (spec.sending.start, spec.sending.end) == (time(8), time(16, 30))
    assert spec.vars["meeting"] == {"note": "doors 2010-05-10T08:00", "at": time(9, 30)}
    assert spec.step("dated").when == DateWhen(datetime(2010, 5, 10, 9))
    assert spec.step("timed").when == MilestoneWhen("m", 1, time(7, 45))
    with pytest.raises(CampaignFileError, match=r"^inline\.toml: TOML syntax error: .*line 9,"):
        parse_campaign(text.replace("start = 08:00", "start = 25:00"), source="inline.toml")
