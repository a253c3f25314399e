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


@dataclass(frozen=True)
class Keyed:
    """A lowercase pattern searched only around its key words, line by line.

    Every match of ``pattern`` contains one of ``keys``; the pattern is tried only on the
    line around each occurrence of a key (at most ``before`` characters before it and
    ``after`` after it; across lines when ``one_line`` is false). That keeps reading a long
    bounce to a few substring scans plus a few short regex runs.
    """

    keys: tuple[str, ...]
    pattern: re.Pattern[str]
    before: int = 120
    after: int = 200
    one_line: bool = True

    def search(self, low: str, start: int = 0, end: int | None = None) -> re.Match[str] | None:
        """The earliest match found in ``low[start:end]`` (``low`` is lowercase text)."""
        stop = len(low) if end is None else min(end, len(low))
        best: re.Match[str] | None = None
        for key in self.keys:
            at = low.find(key, start, stop)
            while at != -1:
                lo, hi = self._window(low, at, len(key), start, stop)
                m = self.pattern.search(low, lo, hi)
                if m is not None:
                    if best is None or m.start() < best.start():
                        best = m
                    break
                at = low.find(key, at + 1, stop)
        return best

    def _window(self, low: str, at: int, size: int, start: int, stop: int) -> tuple[int, int]:
        lo = max(start, at - self.before)
        hi = min(stop, at + size + self.after)
        if self.one_line:
            lo = max(lo, low.rfind("\n", lo, at) + 1)
            line_end = low.find("\n", at + size, hi)
            hi = line_end if line_end != -1 else hi
        return lo, hi


def _keyed(keys: tuple[str, ...], pattern: str, **kw: int | bool) -> Keyed:
    return Keyed(keys, re.compile(pattern), **kw)  # type: ignore[arg-type]


