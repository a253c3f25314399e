"""Building a listing's item from a stored row: the fields named as on the row are copied, the
others given. Pure: reads attributes, nothing else."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def same_named(cls: type[T], source: object, **given: Any) -> T:
    """A ``cls`` (a dataclass) whose fields are ``given`` where given, else ``source``'s
    attribute of the same name; a field with a default that ``source`` lacks keeps its default."""
    values = dict(given)
    for field in fields(cls):  # type: ignore[arg-type]
        if field.name in values:
            continue
        has_default = field.default is not MISSING or field.default_factory is not MISSING
        if has_default and not hasattr(source, field.name):
            continue
        values[field.name] = getattr(source, field.name)
    return cls(**values)
