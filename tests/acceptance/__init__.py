"""Acceptance tests: the CLI and the daemon as a user runs them (in-process through the CLI
runner or as real processes), and the files shipped with them (README, deployment)."""
