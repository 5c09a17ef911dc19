"""Analytics on DynamoDB Local: random notifications, redelivered and concurrent, are counted
exactly once and summed into the same figures a reference computes from the messages."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

from chalicelib.analytics import model

CHANNELS = ("facebook", "in_store", "newsletter", None)


def random_message(rng: random.Random, brand_id: str, now: datetime, n: int) -> dict:
    at = (now - timedelta(days=rng.randint(0, 9), hours=rng.randint(0, 23))).isoformat()
    base = {"id": f"m{n}-{uuid.uuid4().hex[:6]}", "brand_id": brand_id, "member_id": "M", "at": at}
    kind = rng.choice(["points.earned", "points.earned", "event.processed", "points.reversed",
                       "points.adjusted", "redemption.fulfilled", "redemption.cancelled"])
    if kind == "points.earned":
        paid = [{"activity_id": f"act{rng.randint(0, 4)}", "points": rng.randint(1, 80)}
                for _ in range(rng.randint(1, 2))]
        return {**base, "type": kind, "channel": rng.choice(CHANNELS), "points": sum(p["points"] for p in paid),
                "activities": paid}
    if kind == "event.processed":
        return {**base, "type": kind, "channel": rng.choice(CHANNELS),
                "status": rng.choice(["processed", "processed", "rejected"])}
    if kind == "points.adjusted":
        return {**base, "type": kind, "points": rng.choice([-1, 1]) * rng.randint(1, 300)}
    return {**base, "type": kind, "points": rng.randint(1, 300)}


def test_random_notifications_redelivered_and_concurrent_count_exactly_once(local_aws):
    from chalicelib.analytics import service

    rng, now = random.Random(20261123), datetime.now(UTC)
    brand_id, other = f"brand-{uuid.uuid4().hex[:8]}", f"brand-{uuid.uuid4().hex[:8]}"
    messages = [random_message(rng, brand_id, now, n) for n in range(150)]
    deliveries = messages + rng.sample(messages, 60)  # a third delivered again...
    rng.shuffle(deliveries)
    service.record(random_message(rng, other, now, 999) | {"type": "points.earned", "channel": "facebook"})

    counted, lock = [], threading.Lock()

    def deliver(chunk):
        for message in chunk:
            applied = service.record(message)
            with lock:
                counted.append((message["id"], applied))

    threads = [threading.Thread(target=deliver, args=(deliveries[i::6],)) for i in range(6)]  # ...some at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    firsts = [message_id for message_id, applied in counted if applied]
    assert sorted(firsts) == sorted(m["id"] for m in messages if model.counters(m))

    today = service.today(now)
    result = service.daily(brand_id, 11, today)  # every message is within the last 10 days
    reference = model.summary([(model.day_of(datetime.fromisoformat(m["at"]), "UTC"), model.counters(m))
                               for m in messages], today - timedelta(days=10), today, {})
    assert result["days"] == reference["days"]
    assert result["totals"] == reference["totals"]
    assert result["channels"] == reference["channels"]
    assert result["top_activities"] == reference["top_activities"]
    assert result["totals"]["events"] == sum(1 for m in messages if m["type"] in ("points.earned", "event.processed"))
    # the other brand's earning is not in this brand's figures, and is in its own
    assert service.daily(other, 10, today)["totals"]["events"] == 1


def test_a_range_starts_and_ends_where_asked(local_aws):
    from chalicelib.analytics import service

    brand_id, now = f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    for days_ago in (0, 2, 5):
        service.record({"type": "redemption.fulfilled", "id": f"r{days_ago}", "brand_id": brand_id,
                        "points": 100 + days_ago, "at": (now - timedelta(days=days_ago)).isoformat()})
    result = service.daily(brand_id, 3, service.today(now))
    assert len(result["days"]) == 3
    assert result["totals"] == {**result["totals"], "points_redeemed": 202, "redemptions": 2}
