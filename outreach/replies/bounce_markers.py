"""How a bounce without a delivery-status part is recognised, and where it names the recipient.

Pure. RFC 3464 reports are easy; many systems never send one: qmail, Exim, old Exchange, Lotus
Domino, old Sendmail, Trend Micro InterScan, Apache James and the Verizon gateways built on it
(whose notices carry a ``Re:`` subject), fml mailing lists, Japanese carriers (au/KDDI),
GroupWise, IMail... They are known by their sender (MAILER-DAEMON, postmaster — with or without
a domain — an InterScan or fml admin sender), their subject, or a sentence of their text; the
failed recipient is read from the line each of them uses for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Localparts of the senders that send bounces.
BOUNCE_LOCALPARTS = frozenset(
    {"mailer-daemon", "mailer_daemon", "maildaemon", "postmaster", "post_master"}
)
#: Subjects (at the start) that bounces wear when they carry no DSN part.
BOUNCE_SUBJECT_RE = re.compile(
    r"^\s*(?:undeliver(?:ed|able)\b|undelivered mail returned to sender|"
    r"mail delivery (?:failed|failure|subsystem|system)|delivery (?:status notification|failure|"
    r"delayed|has failed|notification|report)|returned mail\b|failure notice|non remis|non-remis|"
    r"unzustellbar|nicht zustellbar|no se puede entregar|mensaje no entregado|"
    r"delayed mail|warning: could not send|message not delivered|mail could not be delivered|"
    r"mail system error|message status - undeliverable|notice: mail delivery status|"
    r"\[bounce\]|message delivery failure|non-delivery|nondeliverable|"
    r"notificaci[oó]n de estado de entrega|notification d.[ée]tat de remise|"
    r"メール配信に失敗しました|メッセージを配信できません|配信(?:不能|エラー)|未配達)",
    re.IGNORECASE,
)
#: Sentences in the text of bounces without a DSN part, by system.
BOUNCE_TEXT_RE = re.compile(
    r"(?:hi\. this is the qmail-send program|"
    r"this message was created automatically by mail delivery software|"
    r"your message did not reach some or all of the intended recipients|"
    r"delivery has failed to these recipients or (?:groups|distribution lists)|"
    r"i'm sorry to have to inform you that your message could not|"
    r"i'm afraid i wasn't able to deliver your message|"
    r"the following addresses had permanent fatal errors|"
    r"delivery to the following recipients? failed|"
    r"was not delivered to:\s+\S+@\S+\s+because:|"  # Lotus Domino
    r"error message below:[^\x00]{0,3000}?message details:|"  # Apache James ("Re:")
    r"sent <<< [^\n]{0,300}\n[ \t]*received >>> [45]\d\d|unable to deliver message to <|"
    r"^error: [^\n]{0,300}\n[^\x00]{0,3000}?(?:message details:|original message:)|"  # Verizon
    r"you are not a member of this mailing list|not member article from|"  # fml
    r"could not be delivered to: <|"  # au by KDDI
    r"each of the following recipients was rejected by a remote mail server|"  # au EZweb
    r"the message that you sent was undeliverable to the following|"  # GroupWise
    r"the attached message had permanent fatal delivery errors|"  # MDaemon
    r"your message cannot be delivered to the following recipients|"  # Oracle Messaging
    r"an error has occurred while attempting to deliver a message|"  # OpenSMTPD
    r"this is a delivery status notification from|"  # Courier
    r"message could not be delivered to the following recipients)",
    re.IGNORECASE | re.MULTILINE,
)
#: Where the copy of the original message starts in the text of a bounce.
INLINE_COPY_RE = re.compile(
    r"(?im)^(?:--- below this line is a copy of the message\.|"
    r"-+ this is a copy of the message, including all the headers\. -+|"
    r"-+ original message -+|"
    r"-+ the header of the original message is following\. -+|"
    r"-+ below this line is a copy of the message\.?|"
    r"original mail as follows:|"
    r"-+ original message follows -+)\s*$"
)
#: Lines naming the failed recipient, by system; the address is group 1.
_RECIPIENT_LINE_RES = (
    re.compile(r"(?m)^[ \t]*<([^<>\s]+@[^<>\s]+)>:"),  # qmail, Postfix text, EZweb
    re.compile(r"(?im)^[ \t]*rcpt to: *<?([^<>\s]+@[^<>\s]+?)>?[ \t]*$"),  # James, Verizon
    re.compile(r"(?i)was not delivered to:\s+([^<>\s]+@[^<>\s]+)"),  # Domino
    re.compile(r"(?i)(?:could not be delivered to|unable to deliver message to): *<([^<>\s]+)>"),
    re.compile(r"(?i)recipient address: *<?([^<>\s]+@[^<>\s>]+)"),  # Oracle Messaging Server
    re.compile(r"(?im)^[ \t]*([^<>\s()]+@[^<>\s()]+) \((?:user|mailbox|host|domain)"),  # GroupWise
)
_ADDR_IN_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9][A-Za-z0-9.-]{0,253}")
#: A From value that is only a bounce sender's name, without a domain ("MAILER-DAEMON").
_BARE_BOUNCE_FROM_RE = re.compile(
    r"^[\s\"']*(?:mail delivery (?:subsystem|system)[\s\"']*)?<?\s*"
    r"(?:mailer[-_]?daemon|maildaemon|postmaster)\b",
    re.IGNORECASE,
)


def is_bounce_sender(from_addr: str | None) -> bool:
    """True when ``from_addr`` is MAILER-DAEMON, postmaster and the like."""
    if not from_addr:
        return False
    return from_addr.split("@", 1)[0].lower() in BOUNCE_LOCALPARTS


def is_bounce_from(values: Sequence[str] | None, from_addr: str | None) -> bool:
    """True when the From header (its decoded ``values``) is a bounce sender: its address is
    MAILER-DAEMON/postmaster, or it is that name alone without a domain."""
    if is_bounce_sender(from_addr):
        return True
    return bool(values) and _BARE_BOUNCE_FROM_RE.match(values[0][:200]) is not None


def recipient_in_text(text: str, exclude: frozenset[str]) -> str | None:
    """The failed recipient a bounce's text names: from the first line shaped like a
    recipient line of a known system, else the first address in the first 5,000 characters
    that is not in ``exclude`` (our own sender) and not a bounce sender. Lowercase."""
    for pattern in _RECIPIENT_LINE_RES:
        for m in pattern.finditer(text[:20_000]):
            found = m.group(1).strip().rstrip(".,;").lower()
            if "@" in found and found not in exclude:
                return found
    for m in _ADDR_IN_RE.finditer(text[:5000]):
        found = m.group(0).rstrip(".").lower()
        if found not in exclude and not is_bounce_sender(found):
            return found
    return None
