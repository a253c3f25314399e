"""What a bounce means for the address: hard, soft or a refusal, and how sure that is. Pure.

A hard bounce suppresses an address for good, so it needs conclusive evidence (DESIGN.md
rule 4): an unknown mailbox or domain that the remote server's own reply confirms, a refusal at
RCPT (before any content was sent), or a domain with no mail host. The rules, in order:

1. delivery notifications (``Action: delivered``/``relayed``/``expanded``) are auto-replies;
   ``delayed`` is soft;
2. the status is the remote server's own (the enhanced code after its reply code in the
   diagnostic, innermost when a relay wraps it) when it gives one, else the ``Status:`` field;
   a generic status (``X.0.0``, ``5.3.0``, ``5.5.0``) says nothing and the text decides;
3. 4.x.x is soft; 5.7.x, 5.1.7/5.1.8 (our sender), 5.6.x and 5.3.4 (content, size) are refusals
   (``rejected``); 5.2.2 is a full mailbox (soft); 5.2.1 (disabled account) is ambiguous;
   5.1.2, 5.4.4 and 5.1.10 (no such domain, no mail host) are hard; 5.1.0 for a refused sender
   is a refusal;
4. an unknown-mailbox status (5.1.1, 5.1.0, 5.1.3, 5.1.6, 5.1.10) or wording is hard and
   conclusive when refused at RCPT, or when the stage is not said and the remote's own reply
   (its status code, or unambiguous words) confirms it; after DATA — where content filters use
   the same words — or with only weak words it is inconclusive;
5. a status the text contradicts (``Status: 5.1.1`` with a "blacklisted" or "mailbox full"
   diagnostic) gives way to the text.

An inconclusive hard-looking failure is returned as ``bounce_soft`` with ``needs_review``: it
counts toward the three soft bounces in a row that suppress, and a person is asked to look.
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.replies.bounce_text import Reading, Wording, read_wording, reply_status
from outreach.replies.dsn import DsnInfo
from outreach.replies.evidence import (
    Evidence,
    SmtpStage,
    StatusSource,
    Strength,
    evidence_line,
)
from outreach.replies.result import ClassificationResult
from outreach.states import Classification

#: Unknown-mailbox statuses (RFC 3463 / RFC 7505).
ADDRESS_STATUSES = frozenset({"5.1.1", "5.1.3", "5.1.6", "5.1.10"})
#: No such domain, or a domain with no mail host.
DOMAIN_STATUSES = frozenset({"5.1.2", "5.4.4"})
#: Our sender address or domain was refused.
SENDER_STATUSES = frozenset({"5.1.7", "5.1.8"})
#: Statuses that say nothing beyond "permanent" or "temporary": the text decides.
GENERIC_STATUSES = frozenset({"5.0.0", "4.0.0", "5.3.0", "5.5.0", "5.2.0", "5.4.0", "5.1.0"})
_CONTENT_PREFIXES = ("5.7.", "5.6.")
#: Readings a diagnostic that names our own sender (and not the recipient) is really about.
_NOT_ABOUT_SENDER = frozenset({Wording.ADDRESS, Wording.ADDRESS_WEAK, Wording.NONE})
_CONTENT_STATUSES = frozenset({"5.3.4", "5.2.3"})
#: Wordings that disagree with an unknown-mailbox status.
_CONTRARY = frozenset(
    {Wording.POLICY, Wording.FULL, Wording.SENDER, Wording.DNS_TEMPORARY, Wording.TEMPORARY}
)


@dataclass(frozen=True)
class _Facts:
    """What the verdict weighs: the status and where it came from, the stage, and what the
    remote's reply (``reply``) and the bounce's text (``text``) say."""

    status: str | None
    status_from: StatusSource | None
    stage: SmtpStage | None
    reply: Reading
    text: Reading
    decided_by: str
    diagnostic: str
    line: str

    def reading(self) -> Reading:
        """The remote's reply when it says something, else the bounce's text."""
        return self.reply if self.reply.wording != Wording.NONE else self.text


def judge_bounce(dsn: DsnInfo) -> ClassificationResult:
    """The class, status, address and evidence of the bounce ``dsn`` (see the module
    docstring for the rules)."""
    facts = _facts(dsn)
    verdict = _Verdict(dsn, facts)
    if dsn.action in ("delivered", "relayed", "expanded"):
        return verdict.result(
            Classification.AUTO_REPLY,
            f"delivery notification (Action: {dsn.action})",
            decided_by="Action field",
            line=f"Action: {dsn.action}",
        )
    if dsn.action == "delayed":
        return verdict.result(
            Classification.BOUNCE_SOFT,
            f"delivery delayed (status {facts.status or 'none'})",
            decided_by="Action field",
            line=f"Action: delayed; Status: {facts.status or 'none'}",
        )
    if dsn.ses is not None:
        ses = _ses_verdict(verdict, dsn)
        if ses is not None:
            return ses
    by_status = _by_status(verdict, facts)
    if by_status is not None:
        return by_status
    return _by_wording(verdict, facts, facts.reading())


def _facts(dsn: DsnInfo) -> _Facts:
    diagnostic = dsn.diagnostic or ""
    reply = read_wording(diagnostic if dsn.machine_readable else dsn.explanation or diagnostic)
    text = read_wording(dsn.explanation) if dsn.machine_readable else reply
    remote = reply_status(diagnostic) if dsn.machine_readable else None
    field_status = dsn.status
    if dsn.ses is not None:
        source = StatusSource.NOTIFICATION
    elif not dsn.machine_readable:
        source = StatusSource.TEXT
    else:
        source = StatusSource.STATUS_FIELD
    status, status_from = field_status, source
    if remote is not None and (remote not in GENERIC_STATUSES or status is None):
        status, status_from = remote, StatusSource.DIAGNOSTIC
    if status is None:
        status_from = None
    decided_by = {
        StatusSource.DIAGNOSTIC: "Diagnostic-Code",
        StatusSource.NOTIFICATION: "SES notification",
        StatusSource.TEXT: "bounce text",
    }.get(status_from, "Status field" if dsn.machine_readable else "bounce text")
    if dsn.names_sender and reply.wording in _NOT_ABOUT_SENDER:
        reply = Reading(Wording.SENDER, reply.line)
    line = _deciding_line(dsn, status, status_from, reply if reply.line else text)
    return _Facts(status, status_from, dsn.stage, reply, text, decided_by, diagnostic, line)


def _deciding_line(
    dsn: DsnInfo, status: str | None, status_from: StatusSource | None, reading: Reading
) -> str:
    """The line that shows the status (the remote's reply, the Status field, or the line of
    the text that gives it), else the line of the words that were read."""
    if status_from == StatusSource.DIAGNOSTIC and dsn.diagnostic:
        return evidence_line(dsn.diagnostic)
    if status_from == StatusSource.STATUS_FIELD and status:
        return f"Status: {status}" + (f"; {reading.line}" if reading.line else "")
    if status and dsn.explanation:
        at = dsn.explanation.find(status)
        if at != -1:
            start = dsn.explanation.rfind("\n", 0, at) + 1
            end = dsn.explanation.find("\n", at)
            return evidence_line(dsn.explanation[start : end if end != -1 else None])
    return reading.line or evidence_line(dsn.diagnostic)


class _Verdict:
    """Builds results for one bounce: the address, the status and the reason's prefix."""

    def __init__(self, dsn: DsnInfo, facts: _Facts) -> None:
        self.dsn = dsn
        self.facts = facts
        self.address = dsn.final_recipient or dsn.original_recipient
        shape = "DSN" if dsn.machine_readable else "bounce without a DSN part"
        if dsn.ses is not None:
            shape = "SES notification"
        self.prefix = f"{shape}" + (f" for {self.address}" if self.address else "")

    def result(
        self,
        kind: Classification,
        why: str,
        *,
        decided_by: str | None = None,
        line: str | None = None,
        strength: Strength = Strength.CONCLUSIVE,
        review: bool = False,
    ) -> ClassificationResult:
        facts = self.facts
        evidence = Evidence(
            decided_by=decided_by or facts.decided_by,
            line=evidence_line(line if line is not None else facts.line),
            strength=strength,
            stage=facts.stage,
            status_from=facts.status_from,
            needs_review=review,
        )
        return ClassificationResult(
            kind=kind,
            reason=f"{self.prefix}: {why}",
            bounce_status=facts.status,
            bounced_address=self.address,
            evidence=evidence,
        )

    def inconclusive(
        self, why: str, *, line: str | None = None, decided_by: str | None = None
    ) -> ClassificationResult:
        """A hard-looking failure without conclusive evidence: soft, for a person to check."""
        return self.result(
            Classification.BOUNCE_SOFT,
            f"{why}; inconclusive, counted as soft and flagged for review",
            decided_by=decided_by,
            line=line,
            strength=Strength.INCONCLUSIVE,
            review=True,
        )

    def source_of(self, reading: Reading) -> str:
        """Which part said ``reading``: the remote's reply, or the bounce's own text."""
        if reading is self.facts.reply and self.dsn.machine_readable:
            return "Diagnostic-Code"
        return "bounce text"


