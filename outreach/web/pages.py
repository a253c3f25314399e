"""The console's own templates: an autoescaping Jinja2 environment over
``outreach/web/templates`` (never the letters' sandboxed environment), and rendering a page.

Everything a template prints is escaped unless a template marks it safe, and none does with
data from a letter, a contact or a reply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from outreach.identity import Role, role_allows

#: What a ``?done=`` code after an action says (only these fixed texts are ever shown).
NOTICES = {
    "approved": "Approved: the letter will leave at its scheduled time.",
    "partially_approved": "Your approval is recorded; the letter needs another reviewer.",
    "approved_all": "Approved every letter of the campaign waiting for your review.",
    "rejected": "Rejected: the letter will never be sent.",
    "edited": "Edited: the letter is back in review, earlier approvals cleared.",
    "unchanged": "No change.",
    "paused": "Campaign paused: nothing is planned or sent.",
    "resumed": "Campaign resumed.",
    "suppressed": "Address suppressed.",
    "already_suppressed": "That address was already suppressed.",
    "lifted": "Suppression lifted.",
    "reclassified": "Reclassified: the old class's effects were undone and the new one's applied.",
    "confirmed": "Classification kept and marked reviewed.",
    "resolved": "Message resolved.",
    "requeued": "Message requeued: it will be sent again.",
    "cancelled": "Message cancelled.",
    "disabled": "Account disabled; its sessions ended.",
    "password": "Password set. Sign in with it.",
}


def build_pages() -> Environment:
    """The Jinja2 environment of the console's templates (autoescaped, strict)."""
    env = Environment(
        loader=PackageLoader("outreach.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["local"] = local_time
    env.globals["query"] = query
    env.globals["notices"] = NOTICES
    return env


def when(moment: datetime | str | None) -> str:
    """A moment as ``2010-04-23 09:00 UTC`` (ISO strings are read first); "—" for none."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def local_time(iso: str | None) -> str:
    """An ISO 8601 moment with its offset, as ``2010-04-23 09:00 (+02:00)``."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso)
    offset = moment.strftime("%z")
    return (
        f"{moment:%Y-%m-%d %H:%M} ({offset[:3]}:{offset[3:]})"
        if offset
        else f"{moment:%Y-%m-%d %H:%M}"
    )


def query(**params: Any) -> str:
    """A query string of the non-empty ``params`` (``?a=1&b=x``), or ""."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(kept) if kept else ""


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` for the signed-in user of ``request`` (if any)."""
    pages: Environment = request.app.state.web.pages
    user = getattr(request.state, "user", None)
    html = pages.get_template(template).render(
        request_path=request.url.path,
        user=user,
        can_operate=bool(user) and role_allows(user.role, Role.OPERATOR),
        can_admin=bool(user) and role_allows(user.role, Role.ADMIN),
        utc=ZoneInfo("UTC"),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def render_outcome(
    request: Request,
    template: str,
    *,
    error: str | None = None,
    error_status: int = 400,
    **context: Any,
) -> HTMLResponse:
    """A page an action comes back to: with the action's ``error`` (a refusal, status
    ``error_status``), else with the notice of the ``?done=`` code the redirect carried."""
    return render(
        request,
        template,
        status_code=error_status if error else 200,
        error=error,
        done=request.query_params.get("done"),
        **context,
    )
