"""Ceilings and naive baselines, measured in worker processes (see :mod:`bench.worker`).

A *ceiling* is an upper bound of the same work: it does no more than our code must (no
checks, no sandbox, no bookkeeping) with nothing but fast primitives, on as many processes as
there are cores, so our figure can only be below it (a ratio over 100 % means the ceiling is
wrong, and the table says so). A *naive baseline* does the same job the obvious way (the
stdlib ``EmailMessage``, a full ``policy.default`` parse); our figure is a speed-up over it.

* :func:`run_components`: per message, our render vs raw Jinja2 (ceiling), our compose vs
  :func:`join_message` (ceiling) and vs the stdlib ``EmailMessage`` (baseline), and a raw Core
  insert of the rows a plan stored.
* :func:`run_plan_ceiling`: the plan ceiling, one pipeline: raw Jinja2 render of the same
  template + :func:`join_message` + a Core insert of the same rows, for one share of the
  contacts (the parent runs one share per core at once).
* :func:`run_replies_ceiling`: the reply-intake ceiling, one pipeline: split one share of the
  mbox by byte range, parse each header block only, hash it, Core-insert one row each.
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from bench.rawmail import HEADERS, header_row, join_message, mbox_share


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _plain_envs(templates_dir: Path) -> tuple[Any, Any]:
    """Raw Jinja2 environments (no sandbox, no strict undefined), text and HTML, with the
    product's filters: what a ceiling renders with."""
    import jinja2

    from outreach.templating import FILTERS

    envs = []
    for autoescape in (False, True):
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            autoescape=autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters.update(FILTERS)
        envs.append(env)
    return envs[0], envs[1]


def _render_raw(text_t: Any, html_t: Any, ctx: dict[str, Any]) -> tuple[str, str, str]:
    tc = text_t.new_context(ctx)
    subject = "".join(text_t.blocks["subject"](tc)).strip()
    text = "".join(text_t.blocks["text"](tc))
    hc = html_t.new_context(ctx)
    return subject, text, "".join(html_t.blocks["html"](hc))


def _bench_campaign(
    spec: dict[str, Any], *, limit: int | None = None, share: tuple[int, int] = (0, 1)
) -> Any:
    """(settings, engine, campaign spec, step, send day, contacts of this share, contexts)."""
    from sqlmodel import Session, select

    from outreach.countdown import countdown_values, local_date
    from outreach.db import create_engine
    from outreach.models import Campaign, Contact
    from outreach.repository.campaigns import load_campaign
    from outreach.settings import load_settings
    from outreach.templating import build_context

    settings = load_settings(
        env={}, database_url=spec["url"], templates_dir=Path(spec["templates_dir"])
    )
    engine = create_engine(settings.sqlalchemy_url)
    index, shares = share
    with Session(engine) as session:
        campaign = session.exec(select(Campaign)).one()
        spec_c = load_campaign(session, campaign=campaign).spec
        query = select(Contact).order_by(Contact.id)
        if limit is not None:
            query = query.limit(limit)
        contacts = [c for c in session.exec(query) if c.id % shares == index]
    step = spec_c.steps[0]
    send_day = local_date(datetime.fromisoformat(spec["now"]), spec_c.timezone)
    countdown = countdown_values(spec_c.milestones, send_day)
    contexts = []
    for c in contacts:
        ctx = dict(
            build_context(
                campaign=spec_c,
                contact=c,
                milestones=spec_c.milestones,
                today=send_day,
                step=step,
                countdown=countdown,
            )
        )
        ctx["locale"] = "en"
        contexts.append(ctx)
    return settings, engine, spec_c, step, send_day, contacts, contexts


# -- components ------------------------------------------------------------------------------------


