"""Building a listing's item (or a JSON document's dict) from a stored row: the fields named as
on the row are copied, the others given. Pure: reads attributes, nothing else."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def same_named(cls: type[T], *sources: object, **given: Any) -> T:
    """A ``cls`` (a dataclass) whose fields are ``given`` where given, else the attribute of
    the same name of the first of ``sources`` that has one; a field with a default that no
    source has keeps its default (one without a default and without a source is an error)."""
    values = dict(given)
    for field in fields(cls):  # type: ignore[arg-type]
        if field.name in values:
            continue
        found = [source for source in sources if hasattr(source, field.name)]
        if found:
            values[field.name] = getattr(found[0], field.name)
        elif field.default is MISSING and field.default_factory is MISSING:
            raise TypeError(f"{cls.__name__}: nothing gives {field.name}")
    return cls(**values)


def attributes(row: object, /, *names: str, **given: Any) -> dict[str, Any]:
    """``{name: row.name}`` for each of ``names`` in that order, then ``given`` (any key,
    ``source`` or ``row`` too): a row's columns under their own names in a JSON document
    (AttributeError for a name the row lacks)."""
    return {**{name: getattr(row, name) for name in names}, **given}
