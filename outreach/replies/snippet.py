"""What a person actually wrote: quoted text and signature stripped. Pure."""

from __future__ import annotations

import functools
import re

#: A line from which everything below is quoted text or signature.
_CUT_LINE_RE = re.compile(
    r"""^\s*(?:
        -{2,}\s*(?:original\s+message|message\s+d'origine|mensaje\s+original|
            urspr[üu]ngliche\s+nachricht|forwarded\s+message|message\s+transf[ée]r[ée])\s*-{2,}
      | _{10,}
      | --\s*
      | sent\s+from\s+my\s+\w+.*
      | envoy[ée]\s+(?:de|depuis)\s+mon\s+\w+.*
      | enviado\s+desde\s+mi\s+\w+.*
      | von\s+meinem\s+\w+\s+gesendet.*
      | get\s+outlook\s+for\s+\w+.*
      | obtenir\s+outlook\s+pour\s+\w+.*
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
#: An attribution line ("On <date>, <name> wrote:") over at most two lines.
_ATTRIBUTION_RE = re.compile(
    r"""^[ \t]*(?:on|le|el|am|em|il)\b[^\n]{0,300}(?:\n[^\n]{0,300})?
        \b(?:(?:wrote|a\s+[ée]crit|escribi[óo]|escreveu|ha\s+scritto)\s*:?
            |schrieb\b[^\n]{0,200}:)[ \t]*$""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
#: Outlook's header block of the quoted message: From:/De :/Von: then Sent:/Date:... below.
_OUTLOOK_FROM_RE = re.compile(r"^\s*\*?(?:from|de|von|da)\s*\*?\s*:", re.IGNORECASE)
_OUTLOOK_NEXT_RE = re.compile(
    r"^\s*\*?(?:sent|date|envoy[ée]|enviado(?:\s+el)?|gesendet|datum|to|[àa]|para|an|"
    r"subject|objet|asunto|betreff|cc)\s*\*?\s*:",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4)
def strip_quoted(text: str) -> str:
    """``text`` without quoted lines, attribution lines, quoted header blocks or signature.

    Keeps what comes before the first marker of quoted text ("On ... wrote:", "Le ... a écrit :",
    "El ... escribió:", "Am ... schrieb", "-----Original Message-----", an Outlook
    "From: / Sent:" block, an underscore rule), drops every line starting with ">", and stops at a
    signature separator ("-- ") or a "Sent from my iPhone"-style line. Remembers its last few
    answers: the classifier, the bounce detector and the snippet all ask about the same text.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    m = _ATTRIBUTION_RE.search(text)
    if m:
        text = text[: m.start()]
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _CUT_LINE_RE.match(line):
            break
        if _OUTLOOK_FROM_RE.match(line) and any(
            _OUTLOOK_NEXT_RE.match(following) for following in lines[i + 1 : i + 4]
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def snippet(text: str, limit: int = 160) -> str:
    """A one-line summary of what the sender wrote, at most ``limit`` characters.

    Quoted text and signature are stripped (:func:`strip_quoted`), whitespace is collapsed, and a
    longer text is cut at a word boundary when one is near and ends with "…".
    """
    flat = " ".join(strip_quoted(text).split())
    if len(flat) <= limit:
        return flat
    if limit <= 1:
        return "…"[:limit]
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space >= (limit - 1) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"
