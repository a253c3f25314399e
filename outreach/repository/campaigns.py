"""Campaign rows: a :class:`CampaignSpec` saved as campaign, milestone and step rows (updated in
place on reload) and read back as a spec for the pure planning code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.errors import NotFoundError
from outreach.lifecycle import record_event
from outreach.models import Campaign, Milestone, Step
from outreach.spec import (
    AfterWhen,
    CampaignSpec,
    DateWhen,
    FileRef,
    LetterStyle,
    MilestoneSpec,
    MilestoneWhen,
    SenderSpec,
    SendingWindow,
    StepSpec,
    When,
)
from outreach.states import CampaignState


def when_to_json(when: When) -> dict[str, Any]:
    """A step's ``when`` as stored in ``step.when``."""
    if isinstance(when, MilestoneWhen):
        out: dict[str, Any] = {"milestone": when.milestone, "days_before": when.days_before}
        if when.at is not None:
            out["at"] = when.at.strftime("%H:%M")
        return out
    if isinstance(when, AfterWhen):
        return {"after": when.after, "days": when.days}
    return {"date": when.at.isoformat(timespec="minutes")}


def when_from_json(data: dict[str, Any]) -> When:
    if "milestone" in data:
        at = data.get("at")
        return MilestoneWhen(
            data["milestone"], int(data["days_before"]), time.fromisoformat(at) if at else None
        )
    if "after" in data:
        return AfterWhen(data["after"], int(data["days"]))
    return DateWhen(datetime.fromisoformat(data["date"]))


def sending_to_json(window: SendingWindow) -> dict[str, Any]:
    return {
        "days": sorted(window.days),
        "start": window.start.strftime("%H:%M"),
        "end": window.end.strftime("%H:%M:%S")
        if window.end.second
        else window.end.strftime("%H:%M"),
        "daily_limit": window.daily_limit,
    }


def sending_from_json(data: dict[str, Any]) -> SendingWindow:
    if not data:
        return SendingWindow()
    return SendingWindow(
        days=frozenset(int(d) for d in data.get("days", (0, 1, 2, 3, 4))),
        start=time.fromisoformat(data.get("start", "09:00")),
        end=time.fromisoformat(data.get("end", "17:00")),
        daily_limit=data.get("daily_limit"),
    )


def file_to_json(ref: FileRef) -> dict[str, Any]:
    """A :class:`FileRef` as stored (in ``step.attachments``, ``campaign.letters``): path,
    location, size, content_type, sha256."""
    return asdict(ref)


def file_from_json(data: dict[str, Any]) -> FileRef:
    return FileRef(
        str(data["path"]),
        str(data["location"]),
        int(data["size"]),
        str(data["content_type"]),
        str(data["sha256"]),
    )


def letters_to_json(style: LetterStyle) -> dict[str, Any]:
    """The campaign's ``[letters]`` as stored in ``campaign.letters``."""
    out: dict[str, Any] = {"filename": style.filename, "folder": style.folder}
    for key, ref in (("signature", style.signature), ("letterhead", style.letterhead)):
        if ref is not None:
            out[key] = file_to_json(ref)
    return out


def letters_from_json(data: dict[str, Any] | None) -> LetterStyle:
    if not data:
        return LetterStyle()
    return LetterStyle(
        filename=str(data.get("filename") or LetterStyle.filename),
        signature=file_from_json(data["signature"]) if data.get("signature") else None,
        letterhead=file_from_json(data["letterhead"]) if data.get("letterhead") else None,
        folder=str(data.get("folder") or ""),
    )


def milestone_spec(m: Milestone) -> MilestoneSpec:
    """The :class:`MilestoneSpec` a milestone row holds."""
    return MilestoneSpec(
        m.key,
        m.title,
        m.date,
        m.end,
        m.location,
        time=m.start_time,
        end_time=m.end_time,
        timezone=m.timezone,
        sequence=m.sequence,
    )