def _by_status(verdict: _Verdict, facts: _Facts) -> ClassificationResult | None:
    """The verdict a specific status gives (rules 3-5), or ``None`` to let the text decide."""
    status = facts.status
    if status is None or status in GENERIC_STATUSES:
        return None
    reading = facts.reading()
    if status.startswith("4."):
        return verdict.result(Classification.BOUNCE_SOFT, f"temporary failure {status}")
    if status.startswith("2."):
        return None
    at_rcpt = facts.stage == SmtpStage.RCPT
    if status.startswith("5.7.") and facts.reply.wording == Wording.ADDRESS and at_rcpt:
        # a policy code on a plain "no such user" at RCPT (some providers do that)
        return verdict.result(
            Classification.BOUNCE_HARD,
            f"unknown mailbox (the remote's words, under a {status} code), refused at RCPT",
            decided_by="Diagnostic-Code",
            line=facts.reply.line,
        )
    if status.startswith(_CONTENT_PREFIXES) or status in SENDER_STATUSES | _CONTENT_STATUSES:
        return verdict.result(
            Classification.REJECTED, f"refused by policy or for its content ({status})"
        )
    if status == "5.2.2":
        return verdict.result(Classification.BOUNCE_SOFT, "mailbox full (5.2.2)")
    if status in DOMAIN_STATUSES:
        if reading.wording in (Wording.DNS_TEMPORARY, Wording.TEMPORARY):
            return verdict.result(
                Classification.BOUNCE_SOFT, f"DNS failure that may pass ({status})"
            )
        return verdict.result(Classification.BOUNCE_HARD, f"no such domain or mail host ({status})")
    if status == "5.2.1":
        return _disabled(verdict, facts, reading)
    if status in ADDRESS_STATUSES:
        return _unknown_mailbox(verdict, facts, reading)
    if status.startswith("5.4.") or status.startswith("5.5."):
        return None  # routing and protocol statuses: read the words
    return verdict.result(
        Classification.BOUNCE_SOFT, f"permanent failure {status} not about the address"
    )


