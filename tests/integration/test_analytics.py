"""Analytics on DynamoDB Local: random domain events, redelivered and concurrent, are counted
exactly once and summed into the same figures a reference computes from the events."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

from chalicelib.analytics import model
from tests.bus import deliver, typed

CHANNELS = ("facebook", "in_store", "newsletter", None)


def random_message(rng: random.Random, brand_id: str, now: datetime, n: int) -> dict:
    at = (now - timedelta(days=rng.randint(0, 9), hours=rng.randint(0, 23))).isoformat()
    base = {"id": f"m{n}-{uuid.uuid4().hex[:6]}", "brand_id": brand_id, "member_id": "M", "at": at}
    kind = rng.choice(["points.earned", "points.earned", "event.processed", "points.reversed",
                       "points.adjusted", "redemption.fulfilled", "redemption.cancelled"])
    if kind == "points.earned":
        paid = [{"activity_id": f"act{rng.randint(0, 4)}", "points": rng.randint(1, 80)}
                for _ in range(rng.randint(1, 2))]
        return {**base, "type": kind, "event_id": f"e{n}", "channel": rng.choice(CHANNELS),
                "points": sum(p["points"] for p in paid), "activities": paid}
    if kind == "event.processed":
        return {**base, "type": kind, "event_id": f"e{n}", "channel": rng.choice(CHANNELS),
                "status": rng.choice(["processed", "processed", "rejected"])}
    if kind == "points.adjusted":
        return {**base, "type": kind, "points": rng.choice([-1, 1]) * rng.randint(1, 300), "reason": "goodwill"}
    if kind == "points.reversed":
        return {**base, "type": kind, "event_id": f"e{n}", "points": rng.randint(1, 300)}
    redemption = {"redemption_id": f"r{n}", "reward_id": "rw", "reward_name": "Coffee",
                  **({"transfer_id": f"t{n}"} if kind == "redemption.fulfilled" else {"reversal_id": f"v{n}"})}
    return {**base, "type": kind, "points": rng.randint(1, 300), **redemption}


def test_random_notifications_redelivered_and_concurrent_count_exactly_once(local_aws):
    from chalicelib.analytics import service

    rng, now = random.Random(20261123), datetime.now(UTC)
    brand_id, other = f"brand-{uuid.uuid4().hex[:8]}", f"brand-{uuid.uuid4().hex[:8]}"
    messages = [random_message(rng, brand_id, now, n) for n in range(150)]
    deliveries = messages + rng.sample(messages, 60)  # a third delivered again...
    rng.shuffle(deliveries)
    service.record(typed(random_message(rng, other, now, 999) | {"type": "points.earned", "channel": "facebook",
                                                                 "event_id": "e999", "points": 5}))

    counted, lock = [], threading.Lock()

    def deliver(chunk):
        for message in chunk:
            applied = service.record(typed(message))
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


def _deliver_batch(messages: list[dict]) -> None:
    """As the analytics consumer's queue function does: the batch form first, then each event."""
    assert deliver("analytics", [typed(m) for m in messages]) == []


def _reference(messages, today):
    return model.summary([(model.day_of(datetime.fromisoformat(m["at"]), "UTC"), model.counters(m))
                          for m in messages], today - timedelta(days=10), today, {})


def test_batches_redelivered_overlapping_and_concurrent_count_exactly_once(local_aws):
    from chalicelib.analytics import service

    rng, now = random.Random(20261203), datetime.now(UTC)
    brand_id = f"brand-{uuid.uuid4().hex[:8]}"
    messages = [random_message(rng, brand_id, now, n) for n in range(200)]
    for message in messages:
        message["member_id"] = f"M{rng.randint(0, 9)}"
    deliveries = messages + rng.sample(messages, 80)  # redelivered, some in a batch with new ones
    rng.shuffle(deliveries)
    deliveries[5] = deliveries[4]  # a duplicate within one batch
    batches = [deliveries[i:i + 10] for i in range(0, len(deliveries), 10)]
    threads = [threading.Thread(target=lambda chunk: [_deliver_batch(b) for b in chunk], args=(batches[i::5],))
               for i in range(5)]  # five consumers at once, as Lambda runs them
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    today = service.today(now)
    result, reference = service.daily(brand_id, 11, today), _reference(messages, today)
    assert (result["days"], result["totals"], result["channels"], result["top_activities"]) == (
        reference["days"], reference["totals"], reference["channels"], reference["top_activities"])


def test_a_new_batch_is_counted_in_one_transaction_and_a_redelivery_counts_nothing(local_aws):
    import botocore.client

    from chalicelib.analytics import service

    rng, now = random.Random(7), datetime.now(UTC)
    brand_id = f"brand-{uuid.uuid4().hex[:8]}"
    messages = [random_message(rng, brand_id, now, n) | {"type": "event.processed", "status": "processed",
                                                         "event_id": f"e{n}"} for n in range(10)]
    real = botocore.client.BaseClient._make_api_call

    def transactions(batch):
        with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
            _deliver_batch(batch)
        return [c for c in made.call_args_list if c.args[1] == "TransactWriteItems"]

    first = transactions(messages)
    assert len(first) == 1  # not one per message
    assert len(first[0].args[2]["TransactItems"]) <= 10 + 10  # ten markers, a day item each at most
    new = random_message(rng, brand_id, now, 99) | {"type": "event.processed", "status": "rejected", "event_id": "e99"}
    again = transactions([*messages[5:], new])
    assert len(again) == 1 + 6  # the batch's, cancelled by the counted markers; then each alone
    today = service.today(now)
    assert service.daily(brand_id, 11, today)["totals"]["events"] == 11


def test_a_range_starts_and_ends_where_asked(local_aws):
    from chalicelib.analytics import service

    brand_id, now = f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    for days_ago in (0, 2, 5):
        service.record(typed({"type": "redemption.fulfilled", "id": f"r{days_ago}", "brand_id": brand_id,
                              "member_id": "M", "redemption_id": f"r{days_ago}", "reward_id": "rw",
                              "reward_name": "Coffee", "transfer_id": "t", "points": 100 + days_ago,
                              "at": (now - timedelta(days=days_ago)).isoformat()}))
    result = service.daily(brand_id, 3, service.today(now))
    assert len(result["days"]) == 3
    assert result["totals"] == {**result["totals"], "points_redeemed": 202, "redemptions": 2}
