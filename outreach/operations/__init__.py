"""Operator operations the CLI, the daemon and the demo share, each one call and one
transaction: :mod:`.campaigns` (load campaign files, pause and resume, describe one campaign),
:mod:`.contacts` (import a contacts CSV), :mod:`.templates` (check the templates in use),
:mod:`.suppressions` (list, add and lift suppressions, with actor, reason and events)."""
