"""``/healthz`` (JSON: database, migrations, last success per daemon job; 503 when the
database is down) and ``/metrics`` (Prometheus text), served by the console and by the
daemon on ``OUTREACH_METRICS_PORT`` (:func:`health_app`)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from outreach.db import Engine
from outreach.health import METRICS_CONTENT_TYPE, health, metrics_text
from outreach.web.security import SecurityHeaders


def _engine(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine


async def healthz(request: Request) -> Response:
    """GET /healthz."""
    report = await run_in_threadpool(health, _engine(request))
    return JSONResponse(report.body, status_code=report.status_code)


async def metrics(request: Request) -> Response:
    """GET /metrics."""
    body = await run_in_threadpool(metrics_text, _engine(request))
    return Response(body, media_type=METRICS_CONTENT_TYPE)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]


def health_app(engine: Engine) -> Starlette:
    """An application serving only ``/healthz`` and ``/metrics`` (the daemon's port)."""
    app = Starlette(routes=list(ROUTES), middleware=[Middleware(SecurityHeaders)])
    app.state.engine = engine
    return app
