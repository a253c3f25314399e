"""outreach.templating: the sample ccm letters and small bad templates, loaded from disk."""

from __future__ import annotations

import csv
import os
import tomllib
from dataclasses import FrozenInstanceError
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from outreach.errors import TemplateError
from outreach.templating import (
    CONTEXT_NAMES,
    RenderedEmail,
    TemplateRenderer,
    TemplateRenderError,
    build_context,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
BAD = ROOT / "tests" / "fixtures" / "templates_bad"
CAMPAIGN_FILE = ROOT / "config" / "campaigns" / "ccm-2010.toml"
CONTACTS_FILE = ROOT / "config" / "contacts" / "ccm-2010-sample.csv"

APPEAL_DAY = date(2010, 4, 23)  # 100 days before 1 August 2010
MSP_DAY = date(2010, 10, 9)  # 30 days before 8 November 2010


def mark_line(relative: str, marker: str) -> int:
    """The 1-based line of ``MARK: <marker>`` in a fixture template."""
    lines = (BAD / relative).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if f"MARK: {marker}" in line)


@pytest.fixture(scope="module")
def campaign() -> dict:
    """The sample campaign file as plain dicts (no dependency on outreach.campaigns)."""
    with CAMPAIGN_FILE.open("rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATES)


@pytest.fixture(scope="module")
def bad() -> TemplateRenderer:
    return TemplateRenderer(BAD)


def make_contact(**overrides: object) -> SimpleNamespace:
    data: dict[str, object] = {
        "email": "declan.obrien@mission-au.example.com",
        "name": "Declan O'Brien",
        "salutation": "Deputy Prime Minister",
        "title": "Deputy Prime Minister and Minister for Foreign Affairs",
        "organisation": "Ministry of Foreign Affairs",
        "country": "VN",
        "language": "en",
        "timezone": "Asia/Ho_Chi_Minh",
        "tags": ["not-joined", "affected-state"],
        "fields": {"mission_city": "Hanoi", "honorific": "H.E."},
    }
    data.update(overrides)
    return SimpleNamespace(**data)


def context_for(campaign: dict, contact: object, today: date, step: str = "appeal") -> dict:
    return build_context(
        campaign=campaign,
        contact=contact,
        milestones=campaign["milestones"],
        today=today,
        step=next(s for s in campaign["steps"] if s["key"] == step),
        countdown=None,
    )


# ------------------------------------------------------------------------------------------
# The sample letters


def test_appeal_in_english(renderer: TemplateRenderer, campaign: dict) -> None:
    ctx = context_for(campaign, make_contact(), APPEAL_DAY)
    out = renderer.render("ccm/appeal", "en", ctx)
    assert isinstance(out, RenderedEmail)
    assert out.template == "ccm/appeal.j2"
    assert out.language == "en"
    assert "\n" not in out.subject and out.subject == out.subject.strip()
    assert out.subject.startswith("In 100 days,")
    assert "In 100 days, on 1 August 2010, the Convention on Cluster Munitions" in out.text
    assert "Dear Deputy Prime Minister," in out.text
    assert f"{campaign['vars']['signatories']} States have signed" in out.text
    for state in campaign["vars"]["recent_ratifications"]:
        assert f"- {state['en']}\n" in out.text
    assert "23 April 2010" in out.text  # the dateline is today
    assert out.text.endswith("\n") and not out.text.endswith("\n\n")
    assert 1500 < len(out.text.encode()) < 4000
    assert out.html is not None and out.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<li>Montenegro</li>" in out.html


def test_appeal_in_french(renderer: TemplateRenderer, campaign: dict) -> None:
    contact = make_contact(
        name="Jean-Baptiste Mukendi",
        salutation="Monsieur le Ministre",
        language="fr",
        fields={"mission_city": "Kinshasa", "honorific": "S.E."},
    )
    out = renderer.render("ccm/appeal", "fr", context_for(campaign, contact, APPEAL_DAY))
    assert out.template == "ccm/appeal.fr.j2"
    assert out.language == "fr"
    assert "Dans 100 jours, le 1 août 2010" in out.text
    assert "Excellence, Monsieur le Ministre," in out.text
    assert "Genève, le 23 avril 2010" in out.text
    assert "- le Monténégro" in out.text
    assert "August" not in out.text
    assert out.html is not None and 'lang="fr"' in out.html


def test_msp_invitation_date_range(renderer: TemplateRenderer, campaign: dict) -> None:
    ctx = context_for(campaign, make_contact(), MSP_DAY, step="msp-invitation")
    en = renderer.render("ccm/msp_invitation", "en", ctx)
    assert "8–12 November 2010" in en.subject
    assert "In 30 days" in en.text
    assert "Since 1 August 2010" in en.text  # entry into force is past by then
    fr = renderer.render("ccm/msp_invitation", "fr", ctx)
    assert "8–12 novembre 2010" in fr.subject
    assert "du 8 au 12 novembre 2010" in fr.text


def test_every_sample_contact_renders_every_step(
    renderer: TemplateRenderer, campaign: dict
) -> None:
    with CONTACTS_FILE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 35
    known = {"email", "name", "salutation", "title", "organisation", "country", "language"}
    known |= {"timezone", "tags"}
    both = [r for r in rows if {"not-joined", "affected-state"} <= set(r["tags"].split(";"))]
    assert len(both) >= 10  # the msp-invitation audience is not empty
    for row in rows:
        contact = {k: row[k] for k in known} | {
            "tags": row["tags"].split(";"),
            "fields": {k: v for k, v in row.items() if k not in known},
        }
        for step, day in (("appeal", APPEAL_DAY), ("msp-invitation", MSP_DAY)):
            template = next(s["template"] for s in campaign["steps"] if s["key"] == step)
            out = renderer.render(
                template, row["language"], context_for(campaign, contact, day, step)
            )
            assert row["name"] in out.text
            expected = "fr" if row["language"].startswith("fr") else "en"
            assert out.language == expected, row["email"]


def test_sample_campaign_templates_check_clean(renderer: TemplateRenderer, campaign: dict) -> None:
    for step in campaign["steps"]:
        assert renderer.check(step["template"]) == []
        assert len(renderer.variants(step["template"])) == 2


# ------------------------------------------------------------------------------------------
# Variant selection


def test_language_fallback_to_default(renderer: TemplateRenderer, campaign: dict) -> None:
    ctx = context_for(campaign, make_contact(language="es"), APPEAL_DAY)
    assert renderer.resolve("ccm/appeal", "es") == "ccm/appeal.j2"
    out = renderer.render("ccm/appeal", "es", ctx)
    assert out.template == "ccm/appeal.j2"
    assert out.language == "en"
    # dates follow the letter's language, not the contact's: no Spanish in an English letter
    assert "1 August 2010" in out.text and "agosto" not in out.text
    for odd in (None, "", "../../etc/passwd", "x y"):
        assert renderer.resolve("ccm/appeal", odd) == "ccm/appeal.j2"


def test_region_falls_back_to_language(renderer: TemplateRenderer, campaign: dict) -> None:
    assert renderer.resolve("ccm/appeal", "fr-CA") == "ccm/appeal.fr.j2"
    assert renderer.resolve("ccm/appeal", "fr_ch") == "ccm/appeal.fr.j2"
    out = renderer.render("ccm/appeal", "fr-CA", context_for(campaign, make_contact(), APPEAL_DAY))
    assert out.template == "ccm/appeal.fr.j2"
    assert "1 août 2010" in out.text


def test_most_specific_variant_wins(bad: TemplateRenderer) -> None:
    assert bad.resolve("bad/good", "fr-CA") == "bad/good.fr-CA.j2"
    assert bad.resolve("bad/good", "fr-BE") == "bad/good.fr.j2"
    assert bad.resolve("bad/good.j2", "de") == "bad/good.j2"
    ctx = build_context(campaign={}, contact={"name": "Zoé"}, today=date(2010, 8, 1))
    assert bad.render("bad/good", "fr-BE", ctx).text == "Bonjour Zoé, le 1 août 2010.\n"
    assert bad.render("bad/good", None, ctx).subject == "Good default letter"


def test_missing_template(renderer: TemplateRenderer, campaign: dict) -> None:
    with pytest.raises(TemplateError, match=r"ccm/nope\.j2: template not found"):
        renderer.render("ccm/nope", "fr", context_for(campaign, make_contact(), APPEAL_DAY))
    assert renderer.check("ccm/nope") == [
        "ccm/nope.j2: template not found (the default file is required)"
    ]


# ------------------------------------------------------------------------------------------
# Errors name the file and line


def _ctx() -> dict:
    return build_context(
        campaign={"name": "C", "vars": {"signatories": 1}},
        contact={"name": "Ana", "fields": {"subject_extra": "=?utf-8?q?x=0D=0ABcc:x?="}},
        today=date(2010, 4, 23),
    )


def test_undefined_variable_names_template_and_line(bad: TemplateRenderer) -> None:
    with pytest.raises(TemplateRenderError) as info:
        bad.render("bad/undefined", "en", _ctx())
    line = mark_line("bad/undefined.j2", "undefined")
    assert str(info.value) == (
        f"bad/undefined.j2, line {line}: 'contact' has no attribute 'nickname'"
    )
    assert (info.value.template, info.value.lineno) == ("bad/undefined.j2", line)
    assert "\n" not in str(info.value)


def test_syntax_error_names_line(bad: TemplateRenderer) -> None:
    with pytest.raises(TemplateError) as info:
        bad.render("bad/syntax", None, _ctx())
    line = mark_line("bad/syntax.j2", "syntax")
    assert str(info.value).startswith(f"bad/syntax.j2, line {line}: ")
    assert "\n" not in str(info.value)


def test_error_in_layout_names_the_layout(bad: TemplateRenderer) -> None:
    with pytest.raises(TemplateError) as info:
        bad.render("bad/uses_layout", None, _ctx())
    line = mark_line("bad/_layout.j2", "layout")
    assert str(info.value) == (
        f"bad/_layout.j2, line {line}: 'campaign.vars' has no attribute 'no_such_var'"
    )


def test_missing_layout(bad: TemplateRenderer) -> None:
    line = mark_line("bad/missing_layout.j2", "missing layout")
    with pytest.raises(TemplateError, match=rf"^bad/missing_layout\.j2, line {line}: layout"):
        bad.render("bad/missing_layout", None, _ctx())


def test_filter_error_names_line(bad: TemplateRenderer) -> None:
    line = mark_line("bad/filter_error.j2", "filter")
    with pytest.raises(TemplateError, match=rf"^bad/filter_error\.j2, line {line}: TypeError"):
        bad.render("bad/filter_error", None, _ctx())


def test_nothing_half_rendered(bad: TemplateRenderer) -> None:
    line = mark_line("bad/html_fails.j2", "html")
    with pytest.raises(TemplateError, match=rf"^bad/html_fails\.j2, line {line}: "):
        bad.render("bad/html_fails", None, _ctx())


def test_text_block_required(bad: TemplateRenderer) -> None:
    with pytest.raises(TemplateError, match=r"bad/no_text\.j2: no \{% block text %\}"):
        bad.render("bad/no_text", None, _ctx())


def test_subject_refuses_header_tricks(bad: TemplateRenderer) -> None:
    with pytest.raises(TemplateError, match=r"subject_inject\.j2: the subject contains RFC 2047"):
        bad.render("bad/subject_inject", None, _ctx())


def test_sandbox_refuses_dunder_access(bad: TemplateRenderer) -> None:
    with pytest.raises(TemplateError) as info:
        bad.render("bad/sandbox", None, _ctx())
    line = mark_line("bad/sandbox.j2", "sandbox")
    assert str(info.value).startswith(f"bad/sandbox.j2, line {line}: ")
    assert "unsafe" in str(info.value)


def test_sandbox_refuses_mutation(bad: TemplateRenderer) -> None:
    tags = ["not-joined"]
    # a raw context with a real list: the immutable sandbox refuses list.append
    with pytest.raises(TemplateError, match="unsafe"):
        bad.render("bad/mutate", None, {"contact": {"tags": tags}})
    assert tags == ["not-joined"]
    # build_context hands out tuples, so there is nothing to append to either
    ctx = build_context(campaign={}, contact={"tags": tags}, today=APPEAL_DAY)
    with pytest.raises(TemplateError, match="has no attribute 'append'"):
        bad.render("bad/mutate", None, ctx)
    assert tags == ["not-joined"]


# ------------------------------------------------------------------------------------------
# Escaping


def test_html_escapes_contact_data_text_keeps_it(
    renderer: TemplateRenderer, campaign: dict
) -> None:
    contact = make_contact(name="<script>alert(1)</script> O'Brien", salutation="")
    out = renderer.render("ccm/appeal", "en", context_for(campaign, contact, APPEAL_DAY))
    assert "<script>alert(1)</script> O'Brien" in out.text
    assert "O&#39;Brien" not in out.text
    assert out.html is not None
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien" in out.html


def test_obrien_plain_in_subject_and_text(bad: TemplateRenderer) -> None:
    ctx = build_context(campaign={}, contact={"name": "Siobhán O'Brien"}, today=APPEAL_DAY)
    out = bad.render("bad/good", None, ctx)
    assert out.text == "Dear Siobhán O'Brien, default.\n"
    assert out.html is None


# ------------------------------------------------------------------------------------------
# check()


def test_check_finds_errors_in_every_variant(bad: TemplateRenderer) -> None:
    problems = bad.check("bad/variants")
    assert len(problems) == 4, problems
    default = mark_line("bad/variants.j2", "default")
    fr = mark_line("bad/variants.fr.j2", "fr")
    de = mark_line("bad/variants.de.j2", "de")
    assert any(p.startswith(f"bad/variants.j2, line {default}: ") for p in problems)
    assert any(p.startswith(f"bad/variants.fr.j2, line {fr}: ") for p in problems)
    assert f"bad/variants.de.j2, line {de}: unknown variable 'kontakt'" in problems
    assert "bad/variants.es.j2: no {% block text %}" in problems
    assert all("\n" not in p for p in problems)


def test_check_follows_layouts(bad: TemplateRenderer) -> None:
    assert bad.check("bad/good") == []
    assert bad.check("bad/uses_layout") == []  # its fault only shows at render time
    [problem] = bad.check("bad/missing_layout")
    assert problem.startswith("bad/missing_layout.j2, line ")


# ------------------------------------------------------------------------------------------
# Context


def test_build_context_shapes(campaign: dict) -> None:
    ctx = build_context(
        campaign=campaign,
        contact={"email": "a@example.org", "name": None, "tags": ("x",), "fields": {"k": None}},
        milestones=campaign["milestones"],
        today=MSP_DAY,
        step="msp-invitation",
        countdown={"first_msp": {"days_until": 30, "weeks_until": 4, "is_past": False}},
    )
    assert set(ctx) == CONTEXT_NAMES - {"locale"}
    assert ctx["contact"].name == "" and ctx["contact"].fields.k == ""
    assert ctx["campaign"].sender.email == "outreach@example.org"
    assert ctx["campaign"].vars.recent_ratifications[0].en == "Burkina Faso"
    msp = ctx["milestones"].first_msp
    assert (msp.date, msp.end, msp.location) == (
        date(2010, 11, 8),
        date(2010, 11, 12),
        "Vientiane, Lao PDR",
    )
    assert msp.days_until == 30 and msp.is_past is False
    assert ctx["step"].key == "msp-invitation"
    with pytest.raises(AttributeError):
        _ = ctx["contact"].nickname


def test_build_context_computes_countdown_when_not_given(campaign: dict) -> None:
    ctx = context_for(campaign, make_contact(), APPEAL_DAY)
    eif = ctx["milestones"].entry_into_force
    assert (eif.days_until, eif.weeks_until, eif.is_past) == (100, 14, False)
    during = context_for(campaign, make_contact(), date(2010, 11, 10))["milestones"].first_msp
    assert (during.days_until, during.is_past) == (-2, False)  # past only after its last day
    after = context_for(campaign, make_contact(), date(2010, 11, 13))["milestones"].first_msp
    assert after.is_past is True


def test_rendered_email_is_frozen(renderer: TemplateRenderer, campaign: dict) -> None:
    out = renderer.render("ccm/follow_up", "en", context_for(campaign, make_contact(), APPEAL_DAY))
    with pytest.raises(FrozenInstanceError):
        out.subject = "x"  # type: ignore[misc]


def test_edited_layout_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    layout = tmp_path / "t" / "_layout.j2"
    layout.write_text(
        "{% block subject %}S{% endblock %}{% block text %}v1 {% block body %}{% endblock %}{% endblock %}"
    )
    (tmp_path / "t" / "letter.j2").write_text(
        '{% extends "t/_layout.j2" %}{% block body %}B{% endblock %}'
    )
    renderer = TemplateRenderer(tmp_path)
    ctx = build_context(campaign={}, contact={}, today=APPEAL_DAY)
    assert renderer.render("t/letter", None, ctx).text == "v1 B\n"
    layout.write_text(
        "{% block subject %}S{% endblock %}{% block text %}v2 {% block body %}{% endblock %}{% endblock %}"
    )
    stat = layout.stat()
    os.utime(layout, (stat.st_atime + 10, stat.st_mtime + 10))
    assert renderer.render("t/letter", None, ctx).text == "v2 B\n"
    # a variant added later is seen after clear_cache()
    assert renderer.resolve("t/letter", "fr") == "t/letter.j2"
    (tmp_path / "t" / "letter.fr.j2").write_text(
        '{% extends "t/_layout.j2" %}{% block body %}F{% endblock %}'
    )
    renderer.clear_cache()
    assert renderer.render("t/letter", "fr", ctx).text == "v2 F\n"


def test_record_keys_and_methods_in_templates(tmp_path: Path) -> None:
    (tmp_path / "r.j2").write_text(
        "{% block subject %}S{% endblock %}{% block text %}"
        "{{ campaign.vars.items }}|{{ campaign.vars.get('nope', 'dflt') }}|"
        "{{ campaign.vars['signatories'] | format_number }}|{{ contact.fields.get('x', '-') }}"
        "{% endblock %}"
    )
    ctx = build_context(
        campaign={"vars": {"items": "it", "signatories": 1234}},
        contact={"fields": {}},
        today=APPEAL_DAY,
    )
    (tmp_path / "r.fr.j2").write_text((tmp_path / "r.j2").read_text())
    renderer = TemplateRenderer(tmp_path)
    assert renderer.render("r", "en", ctx).text == "it|dflt|1,234|-\n"
    assert renderer.render("r", "fr", ctx).text == "it|dflt|1\u202f234|-\n"
    assert renderer.render("r", "es", ctx).text == "it|dflt|1,234|-\n"  # English default
