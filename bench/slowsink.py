"""An aiosmtpd sink with per-command delays: ``python -m bench.slowsink PORT RCPT_MS DATA_MS``.

Used where Postfix's smtp-sink cannot go: its ``-w``/``-W`` delays are whole seconds, and the
slow-server benchmark wants 20 ms at RCPT and DATA (a relay across a network). Also the
fallback fast sink (delays 0) when smtp-sink is not installed. Accepts and discards mail; prints
``READY`` once listening and the number of messages accepted when stopped (SIGTERM).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import warnings


class _Handler:
    def __init__(self, rcpt_delay: float, data_delay: float) -> None:
        self.rcpt_delay = rcpt_delay
        self.data_delay = data_delay
        self.accepted = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.accepted += 1
        return "250 2.0.0 queued"


async def serve(port: int, rcpt_ms: float, data_ms: float) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from aiosmtpd.smtp import SMTP

    handler = _Handler(rcpt_ms / 1000, data_ms / 1000)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="slowsink", data_size_limit=None),
        host="127.0.0.1",
        port=port,
        backlog=512,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY", flush=True)
    await stop.wait()
    server.close()
    return handler.accepted


def main() -> None:
    port, rcpt_ms, data_ms = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    accepted = asyncio.run(serve(port, rcpt_ms, data_ms))
    print(f"ACCEPTED {accepted}", flush=True)


if __name__ == "__main__":
    main()
