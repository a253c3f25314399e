"""What templates run in: Jinja's immutable sandbox, strict about undefined names, over
read-only :class:`Record` values (the template context is made of them).

The sandbox reads a :class:`Record`'s keys directly (they are plain data) and names records in
its errors: ``'contact' has no attribute 'nickname'``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Record(Mapping[str, Any]):
    """A read-only mapping whose keys are also attributes (``contact.name``), named so that
    an undefined attribute reads ``'contact' has no attribute 'nickname'``.

    In templates a key wins over a mapping method of the same name (a var called ``items``
    is ``vars.items``); ``get``, ``items``, ``keys`` and ``values`` work for other names.
    """

    __slots__ = ("_data", "_label")

    def __init__(self, label: str, data: Mapping[str, Any]) -> None:
        self._label = label
        self._data = dict(data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Record({self._label!r}, {self._data!r})"


class StrictRecordUndefined(StrictUndefined):
    """StrictUndefined that names our records: ``'contact' has no attribute 'nickname'``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        if not self._undefined_hint and isinstance(obj, Record):
            key = self._undefined_name
            if isinstance(key, str):
                return f"{obj._label!r} has no attribute {key!r}"
            return f"{obj._label!r} has no element {key!r}"
        return super()._undefined_message


#: Read-only Mapping methods of :class:`Record` that templates may call.
_RECORD_METHODS = frozenset({"get", "items", "keys", "values"})


class RecordSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with a fast path for :class:`Record` keys: they are plain data
    (what ``record[key]`` returns anyway), so the per-attribute safety checks, which dominate
    the cost of a render, are skipped for them. Everything else takes the checked path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is Record and attribute[:1] != "_":
            try:
                return obj._data[attribute]
            except KeyError:
                if attribute in _RECORD_METHODS:
                    return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is Record and type(argument) is str and argument[:1] != "_":
            try:
                return obj._data[argument]
            except KeyError:
                pass
        return super().getitem(obj, argument)