#: The mailbox does not exist, in the words of the server that keeps it.
ADDRESS_UNKNOWN = _keyed(
    (
        "unknown",
        "no such",
        "exist",
        "not found",
        "have a",
        "notfound",
        "resolver",
        "no mailbox",
        "not listed",
        "not a ",
        "not valid",
        "not known",
        "invalid",
        "isn't in my",
        "badrcptto",
        "no account",
        "wasn't found",
        "inconnu",
        "unbekannt",
        "desconocido",
        "sconosciuto",
        "inesistente",
        "directorio",
        "annuaire",
        "no valid",
        "宛先不明",
        "存在しません",
        "見つかりません",
    ),
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
    r"|utente (?:sconosciuto|inesistente)|no se encuentra en el directorio de domino"
    r"|non r[ée]pertori[ée] dans l'annuaire|no valid recipients"
    r"|宛先不明|存在しません|見つかりません",
)
#: Words that fit an unknown mailbox but also a refusal for other reasons.
ADDRESS_WEAK = _keyed(
    (
        "unavailable",
        "rejected",
        "invalid",
        "not accepted",
        "not ok",
        "not local",
        "customer",
        "not valid",
        "bad recipient",
    ),
    r"mailbox (?:is )?unavailable|recipient (?:address )?rejected|address rejected"
    r"|invalid (?:e-?mail )?address|recipient (?:is )?not (?:accepted|ok|local)"
    r"|not our customer|address (?:is )?not valid|bad recipient"
    r"|rejected recipient|(?:user|recipient) rejected",
)
#: An account that exists but is disabled, suspended or inactive: ambiguous across providers.
DISABLED = _keyed(
    (
        "disabled",
        "deactivated",
        "suspended",
        "inactive",
        "closed",
        "locked",
        "frozen",
        "terminated",
        "expired",
        "no longer",
    ),
    r"(?:account|mailbox|user|recipient)(?: \S{1,80})? (?:has been |is |was )?(?:currently )?"
    r"(?:disabled|deactivated|suspended|inactive|closed|locked|frozen|terminated|expired)"
    r"|(?:disabled|inactive|deactivated|suspended) (?:account|mailbox|user)"
    r"|account that you tried to reach is (?:disabled|inactive)"
    r"|no longer (?:accepts mail|in use|active|valid|exists?)|account is disabled",
)
#: The recipient's domain has no mail host (the DNS, or the remote, says so).
DOMAIN_UNKNOWN = _keyed(
    (
        "not found",
        "exist",
        "no such",
        "unknown",
        "mx",
        "nxdomain",
        "host named",
        "null",
        "accept mail",
        "no route",
        "unrout",
    ),
    r"host or domain name not found|domain (?:name )?not found|domain (?:does not|doesn't) exist"
    r"|(?:no such|unknown|non-?existent) (?:domain|host)|host unknown|unknown host"
    r"|no mx records? (?:found|for)|no (?:valid )?mx (?:or a )?records?"
    r"|mx records? point to non-?existent hosts|type=(?:mx|a|aaaa): host not found"
    r"|nxdomain|couldn't find any host named|could not find any host named|host not found"
    r"|does not accept mail \(null ?mx\)|null mx|host/domain does not accept mail"
    r"|remote domain doesn'?t exist|no route found to domain|unroutea?ble (?:mail )?domain"
    r"|unroutea?ble address"
    r"|dns domain [\w.-]{1,100} does not exist|name server: [\w.-]{0,100}: host not found",
)
#: A DNS failure that may pass (not proof the domain is gone); read on one line only.
DNS_TEMPORARY_RE = re.compile(
    r"try again|temporar|servfail|timed? ?out|no answer|server failure|lookup failed"
)
#: The mailbox is full: a soft bounce.
MAILBOX_FULL = _keyed(
    (
        "full",
        "exceed",
        "quota",
        "insufficient",
        "size limit",
        "not enough",
        "pleine",
        "voll",
        "lleno",
        "completo",
        "容量",
    ),
    r"mailbox (?:is )?full|(?:mailbox|quota|storage|disk)(?: \S{1,40})? (?:exceeded|is full)"
    r"|over ?quota|over (?:the |its |their )?(?:allowed |storage )?quota|quota (?:exceeded|violation)"
    r"|exceeded (?:the |their |its )?(?:storage|quota)"
    r"|insufficient (?:storage|disk space|system storage)|mailbox size limit|mailfolder is full"
    r"|not enough (?:storage|space)|has exceeded (?:the |its |their )?(?:quota|limit|size)"
    r"|bo[iî]te (?:aux lettres )?pleine|postfach (?:ist )?voll|buz[oó]n (?:lleno|completo)"
    r"|容量",
)
#: Our sender (or domain) was refused: the contact is not at fault.
SENDER = _keyed(
    ("sender", "from address", "from domain", "mail from"),
    r"sender (?:address |domain )?(?:rejected|denied|refused|blocked|blacklisted|not allowed"
    r"|verify failed|verification failed|unknown|not found)|sender domain must exist"
    r"|(?:your|the) (?:sender|envelope sender|from) (?:address|domain)"
    r"|mail from (?:address )?(?:rejected|refused)|domain of sender address"
    r"|unroutable sender address|sender was rejected|sender is (?:not|in)",
)
#: A refusal of the content, the sender's reputation or by policy: the address may be fine.
POLICY = _keyed(
    (
        "spam",
        "junk",
        "block",
        "black",
        "deny",
        "rbl",
        "reputation",
        "polic",
        "not author",
        "not permitted",
        "prohibit",
        "dmarc",
        "spf",
        "dkim",
        "content",
        "virus",
        "malware",
        "phish",
        "relay",
        "unsolicited",
        "not accepting",
        "rejected by",
        "message rejected",
        "message refused",
        "message blocked",
        "not a member",
        "not member",
        "reject mail",
        "banned",
        "disallowed",
        "filtered",
        "suspicious",
        "authentication",
        "permission",
    ),
    r"\bspam|\bjunk\b|\bblock(?:ed|list|ing)?\b|black ?list|deny ?list|\brbl\b|spamhaus"
    r"|spamcop|reputation|\bpolic(?:y|ies)\b|not (?:authori[sz]ed|permitted)|prohibit"
    r"|\bdmarc\b|\bspf\b|\bdkim\b|content (?:filter|rejected|violation)|\bvirus|malware"
    r"|phish|relay(?:ing)? (?:denied|not permitted|not allowed|access denied)|unsolicited"
    r"|unable to relay|as a relay\b"
    r"|not accepting (?:any )?mail from|rejected by (?:the )?"
    r"(?:content|filter|recipient's (?:system|server)|security)|message (?:rejected|refused|"
    r"blocked) (?:by|due|as|because)|not a member|not member article|reject mail from"
    r"|banned|disallowed|filtered|suspicious|authentication (?:required|failed)"
    r"|(?:do not|don't) have permission",
)
#: A delay or a failure that will pass.
TEMPORARY = _keyed(
    (
        "delay",
        "will ",
        "deferred",
        "not yet",
        "still trying",
        "temporar",
        "try again",
        "retry",
        "incomplete",
        "within",
    ),
    r"\bdelay(?:ed)?\b|will (?:retry|keep trying|continue trying|try again)|deferred"
    r"|not yet been delivered|still trying|temporar(?:y|ily)|try again later"
    r"|retry time not reached|delivery incomplete|could not be delivered within",
)

