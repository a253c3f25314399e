"""Amazon SES notifications read from JSON (outreach.replies.ses), bare or in SNS envelopes."""

from __future__ import annotations

import json

from outreach.replies.ses import looks_like_ses, read_ses

BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "Nobody@Ministry.example.org",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "reportingMTA": "dns; a8-1.smtp-out.example.com",
    },
    "mail": {
        "messageId": "0102017abc",
        "headers": [{"name": "Message-ID", "value": "<appeal.1@outreach.example.org>"}],
        "commonHeaders": {"subject": "The Convention"},
    },
}


def test_a_bare_bounce_notification() -> None:
    text = json.dumps(BOUNCE)
    assert looks_like_ses(text)
    notice = read_ses(text)
    assert notice is not None
    assert (notice.kind, notice.bounce_type, notice.bounce_subtype) == (
        "bounce",
        "Permanent",
        "General",
    )
    assert notice.recipient == "nobody@ministry.example.org"
    assert (notice.status, notice.action) == ("5.1.1", "failed")
    assert notice.diagnostic == "smtp; 550 5.1.1 user unknown"
    assert notice.original_message_id == "<appeal.1@outreach.example.org>"


def test_an_sns_envelope_with_its_unsubscribe_footer() -> None:
    envelope = {"Type": "Notification", "MessageId": "x", "Message": json.dumps(BOUNCE)}
    text = json.dumps(envelope, indent=2) + "\n\n--\nIf you wish to stop receiving notifications..."
    notice = read_ses(text)
    assert notice is not None and notice.recipient == "nobody@ministry.example.org"


def test_complaints_and_deliveries() -> None:
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.net"}],
            "complaintFeedbackType": "abuse",
        },
        "mail": {"commonHeaders": {"messageId": "appeal.2@outreach.example.org"}},
    }
    notice = read_ses(json.dumps(complaint))
    assert notice is not None and (notice.kind, notice.recipient) == (
        "complaint",
        "angry@example.net",
    )
    assert notice.original_message_id == "<appeal.2@outreach.example.org>"
    delivery = {"notificationType": "Delivery", "delivery": {"recipients": ["r@example.org"]}}
    notice = read_ses(json.dumps(delivery))
    assert notice is not None and (notice.kind, notice.recipient) == ("delivery", "r@example.org")


def test_not_a_notification_or_broken_json_is_none_and_never_raises() -> None:
    for text in (
        "",
        "hello",
        "{not json}",
        '{"notificationType": 5}',
        '{"Message": "{broken"}',
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"notificationType": "Bounce", "bounce": [], "mail": "x"}',
    ):
        notice = read_ses(text)
        assert notice is None or notice.kind == "bounce"
