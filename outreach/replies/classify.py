"""Classify a parsed inbound message and derive the keys that match it to a letter. Pure.

Order matters and is fixed: unusable input (oversize, unparseable) first, then bounces (a bounce
often also carries ``Auto-Submitted``), then automatic replies, then unsubscribe requests; what
is left is a human reply.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from outreach.replies.dsn import BOUNCE_SUBJECT_RE, BOUNCE_TEXT_RE, DsnInfo, is_bounce_sender
from outreach.replies.parse import ParsedInbound
from outreach.replies.snippet import strip_quoted
from outreach.states import Classification


@dataclass(frozen=True)
class ClassificationResult:
    """What a message is, why (one line for the audit log), and for bounces which address."""

    kind: Classification
    reason: str
    bounce_status: str | None = None
    bounced_address: str | None = None


@dataclass(frozen=True)
class MatchKeys:
    """How to find the letter a message answers, each list in priority order.

    ``message_ids`` (with angle brackets): In-Reply-To, then References most recent first, then
    the original Message-ID quoted in a bounce. ``recipient_addresses``: a bounce's
    Final-Recipient and Original-Recipient. ``sender``: the From address, for the last-resort
    "a contact we wrote to recently" match.
    """

    message_ids: tuple[str, ...]
    recipient_addresses: tuple[str, ...]
    sender: str | None


def matching_keys(p: ParsedInbound) -> MatchKeys:
    """The keys to look ``p`` up by (see :class:`MatchKeys`); duplicates removed."""
    ids: list[str] = [*p.in_reply_to, *reversed(p.references)]
    addresses: list[str] = []
    if p.dsn is not None:
        if p.dsn.original_message_id:
            ids.append(p.dsn.original_message_id)
        addresses.extend(a for a in (p.dsn.final_recipient, p.dsn.original_recipient) if a)
    return MatchKeys(
        message_ids=tuple(dict.fromkeys(ids)),
        recipient_addresses=tuple(dict.fromkeys(addresses)),
        sender=p.from_addr,
    )


# --- automatic replies -----------------------------------------------------------------------

_OOO_SUBJECT_RE = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"away from (?:the|my) office|on vacation|on leave|"
    r"reponse automatique|absence du bureau|absent du bureau|absence|message d.absence|"
    r"respuesta automatica|fuera de la oficina|fuera de oficina|ausente|ausencia|"
    r"abwesenheitsnotiz|automatische antwort|abwesend|abwesenheit|nicht im buro|"
    r"risposta automatica|fuori ufficio|resposta automatica|ausente do escritorio)\b",
    re.IGNORECASE,
)
_REPLY_PREFIX_RE = re.compile(r"^\s*(?:(?:re|aw|sv|tr|rv|fw|fwd|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def _fold(text: str) -> str:
    """Lowercase without accents, for matching subjects in several languages."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _auto_reply_reason(p: ParsedInbound) -> str | None:
    auto = (p.header("auto-submitted") or "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto[:60]}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if p.header(name) is not None:
            return f"{name} header present"
    precedence = (p.header("precedence") or p.header("x-precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"Precedence: {precedence}"
    if (
        p.header("x-auto-response-suppress") is not None
        and p.header("x-ms-exchange-inbox-rules-loop") is not None
    ):
        return "Exchange out-of-office (X-Auto-Response-Suppress with Inbox-Rules-Loop)"
    content_type = (p.header("content-type") or "").lower()
    if "disposition-notification" in content_type:
        return "read receipt (message disposition notification)"
    m = _OOO_SUBJECT_RE.search(_fold(p.subject))
    if m:
        return f"out-of-office subject ({m.group(0)!r})"
    return None


# --- unsubscribe -----------------------------------------------------------------------------

_UNSUB_RE = re.compile(
    r"\b(?:unsubscribe|unsubscribed|remove me|take me off|opt[- ]?out|stop sending|"
    r"desabonner|desabonnez|desabonnement|desinscrire|desinscrivez|desinscription|"
    r"darse de baja|darme de baja|dar de baja|denme de baja|baja de la lista|"
    r"abmelden|abbestellen|austragen)\b",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"\b(?:not|don't|do not|never|pas|no|nicht|kein)\b", re.IGNORECASE)


def _unsubscribe_reason(p: ParsedInbound, unsubscribe_addresses: frozenset[str]) -> str | None:
    targets = {a.lower() for a in unsubscribe_addresses}
    hit = next((a for a in p.to_addrs if a in targets), None)
    if hit:
        return f"sent to the unsubscribe address {hit}"
    subject = _fold(_REPLY_PREFIX_RE.sub("", p.subject)).strip()
    if (
        subject
        and len(subject) <= 120
        and _UNSUB_RE.search(subject)
        and not _NEGATION_RE.search(subject)
    ):
        return f"subject asks to unsubscribe ({p.subject[:60]!r})"
    first = next((line.strip() for line in strip_quoted(p.text).split("\n") if line.strip()), "")
    folded = _fold(first)
    if (
        folded
        and len(folded) <= 160
        and _UNSUB_RE.search(folded)
        and not _NEGATION_RE.search(folded)
    ):
        return f"first line asks to unsubscribe ({first[:60]!r})"
    return None


# --- bounces ---------------------------------------------------------------------------------

_STATUS_IN_TEXT_RE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_HARD_TEXT_RE = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|does not exist|"
    r"doesn't exist|no mailbox here|unknown (?:recipient|address|local part)|"
    r"invalid (?:recipient|mailbox|address)|recipient not found|address not found|"
    r"couldn't be found|could not be found|unrouteable address|mailbox unavailable|"
    r"account (?:has been )?(?:disabled|deactivated|closed)|recipnotfound|not our customer|"
    r"host or domain name not found|domain not found|name service error",
    re.IGNORECASE,
)
_SOFT_TEXT_RE = re.compile(
    r"mailbox (?:is )?full|over quota|quota exceeded|exceeded (?:the |their )?(?:storage|quota)|"
    r"insufficient storage|delayed|delay|will (?:retry|keep trying|continue trying)|"
    r"not yet been delivered|still trying|temporar(?:y|ily)|try again later",
    re.IGNORECASE,
)
_POLICY_TEXT_RE = re.compile(
    r"\bspam\b|blocked|blacklist|block ?list|denylist|\bpolicy\b|not authori[sz]ed|"
    r"access denied|\bdmarc\b|\bspf\b|reputation",
    re.IGNORECASE,
)

#: Permanent statuses that are about the address itself (RFC 3463): suppress it.
_HARD_STATUSES = ("5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.4", "5.1.5", "5.1.6", "5.1.9", "5.1.10")
_HARD_STATUSES_EXTRA = ("5.2.1",)
#: Our own sender address was refused: the contact is not at fault.
_SENDER_STATUSES = ("5.1.7", "5.1.8")


def _status_from(text: str | None) -> str | None:
    if not text:
        return None
    m = _STATUS_IN_TEXT_RE.search(text)
    return ".".join(m.groups()) if m else None


def _effective_status(dsn: DsnInfo) -> str | None:
    """The DSN status, refined from the diagnostic when the status is only ``X.0.0``."""
    status = dsn.status
    detailed = _status_from(dsn.diagnostic)
    if status is None:
        return detailed
    if status.endswith(".0.0") and detailed and detailed[0] == status[0]:
        return detailed
    return status


def _is_bounce(p: ParsedInbound) -> bool:
    if p.dsn is None:
        return False
    if p.dsn.machine_readable:
        return True
    return (
        is_bounce_sender(p.from_addr)
        or BOUNCE_SUBJECT_RE.search(p.subject) is not None
        or BOUNCE_TEXT_RE.search(p.text[:20_000]) is not None
        or "report-type=delivery-status"
        in (p.header("content-type") or "").lower().replace('"', "")
    )


def _classify_bounce(p: ParsedInbound) -> ClassificationResult:
    dsn = p.dsn
    assert dsn is not None
    address = dsn.final_recipient or dsn.original_recipient
    status = _effective_status(dsn)
    action = dsn.action
    shape = "DSN" if dsn.machine_readable else "bounce without a DSN part"
    where = f" for {address}" if address else ""

    def result(kind: Classification, why: str) -> ClassificationResult:
        return ClassificationResult(
            kind=kind,
            reason=f"{shape}{where}: {why}",
            bounce_status=status,
            bounced_address=address,
        )

    if action in ("delivered", "relayed", "expanded"):
        return result(Classification.AUTO_REPLY, f"delivery notification (Action: {action})")
    if action == "delayed":
        return result(Classification.BOUNCE_SOFT, f"delivery delayed (status {status or 'none'})")
    if status is not None:
        if status.startswith("4."):
            return result(Classification.BOUNCE_SOFT, f"temporary failure {status}")
        if status.startswith("5.7.") or status in _SENDER_STATUSES:
            return result(
                Classification.REJECTED, f"refused by policy ({status}); contact not suppressed"
            )
        if status in _HARD_STATUSES or status in _HARD_STATUSES_EXTRA:
            return result(Classification.BOUNCE_HARD, f"permanent address failure {status}")
        if status == "5.2.2":
            return result(Classification.BOUNCE_SOFT, "mailbox full (5.2.2)")
        if not status.endswith(".0.0"):
            return result(
                Classification.BOUNCE_SOFT,
                f"permanent failure {status} not about the address; not suppressed",
            )
    # no usable status: read the diagnostic, then the text of the bounce
    for source in (dsn.diagnostic, p.text[:20_000]):
        if not source:
            continue
        if _SOFT_TEXT_RE.search(source) and not (
            action == "failed" and _HARD_TEXT_RE.search(source)
        ):
            return result(
                Classification.BOUNCE_SOFT, "temporary failure or mailbox full (from the text)"
            )
        if _HARD_TEXT_RE.search(source):
            return result(Classification.BOUNCE_HARD, "unknown or disabled address (from the text)")
        if _POLICY_TEXT_RE.search(source):
            return result(
                Classification.REJECTED, "refused by policy (from the text); contact not suppressed"
            )
    return result(
        Classification.BOUNCE_SOFT, f"failure of unknown cause (status {status or 'none'})"
    )


# --- the classifier --------------------------------------------------------------------------


def classify(
    p: ParsedInbound, *, unsubscribe_addresses: frozenset[str] = frozenset()
) -> ClassificationResult:
    """What ``p`` is, in the fixed order: oversize/unparseable, bounce, auto-reply, unsubscribe,
    human. ``unsubscribe_addresses`` are lowercase addresses whose mail is an unsubscribe request
    (a dedicated List-Unsubscribe mailbox). Never raises for a :class:`ParsedInbound` that
    :func:`~outreach.replies.parse.parse_inbound` returned.
    """
    if p.oversize:
        return ClassificationResult(Classification.OVERSIZE, f"{p.size} bytes, over the size cap")
    if p.error is not None:
        return ClassificationResult(Classification.UNPARSEABLE, p.error)
    if p.header("feedback-type") or "report-type=feedback-report" in (
        p.header("content-type") or ""
    ).lower().replace('"', ""):
        return ClassificationResult(
            Classification.UNSUBSCRIBE, "spam complaint (ARF feedback report)"
        )
    if _is_bounce(p):
        return _classify_bounce(p)
    reason = _auto_reply_reason(p)
    if reason:
        return ClassificationResult(Classification.AUTO_REPLY, reason)
    reason = _unsubscribe_reason(p, unsubscribe_addresses)
    if reason:
        return ClassificationResult(Classification.UNSUBSCRIBE, reason)
    return ClassificationResult(Classification.HUMAN, "a person's reply")
