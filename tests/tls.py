"""A throwaway certificate authority for TLS tests (STARTTLS / implicit TLS on 127.0.0.1).

Uses ``trustme``: nothing touches the system trust store, nothing is fetched. Each call makes
fresh keys, so tests never share one CA by accident.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

#: Names the server certificate is valid for: what tests connect to.
SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TestCA:
    """A CA, a server certificate for 127.0.0.1/localhost signed by it, and a wrong CA.

    - ``server_context``: give it to the test SMTP server (``tls_context`` for STARTTLS,
      ``implicit_tls_context`` for SMTPS).
    - ``client_context``: trusts ``ca`` only; certificate and host name are verified.
    - ``wrong_client_context``: trusts ``wrong_ca`` only, so the handshake must fail.
    - ``ca_pem`` / ``wrong_ca_pem``: the CA certificates as PEM bytes, for code under test that
      takes a CA file (write them with :meth:`write_ca`).
    """

    __test__ = False  # not a pytest test class despite the name

    ca: trustme.CA
    wrong_ca: trustme.CA
    server_cert: trustme.LeafCert
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    wrong_client_context: ssl.SSLContext

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert_pem.bytes()

    @property
    def wrong_ca_pem(self) -> bytes:
        return self.wrong_ca.cert_pem.bytes()

    def write_ca(self, directory: Path, *, wrong: bool = False) -> Path:
        """Write the (or the wrong) CA certificate to ``directory`` and return its path."""
        path = directory / ("wrong-ca.pem" if wrong else "ca.pem")
        path.write_bytes(self.wrong_ca_pem if wrong else self.ca_pem)
        return path


def make_test_ca() -> TestCA:
    """Return a fresh :class:`TestCA` (keys generated now; takes a fraction of a second)."""
    ca = trustme.CA()
    wrong_ca = trustme.CA()
    server_cert = ca.issue_cert(*SERVER_NAMES)

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_context)

    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_context)

    wrong_client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    wrong_ca.configure_trust(wrong_client_context)

    return TestCA(
        ca=ca,
        wrong_ca=wrong_ca,
        server_cert=server_cert,
        server_context=server_context,
        client_context=client_context,
        wrong_client_context=wrong_client_context,
    )
