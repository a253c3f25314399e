"""The file ``review edit`` opens in the reviewer's editor: its format and how it is read back.

Pure: text in, values out. A ``Subject:`` line, a blank line, the text part, and the HTML part
after a ``--- html ---`` line when the message has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.errors import ReviewError

#: The line that separates the text part from the HTML part.
HTML_SEPARATOR = "--- html ---"


@dataclass(frozen=True)
class EditableContent:
    """What ``review edit`` lets a reviewer change."""

    subject: str
    text: str
    html: str | None


def format_editable(content: EditableContent) -> str:
    """The file the editor opens: a ``Subject:`` line, a blank line, the text, and the HTML
    after a ``--- html ---`` line when the message has an HTML part."""
    out = f"Subject: {content.subject}\n\n{content.text}"
    if not out.endswith("\n"):
        out += "\n"
    if content.html is not None:
        html = content.html if content.html.endswith("\n") else content.html + "\n"
        out += f"{HTML_SEPARATOR}\n{html}"
    return out


def parse_editable(source: str, original: EditableContent) -> EditableContent:
    """Read the edited file back. Raises ReviewError naming the line that is wrong.

    Trailing newlines are not a change: a part whose text differs from the original only by
    trailing newlines keeps the original text.
    """
    lines = source.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].startswith("Subject:"):
        raise ReviewError("edited file, line 1: must be 'Subject: …'")
    subject = lines[0][len("Subject:") :].strip()
    if len(lines) < 2 or lines[1].strip() != "":
        raise ReviewError("edited file, line 2: must be blank (it separates the subject)")
    body = lines[2:]
    html: str | None
    if HTML_SEPARATOR in (line.rstrip() for line in body):
        at = [line.rstrip() for line in body].index(HTML_SEPARATOR)
        text, html = "\n".join(body[:at]), "\n".join(body[at + 1 :])
        if not html.strip():
            html = None
    else:
        if original.html is not None:
            raise ReviewError(
                f"edited file: the '{HTML_SEPARATOR}' line is missing (keep it; leave the "
                "section empty to remove the HTML part)"
            )
        text, html = "\n".join(body), None
    return EditableContent(
        subject=subject,
        text=_keep_trailing(text, original.text),
        html=None if html is None else _keep_trailing(html, original.html or ""),
    )


def _keep_trailing(new: str, old: str) -> str:
    if new.rstrip("\n") == old.rstrip("\n"):
        return old
    return new.rstrip("\n") + "\n"
