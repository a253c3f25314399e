"""What the words of a bounce say: wording families, the SMTP stage, the remote's status. Pure.

Mail servers word the same failure a hundred ways and use the same words for different
failures; these patterns only *read* the text (:func:`read_wording`, :func:`find_stage`,
:func:`reply_status`) — :mod:`~outreach.replies.bounce_verdict` weighs what they find. Every
pattern is compiled once, has no nested quantifiers, and is run over bounded text (the
diagnostic, or at most :data:`~outreach.replies.limits.MAX_SCANNED_TEXT` characters of the
bounce's own text), so reading stays linear and cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from outreach.replies.evidence import SmtpStage, evidence_line
from outreach.replies.limits import MAX_SCANNED_TEXT

_I = re.IGNORECASE

#: The mailbox does not exist, in the words of the server that keeps it.
ADDRESS_UNKNOWN_RE = re.compile(
    r"user unknown|unknown user|unknown (?:e-?mail |local )?(?:recipient|address|mailbox|user)"
    r"|unknown local[- ]?part|no such (?:user|mailbox|recipient|address|person|account)"
    r"|(?:user|mailbox|recipient|address|account)(?: \S{1,80})? (?:does not|doesn't|not) exist"
    r"|(?:e-?mail )?(?:account|address) that you tried to reach does not exist"
    r"|(?:user|mailbox|recipient|address) (?:was )?not found|recipient (?:address )?unknown"
    r"|(?:doesn't|does not) have an? [\w.-]{1,60} account|recip(?:ient)?notfound"
    r"|resolver\.adr\.recip|no mailbox (?:here )?by that name|no mailbox found"
    r"|not listed in (?:the |public )?(?:domino directory|name (?:&|and) address book)"
    r"|unknown or illegal alias|not (?:a )?(?:valid|known) (?:user|recipient|mailbox)"
    r"|invalid (?:recipient|mailbox|user)|(?:recipient|user|mailbox) (?:is )?invalid"
    r"|isn't in my (?:list of allowed rcpthosts|validrcptto)|badrcptto|no account by that name"
    r"|does not exist at the organi[sz]ation|wasn't found at [\w.-]{1,100}"
    r"|utilisateur inconnu|destinataire inconnu|adresse (?:e-?mail )?(?:inconnue|inexistante)"
    r"|unbekannte?r? (?:empf[aä]nger|benutzer)|(?:empf[aä]nger|benutzer) (?:ist )?unbekannt"
    r"|usuario (?:desconocido|inexistente|no existe)|destinatario (?:desconocido|inexistente)"
    r"|utente (?:sconosciuto|inesistente)|宛先不明|存在しません|見つかりません",
    _I,
)
#: Words that fit an unknown mailbox but also a refusal for other reasons.
ADDRESS_WEAK_RE = re.compile(
    r"mailbox (?:is )?unavailable|recipient (?:address )?rejected|address rejected"
    r"|invalid (?:e-?mail )?address|recipient (?:is )?not (?:accepted|ok|local)"
    r"|not our customer|address (?:is )?not valid|bad recipient"
    r"|rejected recipient|(?:user|recipient) rejected",
    _I,
)
#: An account that exists but is disabled, suspended or inactive: ambiguous across providers.
DISABLED_RE = re.compile(
    r"(?:account|mailbox|user|recipient)(?: \S{1,80})? (?:has been |is |was )?(?:currently )?"
    r"(?:disabled|deactivated|suspended|inactive|closed|locked|frozen|terminated|expired)"
    r"|(?:disabled|inactive|deactivated|suspended) (?:account|mailbox|user)"
    r"|no longer (?:accepts mail|in use|active|valid|exists?)|account is disabled",
    _I,
)
#: The recipient's domain has no mail host (the DNS, or the remote, says so).
DOMAIN_UNKNOWN_RE = re.compile(
    r"host or domain name not found|domain (?:name )?not found|domain (?:does not|doesn't) exist"
    r"|(?:no such|unknown|non-?existent) (?:domain|host)|host unknown|unknown host"
    r"|no mx records? (?:found|for)|no (?:valid )?mx (?:or a )?records?"
    r"|mx records? point to non-?existent hosts|type=(?:mx|a|aaaa): host not found"
    r"|nxdomain|couldn't find any host named|could not find any host named"
    r"|does not accept mail \(null ?mx\)|null mx|host/domain does not accept mail"
    r"|remote domain doesn'?t exist|no route found to domain|unroutea?ble (?:mail )?domain"
    r"|unroutea?ble address"
    r"|dns domain [\w.-]{1,100} does not exist|name server: [\w.-]{0,100}: host not found",
    _I,
)
#: A DNS failure that may pass (not proof the domain is gone).
DNS_TEMPORARY_RE = re.compile(
    r"try again|temporar|servfail|timed? ?out|no answer|server failure|lookup failed", _I
)
#: The mailbox is full: a soft bounce.
MAILBOX_FULL_RE = re.compile(
    r"mailbox (?:is )?full|(?:mailbox|quota|storage|disk)(?: \S{1,40})? (?:exceeded|is full)"
    r"|over ?quota|quota (?:exceeded|violation)|exceeded (?:the |their |its )?(?:storage|quota)"
    r"|insufficient (?:storage|disk space|system storage)|mailbox size limit|mailfolder is full"
    r"|not enough (?:storage|space)|has exceeded (?:the |its |their )?(?:quota|limit|size)"
    r"|bo[iî]te (?:aux lettres )?pleine|postfach (?:ist )?voll|buz[oó]n (?:lleno|completo)"
    r"|容量",
    _I,
)
#: Our sender (or domain) was refused: the contact is not at fault.
SENDER_RE = re.compile(
    r"sender (?:address |domain )?(?:rejected|denied|refused|blocked|blacklisted|not allowed"
    r"|verify failed|verification failed|unknown|not found)|sender domain must exist"
    r"|(?:your|the) (?:sender|envelope sender|from) (?:address|domain)"
    r"|mail from (?:address )?(?:rejected|refused)|domain of sender address"
    r"|unroutable sender address|sender was rejected|sender is (?:not|in)",
    _I,
)
#: A refusal of the content, the sender's reputation or by policy: the address may be fine.
POLICY_RE = re.compile(
    r"\bspam|\bjunk\b|\bblock(?:ed|list|ing)?\b|black ?list|deny ?list|\brbl\b|spamhaus"
    r"|spamcop|reputation|\bpolic(?:y|ies)\b|not (?:authori[sz]ed|permitted)|prohibited"
    r"|\bdmarc\b|\bspf\b|\bdkim\b|content (?:filter|rejected|violation)|\bvirus|malware"
    r"|phish|relay(?:ing)? (?:denied|not permitted|access denied)|unsolicited"
    r"|administrative prohibition|not accepting (?:any )?mail from|rejected by (?:the )?"
    r"(?:content|filter|recipient's (?:system|server)|security)|message (?:rejected|refused|"
    r"blocked) (?:by|due|as|because)|not a member|not member article|reject mail from"
    r"|banned|disallowed|filtered|suspicious|authentication (?:required|failed)"
    r"|(?:do not|don't) have permission",
    _I,
)
#: A delay or a failure that will pass.
TEMPORARY_RE = re.compile(
    r"\bdelay(?:ed)?\b|will (?:retry|keep trying|continue trying|try again)|deferred"
    r"|not yet been delivered|still trying|temporar(?:y|ily)|try again later"
    r"|retry time not reached|delivery incomplete|could not be delivered within",
    _I,
)

#: Where a refusal came, as the MTAs that say so word it (Postfix, Exim, Sendmail, Courier,
#: InterScan, GMX...).
_STAGE_RE = re.compile(
    r"(?P<rcpt>in reply to rcpt to command|(?:after|for) rcpt to\b|for rcpt command"
    r"|>>> *rcpt +to\b[^\n]{0,300}\n[ \t]*<<< *[45]|sent <<< rcpt to[^\n]{0,300}\n"
    r"[ \t]*received >>> *[45])"
    r"|(?P<data>in reply to (?:end of )?data command|after (?:end of )?data\b"
    r"|for data command|>>> *(?:data|\.) *\n[ \t]*<<< *[45]|sent <<< data *\n"
    r"[ \t]*received >>> *[45]|after the message was (?:sent|transferred))"
    r"|(?P<mail>in reply to mail from command|(?:after|for) mail from\b"
    r"|>>> *mail +from\b[^\n]{0,300}\n[ \t]*<<< *[45])"
    r"|(?P<connect>after initial connection|in reply to (?:ehlo|helo) command|after (?:ehlo|helo)"
    r"|while connecting)",
    _I,
)
#: An enhanced status code (RFC 3463).
STATUS_RE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
#: An SMTP reply code followed by its enhanced status: the remote server's own words.
_REPLY_STATUS_RE = re.compile(
    r"(?<!\d)[245]\d\d[ -]['\"(]?[ ]?#?([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)"
)
#: A line of text (for quoting the deciding line).
_LINE_END = "\n"


class Wording(StrEnum):
    """What the words of a bounce say, strongest reading first (see :func:`read_wording`)."""

    DOMAIN = "domain"  #: the domain has no mail host
    DNS_TEMPORARY = "dns_temporary"  #: a DNS failure that may pass
    FULL = "full"  #: mailbox full
    SENDER = "sender"  #: our sender was refused
    ADDRESS_AND_POLICY = "address_and_policy"  #: unknown-user words in a policy refusal
    POLICY = "policy"  #: a policy or content refusal
    ADDRESS = "address"  #: the mailbox does not exist
    DISABLED = "disabled"  #: the account is disabled (ambiguous)
    ADDRESS_WEAK = "address_weak"  #: words that fit an unknown mailbox and other refusals
    TEMPORARY = "temporary"  #: a delay
    NONE = "none"  #: nothing recognised


@dataclass(frozen=True)
class Reading:
    """The :class:`Wording` of a text and the line that says it (``""`` for none)."""

    wording: Wording
    line: str = ""


NOTHING = Reading(Wording.NONE)


def read_wording(text: str | None) -> Reading:
    """What ``text`` says, by the first rule that applies: domain (or a temporary DNS
    failure), full, sender, unknown-address-with-policy words, policy, unknown address,
    disabled account, weak address words, temporary. Only the first
    :data:`~outreach.replies.limits.MAX_SCANNED_TEXT` characters are read."""
    if not text:
        return NOTHING
    text = text[:MAX_SCANNED_TEXT]
    m = DOMAIN_UNKNOWN_RE.search(text)
    if m:
        line = _line_at(text, m)
        if DNS_TEMPORARY_RE.search(line):
            return Reading(Wording.DNS_TEMPORARY, line)
        return Reading(Wording.DOMAIN, line)
    for pattern, wording in ((MAILBOX_FULL_RE, Wording.FULL), (SENDER_RE, Wording.SENDER)):
        m = pattern.search(text)
        if m:
            return Reading(wording, _line_at(text, m))
    address = ADDRESS_UNKNOWN_RE.search(text)
    policy = POLICY_RE.search(text)
    if address and policy:
        return Reading(Wording.ADDRESS_AND_POLICY, _line_at(text, address))
    if policy:
        return Reading(Wording.POLICY, _line_at(text, policy))
    if address:
        return Reading(Wording.ADDRESS, _line_at(text, address))
    for pattern, wording in (
        (DISABLED_RE, Wording.DISABLED),
        (ADDRESS_WEAK_RE, Wording.ADDRESS_WEAK),
        (TEMPORARY_RE, Wording.TEMPORARY),
    ):
        m = pattern.search(text)
        if m:
            return Reading(wording, _line_at(text, m))
    return NOTHING


def _line_at(text: str, m: re.Match[str]) -> str:
    """The line of ``text`` holding the match, as one evidence line."""
    start = text.rfind(_LINE_END, 0, m.start()) + 1
    end = text.find(_LINE_END, m.end())
    return evidence_line(text[start : end if end != -1 else len(text)])


def find_stage(text: str | None, near: str | None = None) -> SmtpStage | None:
    """The SMTP stage a refusal came at, read from ``text``: first within 2,000 characters
    after the first mention of ``near`` (the failed recipient), else anywhere in the first
    :data:`~outreach.replies.limits.MAX_SCANNED_TEXT` characters. ``None`` when not said."""
    if not text:
        return None
    text = text[:MAX_SCANNED_TEXT]
    if near:
        at = text.lower().find(near.lower())
        if at != -1:
            found = _stage_in(text[at : at + 2000])
            if found is not None:
                return found
    return _stage_in(text)


def _stage_in(text: str) -> SmtpStage | None:
    m = _STAGE_RE.search(text)
    if m is None:
        return None
    return SmtpStage(m.lastgroup)


def first_status(text: str | None) -> str | None:
    """The first enhanced status code in ``text`` (at most
    :data:`~outreach.replies.limits.MAX_SCANNED_TEXT` characters read), or ``None``."""
    if not text:
        return None
    m = STATUS_RE.search(text[:MAX_SCANNED_TEXT])
    return ".".join(m.groups()) if m else None


def reply_status(text: str | None) -> str | None:
    """The enhanced status the remote server gave with its own reply code (``550 5.1.1``,
    ``550-'5.2.2``): the last such pair, so that a relay wrapping the remote's reply
    (``5.1.0 - Unknown address error 550-'5.2.2 …'``) yields the remote's status. Else the
    first enhanced status in ``text``; ``None`` when there is none."""
    if not text:
        return None
    text = text[:MAX_SCANNED_TEXT]
    last = None
    for m in _REPLY_STATUS_RE.finditer(text):
        last = m
    if last is not None:
        return ".".join(last.groups())
    return first_status(text)
