"""``/healthz`` (JSON: database, migrations, last success per daemon job, the problems
``status --check`` would print; 503 when there are any) and ``/metrics`` (Prometheus text),
served by the console and by the daemon on ``OUTREACH_METRICS_PORT`` (:func:`health_app`)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from outreach.clock import Clock
from outreach.db import Engine
from outreach.metrics import METRICS_CONTENT_TYPE, metrics_text
from outreach.operations.health import healthz as judge
from outreach.settings import Settings
from outreach.web.security import SecurityHeaders


def _engine(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine


async def healthz(request: Request) -> Response:
    """GET /healthz."""
    state = request.app.state
    settings: Settings = state.settings
    clock: Clock = state.clock
    report = await run_in_threadpool(judge, _engine(request), settings=settings, now=clock.now())
    return JSONResponse(report.body, status_code=report.status_code)


async def metrics(request: Request) -> Response:
    """GET /metrics."""
    body = await run_in_threadpool(metrics_text, _engine(request))
    return Response(body, media_type=METRICS_CONTENT_TYPE)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]


def health_app(engine: Engine, settings: Settings, clock: Clock) -> Starlette:
    """An application serving only ``/healthz`` and ``/metrics`` (the daemon's port)."""
    app = Starlette(routes=list(ROUTES), middleware=[Middleware(SecurityHeaders)])
    app.state.engine = engine
    app.state.settings = settings
    app.state.clock = clock
    return app
