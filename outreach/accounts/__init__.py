"""Accounts: who may sign in to the console and what they may do.

Modules: :mod:`.credentials` (argon2id password hashes, random tokens and their hashes),
:mod:`.policy` (pure: sign-in throttling and session lifetimes), :mod:`.users` (add, list,
disable, passwords, set-password links, API tokens), :mod:`.signin` (sign in, sessions, API
tokens → the signed-in account), :mod:`.actors` (who the CLI acts as). Every query is in
:mod:`outreach.repository.accounts` and :mod:`outreach.repository.web_sessions`.
"""
