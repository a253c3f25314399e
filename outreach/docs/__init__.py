"""The generated parts of ``docs/``: the CLI reference (from the Typer app), the settings
reference (from the :class:`~outreach.settings.Settings` class) and the tables of the message
lifecycle (from :mod:`outreach.states`). ``python -m outreach.docs`` writes them;
``--check`` says which are out of date (a test runs it)."""