def _disabled(verdict: _Verdict, facts: _Facts, reading: Reading) -> ClassificationResult:
    """5.2.1: a disabled or inactive account. Hard only when the remote's own reply also says
    the mailbox does not exist, at RCPT."""
    if facts.reply.wording == Wording.ADDRESS and facts.stage == SmtpStage.RCPT:
        return verdict.result(
            Classification.BOUNCE_HARD, "unknown mailbox (5.2.1 with unknown-user words, at RCPT)"
        )
    return verdict.inconclusive("account disabled or inactive (5.2.1)", line=reading.line or None)


def _unknown_mailbox(verdict: _Verdict, facts: _Facts, reading: Reading) -> ClassificationResult:
    """An unknown-mailbox status (rule 4), unless the words contradict it (rule 5)."""
    status = facts.status
    if reading.wording in _CONTRARY:
        return _by_wording(verdict, facts, reading, status_hint=status)
    if reading.wording in (Wording.DISABLED, Wording.ADDRESS_AND_POLICY):
        return verdict.inconclusive(f"status {status} with ambiguous words", line=reading.line)
    confirmed = facts.status_from == StatusSource.DIAGNOSTIC or reading.wording == Wording.ADDRESS
    if status == "5.1.10" or reading.wording == Wording.DOMAIN:
        confirmed = True
    return _address_result(verdict, facts, f"unknown mailbox ({status})", confirmed=confirmed)


