"""The SMTP sink of :mod:`outreach.smtpsink` as a process with per-command delays:
``python -m bench.slowsink PORT RCPT_MS DATA_MS``.

Used where Postfix's smtp-sink cannot go: its ``-w``/``-W`` delays are whole seconds, and the
slow-server benchmark wants 20 ms at RCPT and DATA (a relay across a network). Also the
fallback fast sink (delays 0) when smtp-sink is not installed. Accepts and discards mail; prints
``READY`` once listening and the number of messages accepted when stopped (SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import threading

from outreach.smtpsink.server import SmtpSink


def serve(port: int, rcpt_ms: float, data_ms: float) -> int:
    """Run the sink on 127.0.0.1:``port`` until SIGTERM or SIGINT; return how many messages
    it accepted."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sink = SmtpSink(
        port=port, server_hostname="slowsink", data_size_limit=None, record=False, backlog=512
    )
    sink.set_rcpt_delay(rcpt_ms / 1000)
    sink.set_data_delay(data_ms / 1000)
    with sink:
        print("READY", flush=True)
        while not stop.wait(1.0):
            pass
    return sink.accepted


def main() -> None:
    port, rcpt_ms, data_ms = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    accepted = serve(port, rcpt_ms, data_ms)
    print(f"ACCEPTED {accepted}", flush=True)


if __name__ == "__main__":
    main()
