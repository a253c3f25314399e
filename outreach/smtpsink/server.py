"""The SMTP sink itself: :class:`SmtpSink` (start, stop, faults, recordings), :class:`EmlFolder`
(the demo's ``.eml`` writer) and :func:`free_port`."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from outreach.smtpsink.protocol import Authenticator, Handler, SinkController
from outreach.smtpsink.values import (
    ACCEPTED_DATA,
    ACCEPTED_RCPT,
    DROP,
    AddressScript,
    DataAttempt,
    DataRequest,
    DataScript,
    EnvelopeScript,
    RcptAttempt,
    Received,
)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host`` (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmlFolder:
    """An ``on_message`` hook writing each message's bytes to the next numbered ``.eml`` file
    (``0001.eml``, ``0002.eml`` …) in ``folder``, which it creates."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, received: Received) -> None:
        with self._lock:
            self.count += 1
            n = self.count
        (self.folder / f"{n:04d}.eml").write_bytes(received.content)


class SmtpSink:
    """A recording, fault-injecting SMTP server on ``host:port`` (127.0.0.1, a free port).

    Not started until :meth:`start` or ``with``. Thread-safe: the server runs on its own
    thread; every public method may be called from any thread while it runs. ``on_message``
    is called (on the server thread) with each accepted message; ``record=False`` keeps no
    recordings, only :attr:`accepted`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        server_hostname: str = "smtp.test.example.org",
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls_context: ssl.SSLContext | None = None,
        auth: Mapping[str, str] | None = None,
        auth_required: bool = False,
        auth_require_tls: bool = True,
        data_size_limit: int | None = 10 * 1024 * 1024,
        timeout: float = 60.0,
        on_message: Callable[[Received], None] | None = None,
        record: bool = True,
        backlog: int = 100,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self._server_hostname = server_hostname
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._implicit_tls_context = implicit_tls_context
        self._auth = dict(auth) if auth is not None else None
        self._auth_required = auth_required
        self._auth_require_tls = auth_require_tls
        self._data_size_limit = data_size_limit
        self._timeout = timeout
        self._on_message = on_message
        self._record = record
        self._backlog = backlog
        self._controller: SinkController | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received: list[Received] = []
        self._accepted = 0
        self._data_attempts: list[DataAttempt] = []
        self._rcpt_attempts: list[RcptAttempt] = []
        self._helo_count = 0
        self._rcpt_counts: Counter[str] = Counter()
        self._mail_counts: Counter[str] = Counter()
        self._data_counts: Counter[str | None] = Counter()
        self.reset_faults()

    # --- lifecycle ---------------------------------------------------------------------------

    def _new_controller(self) -> SinkController:
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": self._server_hostname,
            "data_size_limit": self._data_size_limit,
            "timeout": self._timeout,
            "ready_timeout": 10.0,
        }
        if self._implicit_tls_context is not None:
            kwargs["ssl_context"] = self._implicit_tls_context
        if self._tls_context is not None:
            kwargs["tls_context"] = self._tls_context
            kwargs["require_starttls"] = self._require_starttls
        if self._auth is not None:
            kwargs["authenticator"] = Authenticator(self._auth)
            kwargs["auth_require_tls"] = self._auth_require_tls
        return SinkController(
            Handler(self),
            force_auth_required=self._auth_required,
            backlog=self._backlog,
            **kwargs,
        )

    def start(self) -> SmtpSink:
        """Start listening (again, on the same port after :meth:`stop`). Returns self."""
        if self._controller is not None:
            raise RuntimeError("SmtpSink already running")
        controller = self._new_controller()
        deadline = time.monotonic() + 5.0
        while True:
            try:
                controller.start()
                break
            except OSError:  # the port is still held by the previous run: retry briefly
                controller.stop(no_assert=True)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                controller = self._new_controller()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections; recordings and scripts are kept."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SmtpSink {self.host}:{self.port} {state}>"

    # --- fault injection ---------------------------------------------------------------------

    def reset_faults(self) -> None:
        """Forget every script and delay: accept everything again, at once."""
        with self._lock:
            self._rcpt_script: AddressScript | None = None
            self._mail_script: AddressScript | None = None
            self._data_script: EnvelopeScript | None = None
            self._data_next: deque[str] = deque()
            self._per_message: dict[str, deque[str | None]] = {}
            self._data_delay = 0.0
            self._rcpt_delay = 0.0

    def script_rcpt(self, script: AddressScript | None) -> None:
        """Decide each RCPT TO: ``script(address, n)`` returns a reply such as
        ``"550 5.1.1 No such user"`` or None to accept. ``n`` counts from 1 per address."""
        with self._lock:
            self._rcpt_script = script

    def script_mail(self, script: AddressScript | None) -> None:
        """Decide each MAIL FROM the same way (``(sender, n) -> reply or None``)."""
        with self._lock:
            self._mail_script = script

    def script_data(self, script: DataScript | None) -> None:
        """Decide each DATA: ``script(message_id, n)`` returns a reply, :data:`DROP` or None
        to accept. ``n`` counts DATA attempts for that Message-ID, from 1."""
        self.script_envelope(
            None if script is None else lambda request: script(request.message_id, request.attempt)
        )

    def script_envelope(self, script: EnvelopeScript | None) -> None:
        """Decide each DATA from the whole :class:`DataRequest` (sender, recipients,
        Message-ID, attempt): a reply, :data:`DROP` or None to accept."""
        with self._lock:
            self._data_script = script

    def fail_data_next(self, n: int, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next ``n`` DATA commands (whatever the message) with ``reply``."""
        with self._lock:
            self._data_next.extend([reply] * n)

    def drop_data_next(self, n: int = 1) -> None:
        """Close the connection after the next ``n`` messages' data, without replying."""
        self.fail_data_next(n, DROP)

    def script_replies(self, message_id: str, replies: Sequence[str | None]) -> None:
        """Answer successive DATA attempts of ``message_id`` with ``replies`` in order
        (None = accept, :data:`DROP` = hang up); once they run out, accept."""
        with self._lock:
            self._per_message[message_id] = deque(replies)

    def set_data_delay(self, seconds: float) -> None:
        """Wait this long before answering each DATA (slow relays, client timeouts)."""
        with self._lock:
            self._data_delay = seconds

    def set_rcpt_delay(self, seconds: float) -> None:
        """Wait this long before answering each RCPT TO."""
        with self._lock:
            self._rcpt_delay = seconds

    # --- what was received -------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Accepted messages, oldest first (a copy; empty when not recording)."""
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> int:
        """How many messages were accepted (counted even when not recording)."""
        with self._lock:
            return self._accepted

    def received_message_ids(self) -> list[str | None]:
        """Message-IDs of accepted messages, in order, duplicates included."""
        return [r.message_id for r in self.received]

    def count_by_message_id(self) -> dict[str | None, int]:
        """How many times each Message-ID was accepted (more than 1 means a duplicate)."""
        return dict(Counter(r.message_id for r in self.received))

    @property
    def data_attempts(self) -> list[DataAttempt]:
        """Every completed DATA with the reply chosen (a copy); dropped ones say DROP."""
        with self._lock:
            return list(self._data_attempts)

    @property
    def rcpt_attempts(self) -> list[RcptAttempt]:
        with self._lock:
            return list(self._rcpt_attempts)

    @property
    def helo_count(self) -> int:
        """EHLO/HELO commands seen: roughly the number of SMTP sessions."""
        with self._lock:
            return self._helo_count

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` messages were accepted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._accepted < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def clear(self) -> None:
        """Forget what was received and attempted (scripts stay)."""
        with self._lock:
            self._received.clear()
            self._accepted = 0
            self._data_attempts.clear()
            self._rcpt_attempts.clear()
            self._helo_count = 0
            self._rcpt_counts.clear()
            self._mail_counts.clear()
            self._data_counts.clear()

    # --- asked by the handler on the server thread -------------------------------------------

    def note_helo(self) -> None:
        """Count one EHLO/HELO."""
        with self._lock:
            self._helo_count += 1

    def mail_reply(self, address: str) -> str | None:
        """The reply to MAIL FROM ``address``: None to accept."""
        with self._lock:
            self._mail_counts[address] += 1
            script, n = self._mail_script, self._mail_counts[address]
        return script(address, n) if script is not None else None

    def rcpt_reply(self, address: str) -> tuple[str | None, float]:
        """The reply to RCPT TO ``address`` (None to accept) and the delay before it."""
        with self._lock:
            self._rcpt_counts[address] += 1
            script, n, delay = self._rcpt_script, self._rcpt_counts[address], self._rcpt_delay
        reply = script(address, n) if script is not None else None
        if self._record:
            with self._lock:
                self._rcpt_attempts.append(RcptAttempt(address, reply or ACCEPTED_RCPT))
        return reply, delay

    def data_reply(
        self, *, mail_from: str, rcpt_tos: tuple[str, ...], message_id: str | None
    ) -> tuple[str | None, float]:
        """The reply to a DATA command (None to accept, :data:`DROP`) and the delay before
        it: the next queued failure, else this Message-ID's scripted replies, else the
        script's answer."""
        with self._lock:
            self._data_counts[message_id] += 1
            n = self._data_counts[message_id]
            reply: str | None = None
            decided = False
            if self._data_next:
                reply, decided = self._data_next.popleft(), True
            elif message_id is not None and self._per_message.get(message_id):
                reply, decided = self._per_message[message_id].popleft(), True
            script, delay = self._data_script, self._data_delay
        request = DataRequest(mail_from, rcpt_tos, message_id, n)
        if not decided and script is not None:
            reply = script(request)
        if self._record:
            with self._lock:
                self._data_attempts.append(DataAttempt.of(request, reply or ACCEPTED_DATA))
        return reply, delay

    def accept(self, received: Received) -> None:
        """Count (and record) an accepted message and pass it to ``on_message``."""
        with self._changed:
            self._accepted += 1
            if self._record:
                self._received.append(received)
            self._changed.notify_all()
        if self._on_message is not None:
            self._on_message(received)
