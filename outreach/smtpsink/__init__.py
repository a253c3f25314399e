"""An SMTP server in this process (aiosmtpd on loopback) that accepts, records and fails on cue.

One sink for everything that needs a server to send to: the demo (each message written to an
``.eml`` file through :class:`EmlFolder`), the tests (recordings and per-test faults) and the
benchmarks (delays at RCPT and DATA, nothing kept). :class:`SmtpSink` runs aiosmtpd's threaded
``Controller`` on a free loopback port; it is a real socket, so a dispatcher in another process
reaches it like any server:

    with SmtpSink() as smtp:
        smtp.script_rcpt(lambda rcpt, n: "550 5.1.1 No such user" if rcpt.startswith("x") else None)
        smtp.fail_data_next(1, "451 4.3.0 Try again later")
        smtp.script_replies("<id@example.org>", ["451 4.3.0 Busy", None])  # then accepted
        ... send to (smtp.host, smtp.port) ...
        assert smtp.count_by_message_id() == {"<id@example.org>": 1}

Decisions worth knowing:

* Every reply is decided on the server thread by asking the owner (thread-safe); a fault is a
  reply line (``"451 4.3.0 …"``), :data:`DROP` (hang up after the data, never answer), or a
  delay. Scripts see attempt numbers per address (RCPT) and per Message-ID (DATA).
* ``record=False`` keeps nothing but the count of accepted messages (benchmarks); the
  ``on_message`` hook still sees every accepted message (the demo writes it to disk).
* ``stop()`` / ``start()`` take the server down and up again on the same port (recordings and
  scripts are kept). STARTTLS (``tls_context=``, ``require_starttls=``), implicit TLS
  (``implicit_tls_context=``) and AUTH (``auth={"user": "password"}``; an empty mapping refuses
  every login) are options.
* aiosmtpd's UserWarning for "AUTH required without TLS" is avoided by setting that flag after
  the SMTP object is built, so nothing here trips pytest's ``filterwarnings = error``.
"""

from __future__ import annotations

from outreach.smtpsink.server import EmlFolder, SmtpSink, free_port
from outreach.smtpsink.values import DROP, DataAttempt, DataRequest, RcptAttempt, Received

__all__ = [
    "DROP",
    "DataAttempt",
    "DataRequest",
    "EmlFolder",
    "RcptAttempt",
    "Received",
    "SmtpSink",
    "free_port",
]