def step_spec(s: Step) -> StepSpec:
    """The :class:`StepSpec` a step row holds."""
    return StepSpec(
        s.key,
        s.template,
        when_from_json(s.when),
        tuple(s.audience_tags) if s.audience_tags is not None else None,
        s.position,
        letter=s.letter,
        attachments=tuple(file_from_json(a) for a in s.attachments or ()),
        calendar=s.calendar,
    )


def spec_from_rows(
    campaign: Campaign, milestones: Sequence[Milestone], steps: Sequence[Step]
) -> CampaignSpec:
    """The :class:`CampaignSpec` a campaign's rows describe (active steps only)."""
    return CampaignSpec(
        slug=campaign.slug,
        name=campaign.name,
        timezone=campaign.timezone,
        sender=SenderSpec(campaign.sender_name, campaign.sender_email, campaign.reply_to),
        sending=sending_from_json(campaign.sending),
        milestones=tuple(
            milestone_spec(m) for m in sorted(milestones, key=lambda m: (m.date, m.key))
        ),
        steps=tuple(step_spec(s) for s in sorted(steps, key=lambda s: s.position) if s.active),
        source_path=campaign.source_path or "",
        source_sha256=campaign.source_sha256 or "",
        require_approval=campaign.require_approval,
        approvals_required=campaign.approvals_required,
        review_channel=campaign.review_channel,
        lookahead_days=campaign.lookahead_days,
        audience_tags=tuple(campaign.audience_tags),
        vars=MappingProxyType(dict(campaign.vars)),
        letters=letters_from_json(campaign.letters),
    )


@dataclass(frozen=True)
class LoadedCampaign:
    """A campaign row with its milestones, steps (by key, active or not) and spec."""

    campaign: Campaign
    milestones: list[Milestone]
    steps: dict[str, Step]
    spec: CampaignSpec


def get_campaign(session: Session, *, slug: str) -> Campaign:
    campaign = session.exec(select(Campaign).where(Campaign.slug == slug)).first()
    if campaign is None:
        known = session.exec(select(Campaign.slug).order_by(Campaign.slug)).all()
        hint = f" (loaded: {', '.join(known)})" if known else " (no campaign is loaded)"
        raise NotFoundError(f"no campaign {slug!r}{hint}")
    return campaign


def load_campaign(session: Session, *, campaign: Campaign) -> LoadedCampaign:
    milestones = list(session.exec(select(Milestone).where(Milestone.campaign_id == campaign.id)))
    steps = list(session.exec(select(Step).where(Step.campaign_id == campaign.id)))
    return LoadedCampaign(
        campaign, milestones, {s.key: s for s in steps}, spec_from_rows(campaign, milestones, steps)
    )


def archived_campaign_id(session: Session, *, slug: str) -> int | None:
    """The id of campaign ``slug`` when it exists and is archived; None otherwise."""
    query = select(Campaign.id).where(
        Campaign.slug == slug, Campaign.state == CampaignState.ARCHIVED.value
    )
    return session.exec(query).first()


def list_campaigns(session: Session) -> list[Campaign]:
    """Every loaded campaign, by slug."""
    return list(session.exec(select(Campaign).order_by(Campaign.slug)))


def audience_tags(session: Session) -> set[str]:
    """Every tag some campaign's audience names: the campaigns' ``[audience] tags`` and their
    active steps' ``audience`` tags."""
    tags: set[str] = set()
    for campaign_tags in session.exec(select(Campaign.audience_tags)):
        tags.update(campaign_tags or ())
    steps = session.exec(select(Step.audience_tags).where(Step.active == True))  # noqa: E712
    for step_tags in steps:
        tags.update(step_tags or ())
    return tags


def _log(
    session: Session, campaign_id: int, action: str, *, now: datetime, actor: str, **details: Any
) -> None:
    """The campaign's event ``action`` (``details``: its reason, data, from and to state)."""
    record_event(
        session,
        now=now,
        actor=actor,
        entity="campaign",
        entity_id=campaign_id,
        action=action,
        **details,
    )


