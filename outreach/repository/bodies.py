"""Message bodies: the ``message_body`` row each message has, written with it.

A letter's ``raw`` bytes and the ``text`` and ``html`` they were composed from live apart from
the ``message`` row (:class:`~outreach.models.MessageBody`), which dispatch updates several
times per letter. Callers keep writing a message's columns in one mapping; :func:`split` takes
the body's out of it, :func:`insert_bodies` writes new messages' bodies and
:func:`update_bodies` changes existing ones. The caller owns the transaction: nothing here
commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from outreach.db import is_postgres
from outreach.models import BODY_COLUMNS, MessageBody
from outreach.repository.bulk import insert_unnest

_BODIES = MessageBody.__table__  # type: ignore[attr-defined]

#: A body with nothing in it, the model's defaults: a new message's when its row names none
#: (a letter not rendered yet), an erased letter's.
EMPTY_BODY: Mapping[str, Any] = {
    name: field.default for name, field in MessageBody.model_fields.items() if name in BODY_COLUMNS
}


def split(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``values`` (column name → value) as the message row's and the body's."""
    row = {k: v for k, v in values.items() if k not in BODY_COLUMNS}
    body = {k: v for k, v in values.items() if k in BODY_COLUMNS}
    return row, body


def insert_bodies(session: Session, *, bodies: Sequence[Mapping[str, Any]]) -> None:
    """Insert the bodies of new messages: each mapping has ``message_id`` and any of
    ``text``, ``html`` and ``raw`` (the rest as :data:`EMPTY_BODY`)."""
    rows = [{**EMPTY_BODY, **b} for b in bodies]
    if not rows:
        return
    if is_postgres(session):  # one statement of an array per column
        insert_unnest(session, _BODIES, rows)
    else:
        session.execute(sa.insert(_BODIES), rows)


def update_bodies(session: Session, *, ids: Sequence[int], values: Mapping[str, Any]) -> None:
    """Set ``values`` (some of ``text``, ``html``, ``raw``) on the bodies of ``ids``."""
    if ids and values:
        session.execute(sa.update(_BODIES).where(_BODIES.c.message_id.in_(ids)).values(**values))
