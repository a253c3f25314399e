"""Template operations: compile every template the loaded campaigns use."""

from __future__ import annotations

from pathlib import Path

from outreach.db import Engine, session_scope
from outreach.planner import renderer_for
from outreach.repository.campaigns import active_letters, active_templates
from outreach.settings import Settings


def check_templates(engine: Engine, *, settings: Settings) -> tuple[int, list[str]]:
    """Compile every template the loaded campaigns' active steps use (each language variant
    too), their PDF letter templates included. Returns (templates checked, one line per
    problem)."""
    renderer = renderer_for(Path(settings.templates_dir))
    with session_scope(engine) as session:
        names = active_templates(session)
        letters = active_letters(session)
    errors: list[str] = []
    for name in names:
        errors.extend(renderer.check(name))
    for name in letters:
        errors.extend(renderer.check(name, document=True))
    return len(names) + len(letters), errors