def refresh_files(
    session: Session, *, campaign_id: int, fresh: dict[str, FileRef], now: datetime, actor: str
) -> None:
    """Record the new size, type and SHA-256 of files (by location, as ``fresh`` has them)
    wherever the campaign names them (its steps' attachments, its signature and letterhead),
    with an event naming the files: what a reload would record, for files changed on disk."""
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    letters = dict(campaign.letters or {})
    for key in ("signature", "letterhead"):
        ref = letters.get(key)
        if ref and ref.get("location") in fresh:
            letters[key] = file_to_json(fresh[ref["location"]])
    campaign.letters = letters
    campaign.updated_at = now
    for step in session.exec(select(Step).where(Step.campaign_id == campaign_id)):
        if any(a.get("location") in fresh for a in step.attachments or ()):
            step.attachments = [
                file_to_json(fresh[a["location"]]) if a.get("location") in fresh else a
                for a in step.attachments
            ]
    session.flush()
    _log(
        session,
        campaign_id,
        "files_changed",
        now=now,
        actor=actor,
        reason="files changed on disk: " + ", ".join(sorted(r.path for r in fresh.values())),
        data={"files": {r.path: r.sha256 for r in fresh.values()}},
    )


@dataclass(frozen=True)
class SaveResult:
    slug: str
    action: str  # "created" | "updated" | "unchanged"
    changes: tuple[str, ...]
    campaign_id: int


def _campaign_values(spec: CampaignSpec) -> dict[str, Any]:
    """The campaign row's columns (all but slug and timestamps) for ``spec``."""
    return {
        "name": spec.name,
        "timezone": spec.timezone,
        "require_approval": spec.require_approval,
        "approvals_required": spec.approvals_required,
        "review_channel": spec.review_channel,
        "lookahead_days": spec.lookahead_days,
        "sender_name": spec.sender.name,
        "sender_email": spec.sender.email,
        "reply_to": spec.sender.reply_to,
        "sending": sending_to_json(spec.sending),
        "audience_tags": list(spec.audience_tags),
        "vars": _plain(spec.vars),
        "letters": letters_to_json(spec.letters),
        "source_path": spec.source_path,
        "source_sha256": spec.source_sha256,
    }


#: Columns that follow the file without counting as a change.
_SOURCE_COLUMNS = ("source_path", "source_sha256")


def _update_columns(row: Any, values: dict[str, Any], prefix: str, changes: list[str]) -> None:
    """Set ``values`` on ``row``, appending ``prefix + column`` to ``changes`` for each column
    that differs (the source columns are set without counting)."""
    for attr, value in values.items():
        if attr in _SOURCE_COLUMNS:
            setattr(row, attr, value)
        elif getattr(row, attr) != value:
            setattr(row, attr, value)
            changes.append(prefix + attr)


def _sync_children(
    session: Session,
    model: type[Milestone] | type[Step],
    campaign_id: int,
    wanted: dict[str, dict[str, Any]],
    *,
    label: str,
    created: bool,
) -> tuple[list[str], list[Any]]:
    """Make the campaign's ``model`` rows (milestones or steps, matched by key) hold ``wanted``
    (key -> column values): add the missing, update the changed. Returns (the changes, none
    reported for a campaign just created; the rows whose key is no longer wanted)."""
    changes: list[str] = []
    existing = {
        row.key: row for row in session.exec(select(model).where(model.campaign_id == campaign_id))
    }
    for key, values in wanted.items():
        row = existing.pop(key, None)
        if row is None:
            session.add(model(campaign_id=campaign_id, key=key, **values))
            if not created:
                changes.append(f"{label}.{key}")
        else:
            _update_columns(row, values, f"{label}.{key}.", changes)
    return changes, list(existing.values())


