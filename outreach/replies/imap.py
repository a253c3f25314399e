"""A thin, read-only IMAP client for reply intake, on top of ``imapclient``.

Why imapclient: maintained, UID-based by default, parses SELECT/STATUS responses (UIDVALIDITY,
UIDNEXT) and FETCH literals for us, and takes an ``ssl.SSLContext`` for both implicit TLS and
STARTTLS.

Read-only by construction: the mailbox is opened with EXAMINE and bodies are fetched with
``BODY.PEEK[]``, so no flag (``\\Seen`` included) is ever set and nothing is deleted or expunged.
Bookkeeping (the UIDVALIDITY and the highest UID processed, stored only after the database
commit) belongs to the caller::

    with ImapMailbox(config) as box:
        uidvalidity, uidnext = box.select()
        last = stored.last_uid if stored and stored.uidvalidity == uidvalidity else 0
        for batch in box.fetch_since(last):
            ...  # parse, store, commit; then record (uidvalidity, batch[-1][0])

Every failure (network, TLS, login, protocol) is raised as :class:`ImapError` with one line that
names the server and never contains the password.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import imapclient
from imapclient.exceptions import IMAPClientError

from outreach.errors import ImapError, SettingsError
from outreach.settings import TlsMode

_TLS_MODES = ("tls", "starttls", "none")


@dataclass(frozen=True)
class ImapConfig:
    """Where and how to read the reply mailbox. ``password`` never appears in repr or errors.

    ``tls``: ``"tls"`` (implicit TLS, usually port 993), ``"starttls"`` (usually 143) or
    ``"none"`` (tests on loopback only). ``ssl_context`` defaults to the system trust store with
    hostname checks. ``timeout`` is in seconds, per socket operation.
    """

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: TlsMode = "tls"
    mailbox: str = "INBOX"
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    timeout: float = 30

    def __post_init__(self) -> None:
        if self.tls not in _TLS_MODES:
            raise SettingsError(
                f"IMAP_TLS must be one of {', '.join(_TLS_MODES)}, not {self.tls!r}"
            )

    @property
    def label(self) -> str:
        """``user@host:port/mailbox``, for messages and logs (no password)."""
        return f"{self.username}@{self.host}:{self.port}/{self.mailbox}"


class ImapMailbox:
    """One read-only session on one mailbox; use as a context manager.

    ``__enter__`` connects (and does STARTTLS) and logs in; ``__exit__`` logs out, ignoring
    errors on the way out.
    """

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._client: imapclient.IMAPClient | None = None
        self._selected: tuple[int, int] | None = None

    # --- session ---------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Connect, secure the connection as configured, and log in."""
        cfg = self.config
        context = cfg.ssl_context or ssl.create_default_context()
        with self._errors("connect to"):
            self._client = imapclient.IMAPClient(
                cfg.host,
                port=cfg.port,
                use_uid=True,
                ssl=cfg.tls == "tls",
                ssl_context=context if cfg.tls == "tls" else None,
                timeout=cfg.timeout,
            )
        try:
            if cfg.tls == "starttls":
                with self._errors("start TLS with"):
                    self._client.starttls(context)
            with self._errors("log in to"):
                self._client.login(cfg.username, cfg.password)
        except ImapError:
            self._drop()
            raise

    def close(self) -> None:
        """Log out; never raises."""
        client, self._client = self._client, None
        self._selected = None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with suppress(Exception):
                client.shutdown()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with suppress(Exception):
                client.shutdown()

    # --- reading ---------------------------------------------------------------------------

    def select(self) -> tuple[int, int]:
        """EXAMINE the configured mailbox; return ``(uidvalidity, uidnext)``.

        A changed UIDVALIDITY means every stored UID for this mailbox is meaningless: the caller
        re-scans from 0 and de-duplicates by Message-ID.
        """
        client = self._require()
        with self._errors("open the mailbox on"):
            info = client.select_folder(self.config.mailbox, readonly=True)
            uidvalidity = info.get(b"UIDVALIDITY")
            uidnext = info.get(b"UIDNEXT")
            if uidvalidity is None or uidnext is None:
                status = client.folder_status(self.config.mailbox, [b"UIDVALIDITY", b"UIDNEXT"])
                uidvalidity = status.get(b"UIDVALIDITY", uidvalidity)
                uidnext = status.get(b"UIDNEXT", uidnext)
        if uidvalidity is None:
            raise ImapError(f"IMAP server {self.config.label} reported no UIDVALIDITY")
        self._selected = (int(uidvalidity), int(uidnext or 0))
        return self._selected

    def fetch_since(self, last_uid: int, batch: int = 200) -> Iterator[list[tuple[int, bytes]]]:
        """Yield the messages with UID > ``last_uid``, oldest first, ``batch`` at a time.

        Each item is a list of ``(uid, raw_bytes)`` sorted by UID. Uses ``UID SEARCH`` and
        ``UID FETCH ... BODY.PEEK[]``: no flag changes. ``N:*`` always matches the highest UID
        even when it is below N, so UIDs are filtered again here. A message that vanished
        between SEARCH and FETCH (expunged by another client) is skipped.
        """
        if batch < 1:
            raise ValueError("batch must be at least 1")
        client = self._require()
        if self._selected is None:
            self.select()
        with self._errors("search"):
            found = client.search(["UID", f"{int(last_uid) + 1}:*"])
        uids = sorted({int(u) for u in found if int(u) > last_uid})
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            with self._errors("fetch from"):
                response = client.fetch(chunk, ["BODY.PEEK[]"])
            out: list[tuple[int, bytes]] = []
            for uid in chunk:
                data = response.get(uid) or {}
                raw = data.get(b"BODY[]")
                if isinstance(raw, bytes | bytearray):
                    out.append((uid, bytes(raw)))
            if out:
                yield out

    # --- helpers ---------------------------------------------------------------------------

    def _require(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise ImapError(f"IMAP session to {self.config.label} is not open")
        return self._client

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn library, TLS and socket errors into one-line :class:`ImapError`s."""
        try:
            yield
        except ImapError:
            raise
        except (IMAPClientError, ssl.SSLError, TimeoutError, OSError, EOFError) as exc:
            raise ImapError(self._describe(action, exc)) from None

    def _describe(self, action: str, exc: BaseException) -> str:
        cfg = self.config
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, bytes | bytearray):  # pragma: no cover - defensive
            detail = bytes(exc).decode("utf-8", "replace")
        if detail.startswith("b'") or detail.startswith('b"'):
            detail = detail[2:-1]
        if cfg.password:
            detail = detail.replace(cfg.password, "***")
        detail = " ".join(detail.split())[:300]
        kind = type(exc).__name__
        return f"IMAP: could not {action} {cfg.label} ({kind}: {detail})"
