"""Render one letter from a Jinja2 template (DESIGN.md §Templates).

A template is one file with blocks ``subject``, ``text`` and optionally ``html``:
``templates/ccm/appeal.j2``, with per-language variants ``templates/ccm/appeal.fr.j2``. For a
contact whose language is ``fr-CA`` the renderer tries ``appeal.fr-CA.j2``, then
``appeal.fr.j2``, then ``appeal.j2``. Layouts work through ``{% extends "ccm/_layout.j2" %}``.

Promises:

* **Sandboxed and strict.** Templates run in Jinja's immutable sandbox (no ``__class__``
  games, no ``list.append``) with ``StrictUndefined``. Two environments share the files: the
  ``html`` block is rendered with autoescaping, ``subject`` and ``text`` without (so
  "O'Brien" stays "O'Brien" in the text part).
* **One line per failure.** An undefined variable, a syntax error, a sandbox refusal, an
  exception inside the template or a missing file raises :class:`TemplateRenderError` (a
  :class:`~outreach.errors.TemplateError`) whose message is one line
  ``ccm/appeal.j2, line 12: 'contact' has no attribute 'nickname'``.
* **All or nothing.** Every block is rendered before anything is returned; a failure in the
  html block means no :class:`RenderedEmail` at all.
* **Blocks only.** Each block is rendered on its own (``template.blocks``), with the blocks of
  every layout up the ``{% extends %}`` chain registered, so ``{{ super() }}`` and
  ``{{ self.other_block() }}`` work. Code *outside* blocks is never run: put ``{% set %}``,
  ``{% import %}`` and macros inside the blocks that use them.
* **Shapes.** The subject is collapsed to one line (runs of whitespace become one space) and
  checked with :func:`outreach.headersafe.header_problem`; it must not be empty. The text part
  is required and must not be empty: trailing spaces are removed from each line (a
  ``--`` line becomes the signature delimiter ``-- ``), leading and
  trailing blank lines are dropped, and it ends with exactly one newline. The html part, when
  the template has an ``html`` block, is stripped the same way at its ends.
* **Dates in the letter's language.** ``format_date``, ``format_date_range`` and
  ``format_number`` use the locale of the variant actually chosen: the contact's language
  when a variant for it (or for its base language) exists, else the renderer's default
  language (``en``). A Spanish-speaking contact who gets the English default letter gets
  English dates, not Spanish ones in an English sentence. English without a region is
  formatted in the international style ("1 August 2010", Babel's ``en_GB``); ``en-US``
  keeps "August 1, 2010".
* **Cheap per render.** Environments are built once per renderer; Jinja caches compiled
  templates (checking the file's mtime when ``auto_reload``); the file chosen for a
  (template, language) pair and each template's layout chain are cached. Call
  :meth:`TemplateRenderer.clear_cache` after adding or removing variant files.

The template context is documented on :func:`build_context`; the renderer adds ``locale``
(the BCP 47 tag used for dates and numbers, e.g. ``"fr-CA"``).

Modules: :mod:`.context` (the context of one letter), :mod:`.sandbox` (the strict sandbox and
its read-only :class:`Record` values), :mod:`.filters` (Babel dates and numbers,
``paragraphs``), :mod:`.languages` (language tags and locales), :mod:`.errors` (one-line
template errors), :mod:`.renderer` (:class:`TemplateRenderer`).
"""

from __future__ import annotations

from outreach.templating.context import (
    CONTEXT_NAMES,
    build_context,
    contact_record,
    day_context,
    letter_record,
)
from outreach.templating.errors import TemplateRenderError
from outreach.templating.filters import (
    FILTERS,
    country_name,
    format_date,
    format_date_range,
    format_number,
    paragraphs,
)
from outreach.templating.renderer import (
    REQUIRED_BLOCKS,
    SUFFIX,
    RenderedDocument,
    RenderedEmail,
    TemplateRenderer,
)
from outreach.templating.sandbox import Record

__all__ = [
    "CONTEXT_NAMES",
    "FILTERS",
    "REQUIRED_BLOCKS",
    "SUFFIX",
    "Record",
    "RenderedDocument",
    "RenderedEmail",
    "TemplateRenderError",
    "TemplateRenderer",
    "build_context",
    "contact_record",
    "country_name",
    "day_context",
    "format_date",
    "format_date_range",
    "format_number",
    "letter_record",
    "paragraphs",
]