def _sync_milestones(
    session: Session, campaign_id: int, spec: CampaignSpec, *, created: bool
) -> list[str]:
    """Make the campaign's milestone rows match ``spec``; a milestone no longer in the file is
    deleted. Returns the changes."""
    wanted = {
        m.key: {
            "title": m.title,
            "date": m.date,
            "end": m.end,
            "location": m.location,
            "start_time": m.time,
            "end_time": m.end_time,
            "timezone": m.timezone,
        }
        for m in spec.milestones
    }
    changes, gone = _sync_children(
        session, Milestone, campaign_id, wanted, label="milestones", created=created
    )
    for row in gone:
        session.delete(row)
        changes.append(f"milestones.{row.key} removed")
    _raise_sequences(session, campaign_id, changes)
    return changes


def _raise_sequences(session: Session, campaign_id: int, changes: list[str]) -> None:
    """Raise the revision (iCalendar SEQUENCE) of each milestone ``changes`` says changed."""
    changed = {
        c.split(".")[1] for c in changes if c.startswith("milestones.") and c.count(".") >= 2
    }
    if not changed:
        return
    for row in session.exec(select(Milestone).where(Milestone.campaign_id == campaign_id)):
        if row.key in changed:
            row.sequence += 1


def _sync_steps(
    session: Session, campaign_id: int, spec: CampaignSpec, *, created: bool
) -> list[str]:
    """Make the campaign's step rows match ``spec``; a step no longer in the file is
    deactivated, never deleted (its messages keep it). Returns the changes."""
    wanted = {
        st.key: {
            "template": st.template,
            "when": when_to_json(st.when),
            "audience_tags": list(st.audience_tags) if st.audience_tags is not None else None,
            "position": st.position,
            "active": True,
            "letter": st.letter,
            "attachments": [file_to_json(f) for f in st.attachments],
            "calendar": st.calendar,
        }
        for st in spec.steps
    }
    changes, gone = _sync_children(
        session, Step, campaign_id, wanted, label="steps", created=created
    )
    for row in gone:
        if row.active:
            row.active = False
            changes.append(f"steps.{row.key} removed")
    return changes


def save_campaign(session: Session, spec: CampaignSpec, *, now: datetime, actor: str) -> SaveResult:
    """Create or update a campaign from a validated spec, in place: milestones and steps are
    matched by key; a step no longer in the file is deactivated (its history stays).
    Re-planning of unsent messages is the planner's job (:func:`outreach.planner.replan`)."""
    campaign = session.exec(select(Campaign).where(Campaign.slug == spec.slug)).first()
    values = _campaign_values(spec)
    changes: list[str] = []
    created = campaign is None
    if campaign is None:
        campaign = Campaign(slug=spec.slug, created_at=now, updated_at=now, **values)
        session.add(campaign)
        session.flush()
    else:
        _update_columns(campaign, values, "", changes)
    assert campaign.id is not None
    changes += _sync_milestones(session, campaign.id, spec, created=created)
    changes += _sync_steps(session, campaign.id, spec, created=created)
    action = "created" if created else ("updated" if changes else "unchanged")
    if action == "updated":
        campaign.updated_at = now
    session.flush()
    _log(
        session,
        campaign.id,
        f"loaded:{action}",
        now=now,
        actor=actor,
        reason=spec.source_path,
        data={"changes": changes, "sha256": spec.source_sha256},
    )
    return SaveResult(spec.slug, action, tuple(changes), campaign.id)


def _plain(value: Any) -> Any:
    """Frozen mappings/tuples from a spec as JSON-able dicts/lists (dates as ISO strings)."""
    if isinstance(value, dict | MappingProxyType) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def set_campaign_state(
    session: Session, *, slug: str, state: str, now: datetime, actor: str, reason: str | None = None
) -> bool:
    """Pause, resume or archive a campaign; returns False when it already was in that state."""
    campaign = get_campaign(session, slug=slug)
    if campaign.state == state:
        return False
    old = campaign.state
    result = session.execute(
        sa.update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state == old)
        .values(state=state, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    assert campaign.id is not None
    _log(
        session,
        campaign.id,
        state,
        now=now,
        actor=actor,
        reason=reason,
        from_state=old,
        to_state=state,
    )
    return True
