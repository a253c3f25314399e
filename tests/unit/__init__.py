"""Unit tests: no database, no sockets, no subprocesses, no files written, and the code under
test reads no files either (a test may load its own input from tests/fixtures).
tests/unit/test_layout.py checks the imports and fixtures that would break this."""
