"""Serving an ASGI application with uvicorn: ``outreach web`` in the foreground, the daemon's
health port inside its own event loop, and the tests in a thread."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (the daemon, a test)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def config(app: Any, *, host: str, port: int, access_log: bool = False) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` on ``host:port`` (outreach's logging, no
    lifespan). A reverse proxy's X-Forwarded-For is trusted from uvicorn's default
    ``FORWARDED_ALLOW_IPS`` (127.0.0.1) only, so sign-in throttling sees the client's address
    behind a proxy on the same host."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=access_log,
        lifespan="off",
        server_header=False,
    )


def serve(app: Any, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (what was printed so far is flushed first: a pipe
    or a container log sees the address and sign-in before the server blocks)."""
    sys.stdout.flush()
    uvicorn.Server(config(app, host=host, port=port, access_log=True)).run()


@contextlib.contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host`` in a background thread for the block; yields
    its base URL (``http://127.0.0.1:PORT``). Used by the tests and the screenshot script."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = QuietServer(config(app, host=host, port=port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