#: Where a refusal came, as the MTAs that say so word it (Postfix, Exim, Sendmail, Courier,
#: InterScan, MDaemon, GMX...). Searched across lines (transcripts span two).
STAGE = _keyed(
    (
        "rcpt",
        "data",
        "reply",
        "mail from",
        ">>>",
        "connection",
        "connecting",
        "ehlo",
        "helo",
        "message was",
    ),
    r"(?P<rcpt>in\s+reply\s+to\s+rcpt\s+to\s+command|(?:after|for)\s+rcpt\s+to\b"
    r"|for\s+rcpt\s+command|>>> *rcpt +to\b[^\n]{0,300}\n[ \t]*<<< *[45]"
    r"|--> +rcpt +to:[^\n]{0,300}\n[^\n]{0,80}<-- +[45]"
    r"|sent <<< rcpt to[^\n]{0,300}\n[ \t]*received >>> *[45])"
    r"|(?P<data>in\s+reply\s+to\s+(?:end\s+of\s+)?data\s+command"
    r"|after\s+(?:end\s+of\s+)?data\b|for\s+data\s+command|>>> *(?:data|\.) *\n[ \t]*<<< *[45]"
    r"|sent <<< data *\n[ \t]*received >>> *[45]|after\s+the\s+message\s+was\s+(?:sent|transferred))"
    r"|(?P<mail>in\s+reply\s+to\s+mail\s+from\s+command|(?:after|for)\s+mail\s+from\b"
    r"|>>> *mail +from\b[^\n]{0,300}\n[ \t]*<<< *[45])"
    r"|(?P<connect>after\s+initial\s+connection|in\s+reply\s+to\s+(?:ehlo|helo)\s+command"
    r"|after\s+(?:ehlo|helo)\b|while\s+connecting)",
    before=40,
    after=420,
    one_line=False,
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
    low = text.lower()
    if len(low) != len(text):  # a few characters lower-case to two; quote the lowercase
        text = low
    m = DOMAIN_UNKNOWN.search(low)
    if m:
        line = _line_at(text, m)
        if DNS_TEMPORARY_RE.search(line.lower()):
            return Reading(Wording.DNS_TEMPORARY, line)
        return Reading(Wording.DOMAIN, line)
    for family, wording in ((MAILBOX_FULL, Wording.FULL), (SENDER, Wording.SENDER)):
        m = family.search(low)
        if m:
            return Reading(wording, _line_at(text, m))
    address = ADDRESS_UNKNOWN.search(low)
    policy = POLICY.search(low)
    if address and policy:
        return Reading(Wording.ADDRESS_AND_POLICY, _line_at(text, address))
    if policy:
        return Reading(Wording.POLICY, _line_at(text, policy))
    if address:
        return Reading(Wording.ADDRESS, _line_at(text, address))
    for family, wording in (
        (DISABLED, Wording.DISABLED),
        (ADDRESS_WEAK, Wording.ADDRESS_WEAK),
        (TEMPORARY, Wording.TEMPORARY),
    ):
        m = family.search(low)
        if m:
            return Reading(wording, _line_at(text, m))
    return NOTHING


def _line_at(text: str, m: re.Match[str]) -> str:
    """The line of ``text`` holding the match, as one evidence line."""
    start = max(text.rfind(_LINE_END, 0, m.start()) + 1, m.start() - 120)
    end = text.find(_LINE_END, m.end())
    return evidence_line(text[start : end if end != -1 else len(text)])


def find_stage(text: str | None, near: str | None = None) -> SmtpStage | None:
    """The SMTP stage a refusal came at, read from ``text``: first within 2,000 characters
    after the first mention of ``near`` (the failed recipient), else anywhere in the first
    :data:`~outreach.replies.limits.MAX_SCANNED_TEXT` characters. ``None`` when not said."""
    if not text:
        return None
    low = text[:MAX_SCANNED_TEXT].lower()
    if near:
        at = low.find(near.lower())
        if at != -1:
            m = STAGE.search(low, at, at + 2000)
            if m is not None:
                return SmtpStage(m.lastgroup)
    m = STAGE.search(low)
    return SmtpStage(m.lastgroup) if m is not None else None


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
