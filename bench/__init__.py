"""Benchmarks for outreach: `make bench` (``python -m bench``)."""
