"""The web console (``outreach web``): server-rendered pages over the same services as the CLI.

Modules: :mod:`.app` (the Starlette application and its routes), :mod:`.context` (what every
request shares: engine, settings, clock, templates; database work off the event loop),
:mod:`.auth` (sessions, roles and CSRF for each endpoint), :mod:`.security` (the headers every
response carries), :mod:`.pages` (the autoescaping Jinja2 environment of the console's own
templates — never the letters' sandbox), :mod:`.routes` (one module per page), :mod:`.server`
(uvicorn). The pages need no JavaScript; the only script-like content, a letter's HTML, is
shown in a sandboxed frame served with its own strict Content-Security-Policy.
"""