def run_components(spec: dict[str, Any]) -> dict[str, Any]:
    """Per message: our render vs raw Jinja2 of the same template file and context; our
    compose vs :func:`join_message` and vs a stdlib ``EmailMessage`` of the same content; and
    a raw batched insert (Core ``executemany``, 500 rows per transaction) of the very rows a
    plan run stored, into a copy of the database before planning."""
    from outreach.planner import compose_letter, render_letter, renderer_for

    settings, engine, spec_c, step, send_day, contacts, contexts = _bench_campaign(
        spec, limit=int(spec["sample"])
    )
    now = datetime.fromisoformat(spec["now"])
    renderer = renderer_for(settings.templates_dir)
    text_env, html_env = _plain_envs(settings.templates_dir)
    name = step.template + ".j2"
    text_t, html_t = text_env.get_template(name), html_env.get_template(name)
    rendered: list[Any] = []

    def ours_render() -> None:  # context building included, as the planner does it
        rendered.clear()
        for c in contacts:
            rendered.append(render_letter(renderer, spec_c, step, c, send_day=send_day)[0])

    def raw_render() -> None:  # the same context objects, built before the clock started
        for ctx in contexts:
            _render_raw(text_t, html_t, ctx)

    ours_render()  # warm caches (compiled templates) for both sides
    raw_render()

    def ours_compose() -> None:
        for i, (c, r) in enumerate(zip(contacts, rendered, strict=True)):
            compose_letter(
                campaign=spec_c,
                contact=c,
                step_key=step.key,
                subject=r.subject,
                text=r.text,
                html=r.html,
                scheduled_for=now,
                message_id=f"<bench{i}@bench.example.org>",
                settings=settings,
            )

    def join_compose() -> None:
        sender = spec_c.sender
        for i, (c, r) in enumerate(zip(contacts, rendered, strict=True)):
            join_message(
                from_name=sender.name,
                from_email=sender.email,
                to_name=c.name,
                to_email=c.email,
                reply_to=sender.reply_to,
                subject=r.subject,
                date=now,
                message_id=f"<bench{i}@bench.example.org>",
                text=r.text,
                html=r.html,
                extra_headers=(("X-Outreach-Campaign", spec_c.slug), ("X-Outreach-Step", step.key)),
            )

    def stdlib_compose() -> None:
        _stdlib_compose(spec_c, step.key, contacts, rendered, now)

    out: dict[str, Any] = {"sample": len(contacts)}
    out["ours_render_s"] = _timed(ours_render)
    out["raw_render_s"] = _timed(raw_render)
    out["ours_compose_s"] = _timed(ours_compose)
    out["join_compose_s"] = _timed(join_compose)
    out["stdlib_compose_s"] = _timed(stdlib_compose)
    if spec.get("rows_url") and spec.get("insert_url"):
        out.update(_raw_insert(spec["rows_url"], spec["insert_url"]))
    engine.dispose()
    return out


def _stdlib_compose(spec_c: Any, step_key: str, contacts: list, rendered: list, now: datetime):
    import email.policy
    from email.message import EmailMessage
    from email.utils import formataddr

    policy = email.policy.SMTP
    for i, (c, r) in enumerate(zip(contacts, rendered, strict=True)):
        m = EmailMessage(policy=policy)
        m["From"] = formataddr((spec_c.sender.name, spec_c.sender.email))
        m["To"] = formataddr((c.name or "", c.email))
        m["Reply-To"] = spec_c.sender.reply_to or spec_c.sender.email
        m["Subject"] = r.subject
        m["Date"] = format_datetime(now)
        m["Message-ID"] = f"<bench{i}@bench.example.org>"
        m["List-Unsubscribe"] = f"<mailto:{spec_c.sender.email}?subject=unsubscribe>"
        m["X-Outreach-Campaign"] = spec_c.slug
        m["X-Outreach-Step"] = step_key
        m.set_content(r.text)
        if r.html:
            m.add_alternative(r.html, subtype="html")
        m.as_bytes()


def _raw_insert(rows_url: str, insert_url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from outreach.db import create_engine
    from outreach.models import Message

    src = create_engine(rows_url)
    table = Message.__table__  # type: ignore[attr-defined]
    cols = [c for c in table.columns if c.name != "id"]
    with src.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(*cols))]
    src.dispose()
    dst = create_engine(insert_url)
    stmt = table.insert()

    def raw_insert() -> None:
        for i in range(0, len(rows), 500):
            with dst.begin() as conn:
                conn.execute(stmt, rows[i : i + 500])

    seconds = _timed(raw_insert)
    dst.dispose()
    return {"insert_rows": len(rows), "raw_insert_s": seconds}


# -- the plan ceiling ------------------------------------------------------------------------------


