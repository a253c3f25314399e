"""Campaign files with letters and attachments: the files they name are read at load (inside the
campaign's folder, under the size cap, typed from their bytes); a missing or oversized one
refuses the campaign, naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from outreach.campaigns import load_campaign_path
from outreach.errors import CampaignFileError
from tests.planning import REPO, SAMPLE_CAMPAIGN

TEMPLATES = REPO / "templates"


def sample_copy(tmp_path: Path) -> Path:
    """The sample campaign and its files in a folder of their own."""
    folder = tmp_path / "campaigns"
    shutil.copytree(SAMPLE_CAMPAIGN.parent, folder)
    return folder / SAMPLE_CAMPAIGN.name


def test_the_sample_campaign_names_its_letter_files_and_calendar(tmp_path: Path) -> None:
    path = sample_copy(tmp_path)
    [spec] = load_campaign_path(path, templates_dir=TEMPLATES)
    appeal = spec.step("appeal")
    assert appeal.letter == "ccm/appeal_letter"
    [facts] = appeal.attachments
    assert facts.path == "files/ccm-key-facts.pdf"
    assert facts.content_type == "application/pdf"
    assert Path(facts.location) == (path.parent / "files" / "ccm-key-facts.pdf").resolve()
    assert spec.step("msp-invitation").calendar == "first_msp"
    assert (
        spec.letters.signature is not None
        and spec.letters.signature.content_type == "image/svg+xml"
    )
    assert spec.letters.folder == str(path.parent.resolve())


def _with(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_a_missing_file_refuses_the_campaign_naming_file_and_key(tmp_path: Path) -> None:
    path = sample_copy(tmp_path)
    (path.parent / "files" / "ccm-key-facts.pdf").unlink()
    with pytest.raises(CampaignFileError) as err:
        load_campaign_path(path, templates_dir=TEMPLATES)
    assert str(path) in err.value.message
    assert "steps[0].attachments[0]" in err.value.message and "no such file" in err.value.message


def test_a_file_over_the_cap_refuses_the_campaign(tmp_path: Path) -> None:
    path = sample_copy(tmp_path)
    with pytest.raises(CampaignFileError, match=r"steps\[0\]\.attachments\[0\].*over the cap"):
        load_campaign_path(path, templates_dir=TEMPLATES, max_file_bytes=1000)


@pytest.mark.parametrize(
    ("written", "what"),
    [
        ("/etc/hostname", "must be relative"),
        ("../../outside.pdf", "outside the campaign file's folder"),
    ],
)
def test_files_outside_the_campaign_folder_are_refused(
    tmp_path: Path, written: str, what: str
) -> None:
    path = sample_copy(tmp_path)
    (tmp_path / "outside.pdf").write_bytes(b"%PDF-1.4")
    _with(path, '"files/ccm-key-facts.pdf"', f'"{written}"')
    with pytest.raises(CampaignFileError, match=what):
        load_campaign_path(path, templates_dir=TEMPLATES)


def test_types_come_from_the_bytes_and_signatures_must_be_images(tmp_path: Path) -> None:
    path = sample_copy(tmp_path)
    (path.parent / "files" / "ccm-key-facts.pdf").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    [spec] = load_campaign_path(path, templates_dir=TEMPLATES)
    assert spec.step("appeal").attachments[0].content_type == "image/png"
    _with(path, 'signature = "files/signature.svg"', 'signature = "files/ccm-key-facts.pdf"')
    (path.parent / "files" / "ccm-key-facts.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(CampaignFileError, match=r"letters\.signature.*not an image"):
        load_campaign_path(path, templates_dir=TEMPLATES)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            'calendar = "first_msp"',
            'calendar = "second_msp"',
            r"steps\[2\]\.calendar: no milestone",
        ),
        ('letter = "ccm/appeal_letter"', 'letter = "ccm/nope"', r"steps\[0\]\.letter: template"),
        (
            'filename = "{campaign}-{step}-{contact.organisation}.pdf"',
            'filename = "{campaign}-{nickname}.pdf"',
            r"letters\.filename: unknown placeholder",
        ),
        (
            "date = 2010-11-08\nend",
            'date = 2010-11-08\nend_time = "18:00"\nend',
            r"end_time: only goes",
        ),
    ],
)
def test_bad_letter_keys_are_refused(tmp_path: Path, old: str, new: str, where: str) -> None:
    path = sample_copy(tmp_path)
    _with(path, old, new)
    with pytest.raises(CampaignFileError, match=where):
        load_campaign_path(path, templates_dir=TEMPLATES)


def test_a_timed_milestone(tmp_path: Path) -> None:
    path = sample_copy(tmp_path)
    _with(
        path,
        "date = 2010-11-08\nend",
        'date = 2010-11-08\ntime = "10:00"\nend_time = "18:00"\ntimezone = "Asia/Vientiane"\nend',
    )
    [spec] = load_campaign_path(path, templates_dir=TEMPLATES)
    msp = spec.milestone("first_msp")
    assert (msp.time.isoformat(), msp.end_time.isoformat(), msp.timezone) == (
        "10:00:00",
        "18:00:00",
        "Asia/Vientiane",
    )
