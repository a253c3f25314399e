"""The headers every response carries, and the stricter ones of a letter's HTML.

The console's pages run no script at all (no ``script-src``), may not be framed
(``frame-ancestors 'none'``, ``X-Frame-Options: DENY``), send no referrer, and are not
stored by the browser (``no-store``: they show letters and contacts). A letter's HTML is served
on its own to a sandboxed frame of the console with :data:`LETTER_POLICY`: no scripts, nothing
loaded from anywhere (only ``data:`` images and inline styles), framed by the console only.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The Content-Security-Policy of every console page.
CONSOLE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

#: The Content-Security-Policy of a letter's HTML (shown in the console's sandboxed frame).
LETTER_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
)

#: Headers a letter's HTML is served with (on top of the defaults it does not override).
LETTER_HEADERS = {
    "Content-Security-Policy": LETTER_POLICY,
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}

_DEFAULTS = (
    ("content-security-policy", CONSOLE_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


class SecurityHeaders:
    """ASGI middleware: adds every default header a response does not set itself, and
    ``Cache-Control: no-store`` except on static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = list(_DEFAULTS)
                if not static:
                    wanted.append(("cache-control", "no-store"))
                for name, value in wanted:
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
