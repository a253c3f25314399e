"""Several `outreach send` processes on PostgreSQL never go over a campaign's daily limit: the
limit is counted under a per-campaign lock held until the claim commits."""

from __future__ import annotations

from collections import Counter

import pytest

from outreach.db import session_scope
from tests.acceptance.send_kit import concurrent_sends, env_for
from tests.factories import T0
from tests.integration.dispatch_kit import SmtpSink, add_approved, make_world, statuses

pytestmark = pytest.mark.slow

LIMIT = 40
SENDING = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00", "daily_limit": LIMIT}


def test_three_dispatchers_share_a_small_daily_limit(pg_db) -> None:
    with session_scope(pg_db.engine) as s:
        ids = add_approved(s, make_world(s, sending=SENDING), 300)
    with SmtpSink() as sink:
        # small claims, so that the three processes claim again and again at the same time
        env = env_for(pg_db.url, sink.port, OUTREACH_DISPATCH_BATCH="3")
        summaries = concurrent_sends(env, T0.isoformat())
    received = Counter(sink.handler.ids())
    assert len(received) == LIMIT and set(received.values()) == {1}
    assert sum(s["sent"] for s in summaries) == LIMIT
    final = Counter(statuses(pg_db.engine).values())
    assert final == {"sent": LIMIT, "approved": len(ids) - LIMIT}
