"""Copying a row's same-named fields (outreach.fieldcopy): into a dict for a JSON document."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from outreach.fieldcopy import attributes


def test_attributes_copies_the_named_fields_in_order_then_the_given() -> None:
    row = SimpleNamespace(slug="ccm", name="CCM", state="active", source_path="c.toml")
    out = attributes(row, "state", "slug", source=row.source_path)
    assert out == {"state": "active", "slug": "ccm", "source": "c.toml"}
    assert list(out) == ["state", "slug", "source"]


def test_a_given_value_wins_over_the_row() -> None:
    assert attributes(SimpleNamespace(name="row"), "name", name="given") == {"name": "given"}


def test_a_name_the_row_lacks_is_an_error() -> None:
    with pytest.raises(AttributeError):
        attributes(SimpleNamespace(), "missing")
