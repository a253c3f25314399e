"""Make the README's pictures from the demo: the first page of a PDF letter as sent
(``docs/images/letter.png``) and the calendar event the invitation carries
(``docs/images/first_msp.ics``), taken from the demo's ``.eml`` files.

Run from the repository root: ``.venv/bin/python docs/make_images.py``.
"""

from __future__ import annotations

import tempfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

from outreach.attachments.preview import first_page_png
from outreach.demo import run_demo

OUT = Path(__file__).resolve().parent / "images"


def _attachments(eml: Path) -> tuple[str | None, list[tuple[str, str, bytes]]]:
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    files = [
        (part.get_filename() or "", part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]
    return message["X-Outreach-Step"], files


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="outreach-images-") as tmp:
        result = run_demo(Path(tmp) / "demo", quiet=True)
        letter = event = None
        for eml in sorted(result.folder.glob("*.eml")):
            step, files = _attachments(eml)
            for name, ctype, data in files:
                if letter is None and step == "appeal" and ctype == "application/pdf":
                    letter = (eml.name, name, data)
                if event is None and step == "msp-invitation" and ctype == "text/calendar":
                    event = (eml.name, name, data)
    assert letter is not None and event is not None, "the demo sent no letter or no invitation"
    (OUT / "letter.png").write_bytes(first_page_png(letter[2], width=700))
    (OUT / "first_msp.ics").write_bytes(event[2])
    print(f"docs/images/letter.png: page 1 of {letter[1]!r} ({letter[0]})")
    print(f"docs/images/first_msp.ics: {event[1]!r} ({event[0]})")


if __name__ == "__main__":
    main()
