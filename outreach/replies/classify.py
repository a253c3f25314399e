"""Classify a parsed inbound message and derive the keys that match it to a letter. Pure.

Order matters and is fixed: unusable input (oversize, unparseable, no sender at all) first,
then spam-complaint reports, then our own letters fed back (our ``X-Outreach-*`` headers), then
bounces (a bounce often also carries ``Auto-Submitted``; :mod:`~outreach.replies.bounce_verdict`
weighs them), then automatic replies, then unsubscribe requests; what is left is a human reply.
Every result carries the :class:`~outreach.replies.evidence.Evidence` that decided it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from outreach.replies.bounce_verdict import judge_bounce
from outreach.replies.dsn import FEEDBACK_REPORT, DsnInfo
from outreach.replies.evidence import Evidence, Strength, evidence_line
from outreach.replies.parse import ParsedInbound
from outreach.replies.result import ClassificationResult
from outreach.replies.snippet import strip_quoted
from outreach.states import Classification

__all__ = ["ClassificationResult", "MatchKeys", "classify", "matching_keys", "own_outbound"]


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
    r"risposta automatica|fuori ufficio|resposta automatica|ausente do escritorio|"
    r"automatisch antwoord|afwezig|automatyczna odpowiedz|poza biurem|"
    r"автоответ|автоматическ\w{0,3} ответ|нет на месте|в отпуске)\b",
    re.IGNORECASE,
)
#: Out-of-office subjects in scripts without word boundaries (Japanese, Chinese).
_OOO_CJK_SUBJECT_RE = re.compile(r"不在|自動(?:応答|返信)|外出中|休暇中|自动回复")
_REPLY_PREFIX_RE = re.compile(r"^\s*(?:(?:re|aw|sv|tr|rv|fw|fwd|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def _fold(text: str) -> str:
    """Lowercase without accents, for matching subjects in several languages."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _auto_reply(p: ParsedInbound) -> Evidence | None:
    """The evidence that ``p`` is an automatic reply (headers first, then the subject)."""
    auto = (p.header("auto-submitted") or "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return _header_evidence("Auto-Submitted header", f"Auto-Submitted: {auto[:60]}")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if p.header(name) is not None:
            return _header_evidence(f"{name} header", f"{name} header present")
    precedence = (p.header("precedence") or p.header("x-precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return _header_evidence("Precedence header", f"Precedence: {precedence}")
    if (
        p.header("x-auto-response-suppress") is not None
        and p.header("x-ms-exchange-inbox-rules-loop") is not None
    ):
        return _header_evidence(
            "Exchange headers",
            "Exchange out-of-office (X-Auto-Response-Suppress with Inbox-Rules-Loop)",
        )
    content_type = (p.header("content-type") or "").lower()
    if "disposition-notification" in content_type:
        return _header_evidence("Content-Type", "read receipt (message disposition notification)")
    folded = _fold(p.subject)
    m = _OOO_SUBJECT_RE.search(folded) or _OOO_CJK_SUBJECT_RE.search(folded)
    if m:
        return Evidence(
            decided_by="subject",
            line=f"out-of-office subject ({m.group(0)!r})",
            strength=Strength.INCONCLUSIVE,
        )
    return None


def _header_evidence(decided_by: str, line: str) -> Evidence:
    return Evidence(decided_by=decided_by, line=evidence_line(line))


# --- unsubscribe -----------------------------------------------------------------------------

_UNSUB_RE = re.compile(
    r"\b(?:unsubscribe|unsubscribed|remove me|take me off|opt[- ]?out|stop sending|"
    r"desabonner|desabonnez|desabonnement|desinscrire|desinscrivez|desinscription|"
    r"darse de baja|darme de baja|dar de baja|denme de baja|baja de la lista|"
    r"abmelden|abbestellen|austragen)\b",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"\b(?:not|don't|do not|never|pas|no|nicht|kein)\b", re.IGNORECASE)


def _unsubscribe(p: ParsedInbound, unsubscribe_addresses: frozenset[str]) -> Evidence | None:
    """The evidence that ``p`` asks to be removed: sent to an unsubscribe address
    (conclusive), or a subject or first line that asks (inconclusive)."""
    targets = {a.lower() for a in unsubscribe_addresses}
    hit = next((a for a in p.to_addrs if a in targets), None)
    if hit:
        return Evidence(decided_by="recipient", line=f"sent to the unsubscribe address {hit}")
    subject = _fold(_REPLY_PREFIX_RE.sub("", p.subject)).strip()
    if _asks_to_unsubscribe(subject, longest=120):
        return Evidence(
            decided_by="subject",
            line=evidence_line(f"subject asks to unsubscribe ({p.subject[:60]!r})"),
            strength=Strength.INCONCLUSIVE,
        )
    first = next((line.strip() for line in strip_quoted(p.text).split("\n") if line.strip()), "")
    if _asks_to_unsubscribe(_fold(first), longest=160):
        return Evidence(
            decided_by="first line",
            line=evidence_line(f"first line asks to unsubscribe ({first[:60]!r})"),
            strength=Strength.INCONCLUSIVE,
        )
    return None


def _asks_to_unsubscribe(folded: str, *, longest: int) -> bool:
    """Whether a short line (``folded``, at most ``longest`` characters) asks to unsubscribe
    and does not negate it."""
    return (
        bool(folded)
        and len(folded) <= longest
        and _UNSUB_RE.search(folded) is not None
        and not _NEGATION_RE.search(folded)
    )


# --- the classifier --------------------------------------------------------------------------

#: The evidence of a human reply: nothing automatic about it (decided by elimination).
_HUMAN = Evidence(
    decided_by="no bounce, auto-reply or unsubscribe markers",
    line="a person's reply",
    strength=Strength.INCONCLUSIVE,
)


def classify(
    p: ParsedInbound, *, unsubscribe_addresses: frozenset[str] = frozenset()
) -> ClassificationResult:
    """What ``p`` is, in the fixed order: oversize/unparseable (no sender at all included),
    spam complaint, our own letter, bounce, auto-reply, unsubscribe, human.
    ``unsubscribe_addresses`` are lowercase addresses whose mail is an unsubscribe request (a
    dedicated List-Unsubscribe mailbox). Never raises for a :class:`ParsedInbound` that
    :func:`~outreach.replies.parse.parse_inbound` returned.
    """
    unusable = _unusable(p)
    if unusable is not None:
        return unusable
    dsn = p.dsn
    complaint = _complaint(p, dsn)
    if complaint is not None:
        return complaint
    own = sorted(name for name in p.headers if name.startswith("x-outreach-"))
    if own:
        return own_outbound(f"our own letter ({', '.join(own[:3])} headers)", decided_by="headers")
    if dsn is not None:
        return judge_bounce(dsn)
    evidence = _auto_reply(p)
    if evidence is not None:
        return ClassificationResult(Classification.AUTO_REPLY, evidence.line, evidence=evidence)
    evidence = _unsubscribe(p, unsubscribe_addresses)
    if evidence is not None:
        return ClassificationResult(Classification.UNSUBSCRIBE, evidence.line, evidence=evidence)
    return ClassificationResult(Classification.HUMAN, "a person's reply", evidence=_HUMAN)


def _unusable(p: ParsedInbound) -> ClassificationResult | None:
    """``oversize``, or ``unparseable`` (a parse error, or no sender address and no bounce
    shape: random bytes, a header-less fragment)."""
    if p.oversize:
        why = f"{p.size} bytes, over the size cap"
        return ClassificationResult(Classification.OVERSIZE, why, evidence=Evidence("size", why))
    if p.error is not None:
        return ClassificationResult(
            Classification.UNPARSEABLE, p.error, evidence=Evidence("parser", evidence_line(p.error))
        )
    if p.from_addr is None and p.dsn is None:
        why = "no sender address and no bounce shape: not a message we can act on"
        return ClassificationResult(
            Classification.UNPARSEABLE, why, evidence=Evidence("From header", why)
        )
    return None


def _complaint(p: ParsedInbound, dsn: DsnInfo | None) -> ClassificationResult | None:
    """A spam complaint (an ARF feedback report, or an SES complaint notification): the
    complainer's address is unsubscribed."""
    ses_kind = dsn.ses.kind if dsn is not None and dsn.ses is not None else None
    if ses_kind == "delivery" and dsn is not None:
        why = "delivery notification (Amazon SES)"
        return ClassificationResult(
            Classification.AUTO_REPLY,
            why,
            bounced_address=dsn.final_recipient,
            evidence=Evidence("SES notification", why),
        )
    is_arf = p.header("feedback-type") is not None or (
        dsn is not None and dsn.report_type == FEEDBACK_REPORT
    )
    if not is_arf and ses_kind != "complaint":
        return None
    address = dsn.final_recipient if dsn is not None else None
    source = "Amazon SES notification" if ses_kind else "ARF feedback report"
    why = f"spam complaint ({source})" + (f" for {address}" if address else "")
    return ClassificationResult(
        Classification.UNSUBSCRIBE,
        why,
        bounced_address=address,
        evidence=Evidence("feedback report", why),
    )


def own_outbound(why: str, *, decided_by: str) -> ClassificationResult:
    """One of our own letters fed back (a Sent folder, a BCC copy, a list echo): recorded as
    ``own_outbound``, never a reply, no effects."""
    return ClassificationResult(
        Classification.OWN_OUTBOUND, why, evidence=Evidence(decided_by, evidence_line(why))
    )