def run_plan_ceiling(spec: dict[str, Any], ready: Callable[[], None]) -> dict[str, Any]:
    """One share (``share`` of ``shares``, by contact id) of the plan ceiling: for each contact,
    raw Jinja2 render of the same template and context, :func:`join_message`, then a Core
    insert of the same rows a plan run stored (message + enrollment, 500 per transaction) into
    ``url`` (a copy of the database before planning). Contexts and the stored rows are loaded
    before ``ready()``; the clock runs from the start signal to the last commit."""

    from outreach.db import create_engine
    from outreach.models import Enrollment, Message

    share = (int(spec["share"]), int(spec["shares"]))
    settings, engine, spec_c, step, _day, contacts, contexts = _bench_campaign(spec, share=share)
    text_env, html_env = _plain_envs(settings.templates_dir)
    name = step.template + ".j2"
    text_t, html_t = text_env.get_template(name), html_env.get_template(name)
    messages = Message.__table__  # type: ignore[attr-defined]
    enrollments = Enrollment.__table__  # type: ignore[attr-defined]
    wanted = {c.id for c in contacts}
    src = create_engine(spec["rows_url"])
    with src.connect() as conn:
        stored = _rows_by_contact(conn, messages, wanted)
        enrolled = _rows_by_contact(conn, enrollments, wanted)
    src.dispose()
    sender = spec_c.sender
    extra = (("X-Outreach-Campaign", spec_c.slug), ("X-Outreach-Step", step.key))
    m_stmt, e_stmt = messages.insert(), enrollments.insert()
    _render_raw(text_t, html_t, contexts[0])  # compile and warm, as the planner's first letter
    ready()
    start = time.time()
    t0 = time.perf_counter()
    batch_m: list[dict[str, Any]] = []
    batch_e: list[dict[str, Any]] = []
    queued = 0
    for c, ctx in zip(contacts, contexts, strict=True):
        row = dict(stored[c.id])
        subject, text, html = _render_raw(text_t, html_t, ctx)
        row["subject"], row["text"], row["html"] = subject, text, html
        row["raw"] = join_message(
            from_name=sender.name,
            from_email=sender.email,
            to_name=c.name,
            to_email=c.email,
            reply_to=sender.reply_to,
            subject=subject,
            date=row["scheduled_for"],
            message_id=row["message_id"],
            text=text,
            html=html,
            extra_headers=extra,
        )
        batch_m.append(row)
        batch_e.append(enrolled[c.id])
        if len(batch_m) == 500:
            queued += _insert_pair(engine, m_stmt, batch_m, e_stmt, batch_e)
    queued += _insert_pair(engine, m_stmt, batch_m, e_stmt, batch_e)
    elapsed = time.perf_counter() - t0
    end = time.time()
    engine.dispose()
    return {"queued": queued, "elapsed": elapsed, "start": start, "end": end}


def _rows_by_contact(conn: Any, table: Any, wanted: set[int]) -> dict[int, dict[str, Any]]:
    import sqlalchemy as sa

    cols = [c for c in table.columns if c.name != "id"]
    return {
        r.contact_id: dict(r._mapping)
        for r in conn.execute(sa.select(*cols))
        if r.contact_id in wanted
    }


def _insert_pair(engine: Any, m_stmt: Any, messages: list, e_stmt: Any, enrollments: list) -> int:
    if not messages:
        return 0
    with engine.begin() as conn:
        conn.execute(e_stmt, enrollments)
        conn.execute(m_stmt, messages)
    n = len(messages)
    messages.clear()
    enrollments.clear()
    return n


# -- the reply-intake ceiling ----------------------------------------------------------------------


def run_replies_ceiling(spec: dict[str, Any], ready: Callable[[], None]) -> dict[str, Any]:
    """One share (``share`` of ``shares``, by byte range) of the reply-intake ceiling: map the
    mbox, split it, parse each header block only (``BytesHeaderParser``, compat32), hash the
    message and Core-insert one row each (500 per transaction) into a table of its own in
    ``url``. The clock runs from the start signal to the last commit."""
    from email import policy
    from email.parser import BytesHeaderParser

    import sqlalchemy as sa

    from outreach.db import create_engine

    engine = create_engine(spec["url"])
    meta = sa.MetaData()
    columns = [sa.Column(name.replace("-", "_"), sa.Text) for name in HEADERS]
    table = sa.Table(
        f"bench_ceiling_inbound_{spec['share']}",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), unique=True),
        *columns,
        sa.Column("raw", sa.LargeBinary),
    )
    meta.create_all(engine)
    stmt = table.insert()
    parser = BytesHeaderParser(policy=policy.compat32)
    ready()
    start = time.time()
    t0 = time.perf_counter()
    stored = 0
    with open(spec["mbox"], "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        batch: list[dict[str, Any]] = []
        for message in mbox_share(mm, int(spec["share"]), int(spec["shares"])):
            batch.append(header_row(message, parser))
            if len(batch) == 500:
                stored += _insert(engine, stmt, batch)
        stored += _insert(engine, stmt, batch)
    elapsed = time.perf_counter() - t0
    end = time.time()
    engine.dispose()
    return {"processed": stored, "elapsed": elapsed, "start": start, "end": end}


def _insert(engine: Any, stmt: Any, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    with engine.begin() as conn:
        conn.execute(stmt, rows)
    n = len(rows)
    rows.clear()
    return n