def _address_result(
    verdict: _Verdict,
    facts: _Facts,
    why: str,
    *,
    confirmed: bool,
    reading: Reading | None = None,
) -> ClassificationResult:
    """Hard when refused at RCPT, or ``confirmed`` by the remote with the stage unsaid;
    inconclusive after DATA or otherwise. ``reading``: the words that decided, when the
    status did not."""
    said = {}
    if reading is not None:
        said = {"decided_by": verdict.source_of(reading), "line": reading.line or None}
    if facts.stage == SmtpStage.DATA:
        return verdict.inconclusive(
            f"{why} after DATA, where content filters use these words", **said
        )
    if facts.stage in (SmtpStage.MAIL, SmtpStage.CONNECT):
        return verdict.result(
            Classification.REJECTED,
            f"{why} refused at {facts.stage.value}: not the address",
            **said,
        )
    if facts.stage == SmtpStage.RCPT:
        return verdict.result(Classification.BOUNCE_HARD, f"{why}, refused at RCPT", **said)
    if confirmed:
        return verdict.result(Classification.BOUNCE_HARD, f"{why}, confirmed by the remote", **said)
    return verdict.inconclusive(f"{why} not confirmed by the remote's reply", **said)


def _by_wording(
    verdict: _Verdict, facts: _Facts, reading: Reading, *, status_hint: str | None = None
) -> ClassificationResult:
    """The verdict of the words alone (a generic or contradicted status, or none)."""
    wording, line = reading.wording, reading.line
    status = status_hint or facts.status or "none"
    decided = verdict.source_of(reading)
    if wording == Wording.DOMAIN:
        return verdict.result(
            Classification.BOUNCE_HARD, "no such domain or mail host", decided_by=decided, line=line
        )
    if wording in (Wording.FULL, Wording.DNS_TEMPORARY, Wording.TEMPORARY):
        why = {
            Wording.FULL: "mailbox full",
            Wording.DNS_TEMPORARY: "DNS failure that may pass",
            Wording.TEMPORARY: "temporary failure",
        }[wording]
        return verdict.result(
            Classification.BOUNCE_SOFT, f"{why} (status {status})", decided_by=decided, line=line
        )
    if wording in (Wording.SENDER, Wording.POLICY):
        why = "our sender was refused" if wording == Wording.SENDER else "refused by policy"
        return verdict.result(
            Classification.REJECTED,
            f"{why} (status {status}); contact not suppressed",
            decided_by=decided,
            line=line,
        )
    if wording == Wording.ADDRESS:
        return _address_result(
            verdict, facts, "unknown mailbox (from the words)", confirmed=True, reading=reading
        )
    if wording == Wording.ADDRESS_WEAK:
        return _address_result(
            verdict,
            facts,
            "mailbox unavailable or rejected (weak words)",
            confirmed=False,
            reading=reading,
        )
    if wording in (Wording.DISABLED, Wording.ADDRESS_AND_POLICY):
        return verdict.inconclusive(
            "account disabled, or unknown-user words in a policy refusal",
            line=line,
            decided_by=decided,
        )
    return verdict.result(
        Classification.BOUNCE_SOFT,
        f"failure of unknown cause (status {status})",
        strength=Strength.INCONCLUSIVE,
    )


def _ses_verdict(verdict: _Verdict, dsn: DsnInfo) -> ClassificationResult | None:
    """SES's own bounce types, where they decide more than the status would."""
    ses = dsn.ses
    assert ses is not None
    kind = (ses.bounce_type or "").lower()
    subtype = (ses.bounce_subtype or "").lower()
    line = f"bounceType {ses.bounce_type}, bounceSubType {ses.bounce_subtype}"
    if subtype in ("suppressed", "onaccountsuppressionlist"):
        return verdict.inconclusive(
            "on the SES suppression list (an earlier bounce, not the remote's reply)", line=line
        )
    if kind == "transient":
        if subtype in ("contentrejected", "attachmentrejected", "messagetoolarge"):
            return verdict.result(
                Classification.REJECTED,
                f"refused for its content ({ses.bounce_subtype})",
                line=line,
            )
        return verdict.result(
            Classification.BOUNCE_SOFT, f"transient bounce ({ses.bounce_subtype})", line=line
        )
    if kind == "permanent" and not dsn.status and not dsn.diagnostic:
        return verdict.inconclusive("permanent bounce without the remote's reply", line=line)
    return None
