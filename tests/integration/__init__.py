"""Integration tests: real databases (SQLite and PostgreSQL), servers in-process (aiosmtpd,
Dovecot) and files on disk."""
