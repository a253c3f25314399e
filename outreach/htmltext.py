"""HTML to readable text: the one converter review (showing a letter's HTML part as text) and
reply parsing (reading an HTML-only reply) share.

Pure and total: it never raises, whatever the input (a parser failure falls back to stripping
tags), and reads at most ``limit`` characters.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: How much HTML is read at most (2 MiB of characters): enough for any letter or reply body.
DEFAULT_LIMIT = 2 * 1024 * 1024

_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")  # HTML white space; keeps &nbsp;
_TAG = re.compile(r"<[^>]{0,2000}>")


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
         "blockquote", "hr", "pre", "section", "article", "header", "footer"}
    )  # fmt: skip
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "table"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._quote = 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def _break(self, tag: str) -> None:
        self.parts.append("\n\n" if tag in self._PARAGRAPH else "\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self._break(tag)
            if tag == "li":
                self.parts.append("- ")
            elif tag == "blockquote":
                self._quote += 1
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._link_text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCK and tag not in ("li", "br"):
            self._break(tag)
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
        elif tag == "a" and self._href:
            shown = " ".join("".join(self._link_text).split())
            if self._href not in (shown, f"mailto:{shown}"):
                self.parts.append(f" <{self._href}>")
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        text = _HTML_SPACE.sub(" ", data)
        if self._href is not None:
            self._link_text.append(text)
        if self._quote:
            text = "\0" + text  # marks quoted text; becomes a "> " line prefix below
        self.parts.append(text)


def _tidy(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        quoted = "\0" in line
        line = line.replace("\0", "").strip(" ")
        lines.append(f"> {line}" if quoted and line else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, *, limit: int = DEFAULT_LIMIT) -> str:
    """The visible text of ``html``: tags stripped, blocks and ``<br>`` as line breaks (a blank
    line between paragraphs), list items as ``- `` lines, link targets shown after their text
    when they differ from it, text inside ``<blockquote>`` as ``> `` lines (like quoted plain
    text), scripts, styles and the head dropped. Never raises."""
    html = html[:limit]
    try:
        parser = _TextExtractor()
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # HTMLParser on hostile input: fall back to stripping tags
        text = _TAG.sub(" ", html)
    return _tidy(text)
