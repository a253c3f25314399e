"""A real Dovecot IMAP server for tests, with its own configuration in a temporary folder.

Usage::

    with DovecotServer(tls=True) as server:
        uid = server.append(raw)
        with ImapMailbox(server.config) as box: ...        # plain IMAP on loopback
        with ImapMailbox(server.tls_config) as box: ...    # implicit TLS, test CA trusted

Facts this relies on (see /work/shared/notes/dovecot-in-tests.md): run as root, the login and
internal processes need the ``dovenull`` and ``dovecot`` users and the mail folder must be owned
by a uid >= ``first_valid_uid``; as another user, everything runs as that user. Dovecot
daemonizes and keeps the stdio it inherited, so it starts with stdio on /dev/null. It is
stopped by the PID in ``base_dir/master.pid``, never by name.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import imapclient

from outreach.replies.imap import ImapConfig

USERNAME = "replies@example.org"
PASSWORD = "s3cret-Test-Passw0rd"


def dovecot_available() -> bool:
    """True when a ``dovecot`` binary is on PATH (Debian: ``apt-get install dovecot-imapd``)."""
    return shutil.which("dovecot") is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DovecotServer:
    """One Dovecot instance on 127.0.0.1 with one user and a Maildir INBOX.

    ``port`` is plain IMAP (STARTTLS offered when ``tls=True``); ``tls_port`` is implicit TLS
    (``tls=True`` only), with a certificate for 127.0.0.1/localhost from a trustme test CA.
    """

    def __init__(self, *, tls: bool = False, username: str = USERNAME, password: str = PASSWORD):
        self.tls = tls
        self.username = username
        self.password = password
        self.port = 0
        self.tls_port = 0
        self.ca = None
        self.tmp: Path | None = None
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configuration, start ``dovecot -c``, wait until the port answers."""
        if not dovecot_available():
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        self.tmp = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
        self.tmp.chmod(0o755)  # the mail and auth processes run as other users
        self.port = free_port()
        self.tls_port = free_port() if self.tls else 0
        conf = self._write_config()
        subprocess.run(
            ["dovecot", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=30,
        )
        self._started = True
        try:
            self._wait_for_port(self.port)
            if self.tls:
                self._wait_for_port(self.tls_port)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the instance (PID from ``master.pid``) and remove its folder."""
        if self.tmp is None:
            return
        pid_file = self.tmp / "run" / "master.pid"
        if self._started and pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.05)
        self._started = False
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def log(self) -> str:
        """Dovecot's log so far (for failure messages)."""
        if self.tmp is None:
            return ""
        path = self.tmp / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- clients ---------------------------------------------------------------------------

    @property
    def config(self) -> ImapConfig:
        """Plain IMAP on loopback, as the test user."""
        return ImapConfig(
            host="127.0.0.1",
            port=self.port,
            username=self.username,
            password=self.password,
            tls="none",
            timeout=10,
        )

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA."""
        if self.ca is None:
            raise RuntimeError("this server was started without tls=True")
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    @property
    def tls_config(self) -> ImapConfig:
        """Implicit TLS on loopback, trusting the test CA."""
        return ImapConfig(
            host="127.0.0.1",
            port=self.tls_port,
            username=self.username,
            password=self.password,
            tls="tls",
            ssl_context=self.client_ssl_context(),
            timeout=10,
        )

    @property
    def starttls_config(self) -> ImapConfig:
        """STARTTLS on the plain port, trusting the test CA."""
        return ImapConfig(
            host="127.0.0.1",
            port=self.port,
            username=self.username,
            password=self.password,
            tls="starttls",
            ssl_context=self.client_ssl_context(),
            timeout=10,
        )

    def _admin(self) -> imapclient.IMAPClient:
        client = imapclient.IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, mailbox: str = "INBOX") -> int:
        """APPEND ``raw`` to ``mailbox`` (created if missing) and return its UID."""
        client = self._admin()
        try:
            if mailbox != "INBOX" and not client.folder_exists(mailbox):
                client.create_folder(mailbox)
            response = client.append(mailbox, raw)
            text = (
                response.decode("ascii", "replace")
                if isinstance(response, bytes)
                else str(response)
            )
            m = re.search(r"APPENDUID \d+ (\d+)", text)
            if m:
                return int(m.group(1))
            client.select_folder(mailbox, readonly=True)
            return max(client.search(["ALL"]))
        finally:
            client.logout()

    def flags(self, uids: list[int], mailbox: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """The flags of ``uids``, read without changing them."""
        client = self._admin()
        try:
            client.select_folder(mailbox, readonly=True)
            return {uid: tuple(flags) for uid, flags in client.get_flags(uids).items()}
        finally:
            client.logout()

    def status(self, mailbox: str = "INBOX") -> tuple[int, int]:
        """``(UIDVALIDITY, UIDNEXT)`` of ``mailbox`` via STATUS."""
        client = self._admin()
        try:
            info = client.folder_status(mailbox, [b"UIDVALIDITY", b"UIDNEXT"])
            return int(info[b"UIDVALIDITY"]), int(info[b"UIDNEXT"])
        finally:
            client.logout()

    # --- internals -------------------------------------------------------------------------

    def _wait_for_port(self, port: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"dovecot did not listen on 127.0.0.1:{port}; log:\n{self.log()[-3000:]}"
        )

    def _write_config(self) -> Path:
        assert self.tmp is not None
        tmp = self.tmp
        if os.geteuid() == 0:
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            login_user = internal_user = mail_user = me
        mail_pw = pwd.getpwnam(mail_user)
        home = tmp / "home"
        home.mkdir()
        if os.geteuid() == 0:
            os.chown(home, mail_pw.pw_uid, mail_pw.pw_gid)
        passwd = tmp / "passwd"
        passwd.write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        passwd.chmod(0o644)
        ssl_lines = "ssl = no\n"
        tls_listener = "  inet_listener imaps {\n    port = 0\n  }\n"
        if self.tls:
            import trustme

            self.ca = trustme.CA()
            cert = self.ca.issue_cert("127.0.0.1", "localhost")
            cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
            cert.cert_chain_pems[0].write_to_path(str(cert_path))
            for extra in cert.cert_chain_pems[1:]:
                with cert_path.open("ab") as fh:
                    fh.write(extra.bytes())
            cert.private_key_pem.write_to_path(str(key_path))
            ssl_lines = f"ssl = yes\nssl_cert = <{cert_path}\nssl_key = <{key_path}\n"
            tls_listener = (
                "  inet_listener imaps {\n"
                "    address = 127.0.0.1\n"
                f"    port = {self.tls_port}\n"
                "    ssl = yes\n"
                "  }\n"
            )
        conf = tmp / "dovecot.conf"
        conf.write_text(
            f"base_dir = {tmp}/run\n"
            f"state_dir = {tmp}/state\n"
            f"log_path = {tmp}/dovecot.log\n"
            f"info_log_path = {tmp}/dovecot.log\n"
            "protocols = imap\n"
            "listen = 127.0.0.1\n"
            f"default_login_user = {login_user}\n"
            f"default_internal_user = {internal_user}\n"
            "first_valid_uid = 100\n"
            "auth_mechanisms = plain\n"
            "disable_plaintext_auth = no\n"
            f"{ssl_lines}"
            f"mail_location = maildir:{home}/%n/Maildir\n"
            "passdb {\n"
            "  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {passwd}\n"
            "}\n"
            "userdb {\n"
            "  driver = static\n"
            f"  args = uid={mail_pw.pw_uid} gid={mail_pw.pw_gid} home={home}/%n\n"
            "}\n"
            "service imap-login {\n"
            "  inet_listener imap {\n"
            "    address = 127.0.0.1\n"
            f"    port = {self.port}\n"
            "  }\n"
            f"{tls_listener}"
            "}\n"
        )
        return conf
