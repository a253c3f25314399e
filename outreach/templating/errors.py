"""Template failures as one line: ``ccm/appeal.j2, line 12: 'contact' has no attribute
'nickname'`` (the file, the template line, what went wrong), whatever Jinja or the template
code raised."""

from __future__ import annotations

from types import TracebackType

import jinja2

from outreach.errors import TemplateError


class TemplateRenderError(TemplateError):
    """A template failed to compile or render."""

    def __init__(
        self,
        message: str | None = None,
        *,
        template: str | None = None,
        lineno: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The file the problem is in (``ccm/_layout.j2`` when the layout is at fault).
        self.template = template
        #: 1-based line in that file, when known.
        self.lineno = lineno
        #: What went wrong, without the location.
        self.reason = reason

    @classmethod
    def at(cls, template: str | None, lineno: int | None, reason: str) -> TemplateRenderError:
        """The one-line error ``<template>, line <n>: <reason>``."""
        where = template or "<template>"
        if lineno is not None:
            where = f"{where}, line {lineno}"
        return cls(f"{where}: {reason}", template=template, lineno=lineno, reason=reason)


def _location(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost template frame of a traceback: (template name, template line)."""
    name: str | None = None
    lineno: int | None = None
    while tb is not None:
        tmpl = tb.tb_frame.f_globals.get("__jinja_template__")
        if tmpl is not None:
            name = tmpl.name
            lineno = tmpl.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return name, lineno


def _reason(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not found"
    if isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(message.split())  # one line, whatever the exception said


def as_render_error(exc: BaseException, default_template: str | None) -> TemplateRenderError:
    """``exc`` (raised while loading or rendering a template) as a one-line
    :class:`TemplateRenderError` naming the innermost template file and line it can find
    (``default_template`` when none)."""
    if isinstance(exc, TemplateRenderError):
        return exc
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateRenderError.at(exc.name or default_template, exc.lineno, _reason(exc))
    name, lineno = _location(exc.__traceback__)
    return TemplateRenderError.at(name or default_template, lineno, _reason(exc))
