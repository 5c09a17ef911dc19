"""Redemptions on DynamoDB Local: races for stock and codes, crashes between the steps."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from chalicelib import errors

NOW = datetime.now(UTC)


def brand() -> str:
    return f"brand-{uuid.uuid4().hex[:10]}"


def funded_member(brand_id: str, points: int) -> str:
    from chalicelib import bootstrap
    from chalicelib.members import service as members

    profile, _, _ = members.create_or_enrol({"email": f"{uuid.uuid4().hex}@example.com"}, brand_id, "api", NOW)
    if points:
        bootstrap.ledger().adjust(f"fund-{profile.member_id}", profile.member_id, points, "funding")
    return profile.member_id


def book(member_id: str):
    from chalicelib import bootstrap

    return bootstrap.ledger_store().book(member_id)


def test_a_hundred_members_race_for_seven_vouchers(local_aws):
    from chalicelib.rewards import catalog, redemptions
    from chalicelib.rewards import codes as pools

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Lunch", "cost_points": 100, "fulfilment": "voucher_pool"}, NOW)
    pools.upload(brand_id, reward.reward_id, [f"LUNCH-{i}" for i in range(7)], NOW)
    members = [funded_member(brand_id, 150) for _ in range(100)]
    results: dict[str, object] = {}
    start = threading.Barrier(100)

    def go(member_id):
        start.wait()
        try:
            results[member_id] = redemptions.redeem(member_id, reward.reward_id, "k1", datetime.now(UTC))
        except errors.PunchcardError as e:
            results[member_id] = e.code

    threads = [threading.Thread(target=go, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    won = {m: r for m, r in results.items() if not isinstance(r, str)}
    assert len(won) == 7
    assert all(r.status == "fulfilled" for r in won.values())
    assert len({r.voucher_code for r in won.values()}) == 7
    assert sorted(r for r in results.values() if isinstance(r, str)) == ["out_of_stock"] * 93
    for member_id in members:  # winners paid once, losers hold nothing and lost nothing
        expected = 50 if member_id in won else 150
        assert (book(member_id).posted, book(member_id).debits_pending) == (expected, 0)
    assert catalog.stock_left(catalog.get(reward.reward_id)) == 0


def test_stock_and_per_member_limits_hold_under_concurrency(local_aws):
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Mug", "cost_points": 10, "stock": 5, "per_member_limit": 2,
                                       "fulfilment": "generated_code"}, NOW)
    member = funded_member(brand_id, 1000)
    outcomes: list[str] = []

    def go(i):
        try:
            outcomes.append(redemptions.redeem(member, reward.reward_id, f"k{i}", datetime.now(UTC)).status)
        except errors.PunchcardError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["fulfilled"] * 2 + ["limit_reached"] * 8
    assert book(member).posted == 980
    assert book(member).debits_pending == 0


def test_a_replay_returns_the_same_redemption_and_moves_nothing(local_aws):
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Cap", "cost_points": 30, "fulfilment": "generated_code"}, NOW)
    member = funded_member(brand_id, 100)

    first = redemptions.redeem(member, reward.reward_id, "same", NOW)
    again = redemptions.redeem(member, reward.reward_id, "same", NOW)

    assert (again.redemption_id, again.voucher_code, again.status) == (first.redemption_id, first.voucher_code,
                                                                       "fulfilled")
    assert book(member).posted == 70
    other = catalog.create(brand_id, {"name": "Hat", "cost_points": 1}, NOW)
    with pytest.raises(errors.Conflict) as raised:
        redemptions.redeem(member, other.reward_id, "same", NOW)
    assert raised.value.code == "exists_with_different_fields"
    dear = catalog.create(brand_id, {"name": "Bike", "cost_points": 71}, NOW)
    with pytest.raises(errors.Conflict) as raised:
        redemptions.redeem(member, dear.reward_id, "poor", NOW)
    assert raised.value.code == "insufficient_points"
    assert book(member).debits_pending == 0


@pytest.mark.parametrize("crash_at", ["claim", "post"])
def test_a_crash_between_hold_and_post_is_finished_by_a_retry(local_aws, crash_at):
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Tote", "cost_points": 40, "fulfilment": "generated_code"}, NOW)
    member = funded_member(brand_id, 100)
    target = "_claim" if crash_at == "claim" else "_ledger"
    real = getattr(redemptions, target)

    def crash(*args, **kwargs):
        if crash_at == "claim":
            raise ConnectionError("the process died before the claim")
        ledger = real()
        ledger.post = mock.Mock(side_effect=ConnectionError("the process died before the post"))
        return ledger

    calls = {"n": 0}

    def once(*args, **kwargs):
        calls["n"] += 1
        return crash(*args, **kwargs) if (crash_at == "claim" or calls["n"] == 2) else real(*args, **kwargs)

    with mock.patch.object(redemptions, target, once), pytest.raises(ConnectionError):
        redemptions.redeem(member, reward.reward_id, "k", NOW)
    assert book(member).debits_pending == 40  # held, not spent

    done = redemptions.redeem(member, reward.reward_id, "k", NOW)

    assert done.status == "fulfilled"
    assert (book(member).posted, book(member).debits_pending) == (60, 0)


@pytest.mark.parametrize(("crash_at", "ends"), [("claim", "failed"), ("post", "fulfilled")])
def test_the_sweeper_settles_what_no_retry_came_back_for(local_aws, crash_at, ends):
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Pen", "cost_points": 25, "fulfilment": "generated_code"}, NOW)
    member = funded_member(brand_id, 100)
    then = datetime.now(UTC) - timedelta(hours=1)
    if crash_at == "claim":
        patch = mock.patch.object(redemptions, "_claim", side_effect=ConnectionError("died"))
    else:
        real = redemptions._ledger

        def without_post():
            ledger = real()
            ledger.post = mock.Mock(side_effect=ConnectionError("died"))
            return ledger

        patch = mock.patch.object(redemptions, "_ledger", without_post)
    with patch, pytest.raises(ConnectionError):
        redemptions.redeem(member, reward.reward_id, "k", then)

    assert redemptions.sweep(datetime.now(UTC)) >= 1

    (item,) = redemptions.member_redemptions(member, 10)[0]
    assert item.status == ends
    spent = 25 if ends == "fulfilled" else 0
    assert (book(member).posted, book(member).debits_pending) == (100 - spent, 0)


def test_a_cancellation_returns_the_points_once(local_aws):
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Socks", "cost_points": 60, "stock": 1}, NOW)
    member = funded_member(brand_id, 60)
    redemption = redemptions.redeem(member, reward.reward_id, "k", NOW)
    assert book(member).posted == 0

    cancelled = redemptions.cancel(brand_id, redemption.redemption_id, NOW)
    again = redemptions.cancel(brand_id, redemption.redemption_id, NOW)

    assert cancelled.status == again.status == "cancelled"
    assert book(member).available(NOW) == 60
    assert catalog.stock_left(catalog.get(reward.reward_id)) == 1  # the unit is back
    with pytest.raises(errors.NotFound):
        redemptions.cancel(brand(), redemption.redemption_id, NOW)


def test_concurrent_cancellations_return_the_points_and_the_stock_once_and_the_losers_get_409(local_aws):
    import threading

    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Mug", "cost_points": 40, "stock": 3, "per_member_limit": 2}, NOW)
    member = funded_member(brand_id, 40)
    redemption = redemptions.redeem(member, reward.reward_id, "k", NOW)
    start, outcomes = threading.Barrier(10), []

    def cancel():
        start.wait()
        try:
            outcomes.append(redemptions.cancel(brand_id, redemption.redemption_id, NOW).status)
        except errors.PunchcardError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=cancel) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(outcomes) == 10
    assert set(outcomes) <= {"cancelled", "cancellation_in_progress"}
    assert "cancelled" in outcomes
    assert book(member).available(NOW) == 40  # the points came back once
    assert catalog.stock_left(catalog.get(reward.reward_id)) == 3  # and the unit
    assert redemptions.cancel(brand_id, redemption.redemption_id, NOW).status == "cancelled"  # a retry: 200


def test_code_uploads_skip_duplicates_and_never_reset_a_handed_out_code(local_aws):
    from chalicelib.rewards import catalog, redemptions
    from chalicelib.rewards import codes as pools

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Film", "cost_points": 5, "fulfilment": "voucher_pool"}, NOW)
    assert pools.upload(brand_id, reward.reward_id, ["A", "B", "A"], NOW) == \
        {"received": 3, "added": 2, "duplicates": 1}
    member = funded_member(brand_id, 15)
    code = redemptions.redeem(member, reward.reward_id, "k", NOW).voucher_code

    assert pools.upload(brand_id, reward.reward_id, [code, "C"], NOW) == \
        {"received": 2, "added": 1, "duplicates": 1}
    assert catalog.stock_left(catalog.get(reward.reward_id)) == 2
    codes = {redemptions.redeem(member, reward.reward_id, f"k{i}", NOW).voucher_code for i in range(2)}
    assert codes == {"A", "B", "C"} - {code}


def test_generated_codes_are_unique_and_low_stock_is_signalled_once_per_restock(local_aws, bus_tap):
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    definition = {"name": "Pass", "cost_points": 1, "fulfilment": "generated_code", "stock": 5, "low_stock_at": 2}
    reward = catalog.create(brand_id, definition, NOW)
    member = funded_member(brand_id, 100)
    bus_tap.drain()

    codes = [redemptions.redeem(member, reward.reward_id, f"r{i}", NOW).voucher_code for i in range(5)]
    mine = bus_tap.drain(lambda m: m.get("reward_id") == reward.reward_id)

    assert len(set(codes)) == 5
    assert sorted(m["voucher_code"] for m in mine if m["type"] == "redemption.fulfilled") == sorted(codes)
    low = {m["id"]: m for m in mine if m["type"] == "reward.low_stock"}
    assert [m["stock_left"] for m in low.values()] == [2]
    with pytest.raises(errors.Conflict) as raised:
        redemptions.redeem(member, reward.reward_id, "r5", NOW)
    assert raised.value.code == "out_of_stock"

    catalog.update(brand_id, reward.reward_id, {**definition, "stock": 10}, NOW)  # restocked: 5 more
    for i in range(6, 9):
        redemptions.redeem(member, reward.reward_id, f"r{i}", NOW)
    again = {m["id"] for m in bus_tap.drain(lambda m: m.get("reward_id") == reward.reward_id)
             if m["type"] == "reward.low_stock"}
    assert len(again) == 1
    assert again.isdisjoint(low)


def test_a_big_upload_counts_every_code_and_a_second_upload_waits_its_turn(local_aws):
    import time

    from chalicelib.rewards import catalog
    from chalicelib.rewards import codes as pools
    from chalicelib.store.rewards import RewardItem

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Ticket", "cost_points": 1, "fulfilment": "voucher_pool"}, NOW)
    codes = [f"T-{i:06d}" for i in range(20_000)]
    started = time.perf_counter()
    result = pools.upload(brand_id, reward.reward_id, codes + codes[:500], NOW)
    print(f"20,000 codes uploaded in {time.perf_counter() - started:.1f} s")

    assert result == {"received": 20_500, "added": 20_000, "duplicates": 500}
    assert catalog.stock_left(catalog.get(reward.reward_id)) == 20_000
    held = catalog.get(reward.reward_id)
    held.update(actions=[RewardItem.uploading.set(datetime.now(UTC))])  # an upload in progress elsewhere
    with pytest.raises(errors.Conflict) as raised:
        pools.upload(brand_id, reward.reward_id, ["X"], NOW)
    assert raised.value.code == "upload_in_progress"
    held.update(actions=[RewardItem.uploading.set(datetime.now(UTC) - timedelta(minutes=6))])  # it crashed
    assert pools.upload(brand_id, reward.reward_id, ["X"], datetime.now(UTC))["added"] == 1


def test_a_redemption_reads_nothing_twice(local_aws):
    """The reward is read once, the claim and the settle are not read back (the claim's
    transaction says what it wrote, UpdateItem returns the item), the post does not read the
    hold this call just made: 11 DynamoDB requests for a reward with no stock, tier or limit
    (15 before)."""
    import botocore.client

    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Mug", "cost_points": 30, "fulfilment": "generated_code"}, NOW)
    member = funded_member(brand_id, 100)
    calls = []
    real = botocore.client.BaseClient._make_api_call

    def counted(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append((operation, params.get("Key") or params.get("TableName")))
        return real(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counted):
        done = redemptions.redeem(member, reward.reward_id, "once", NOW)

    assert done.status == "fulfilled"
    assert done.voucher_code
    assert (book(member).posted, book(member).debits_pending) == (70, 0)
    stored = redemptions.find(done.redemption_id)
    assert (stored.status, stored.voucher_code) == ("fulfilled", done.voucher_code)
    assert stored.transfer_id == done.transfer_id
    gets = [key for operation, key in calls if operation == "GetItem"]
    assert len(gets) == len({str(k) for k in gets}), calls  # no item read twice
    assert len(calls) <= 11, calls


def _stale_pending(cost: int = 25, key: str = "k"):
    """A member with 100 points and a redemption left ``pending`` an hour ago with its hold made
    (the process died before the claim)."""
    from chalicelib.rewards import catalog, redemptions

    brand_id = brand()
    reward = catalog.create(brand_id, {"name": "Pen", "cost_points": cost, "fulfilment": "generated_code",
                                       "stock": 5}, NOW)
    member = funded_member(brand_id, 100)
    with mock.patch.object(redemptions, "_claim", side_effect=ConnectionError("died")), \
            pytest.raises(ConnectionError):
        redemptions.redeem(member, reward.reward_id, key, datetime.now(UTC) - timedelta(hours=1))
    return member, reward


@pytest.mark.parametrize("finished_by", ["retry", "sweeper"])
def test_a_crash_between_failing_and_releasing_the_hold_is_finished_and_never_claimed(local_aws, finished_by):
    """The sweeper fails a redemption before it releases its hold: a crash in between leaves it
    failed (so nothing can claim it) and still in the sweeper's index, and a retry or the next
    sweep releases the points. (Releasing first could leave it pending with its hold voided,
    which a retry would claim and never post.)"""
    from chalicelib.rewards import catalog, redemptions

    member, reward = _stale_pending()
    with mock.patch.object(redemptions, "_void", side_effect=ConnectionError("died before the void")):
        assert redemptions.sweep(datetime.now(UTC)) == 0  # logged, left for the next sweep

    (item,) = redemptions.member_redemptions(member, 10)[0]
    assert (item.status, item.reason) == ("failed", "abandoned")
    assert book(member).debits_pending == 25  # still held

    if finished_by == "retry":
        again = redemptions.redeem(member, reward.reward_id, "k", NOW)
        assert again.status == "failed"
    else:
        assert redemptions.sweep(datetime.now(UTC)) == 1
    assert redemptions.sweep(datetime.now(UTC)) == 0  # settled: out of the sweeper's index

    assert (book(member).posted, book(member).debits_pending) == (100, 0)
    assert int(catalog.get(reward.reward_id).claimed) == 0  # never claimed: no stock, no code used
    (item,) = redemptions.member_redemptions(member, 10)[0]
    assert (item.status, item.voucher_code) == ("failed", None)


def test_one_redemption_the_sweeper_cannot_settle_does_not_stop_the_others(local_aws):
    from chalicelib.rewards import redemptions

    first, _ = _stale_pending(key="a")
    second, _ = _stale_pending(key="b")
    real = redemptions.resume
    stuck = redemptions.member_redemptions(first, 10)[0][0].redemption_id

    def resume(item, now, **kwargs):
        if item.redemption_id == stuck:
            raise ConnectionError("this one cannot be settled now")
        return real(item, now, **kwargs)

    with mock.patch.object(redemptions, "resume", resume):
        assert redemptions.sweep(datetime.now(UTC)) == 1

    assert redemptions.member_redemptions(second, 10)[0][0].status == "failed"
    assert book(second).debits_pending == 0
    assert redemptions.member_redemptions(first, 10)[0][0].status == "pending"  # the next sweep's
    assert redemptions.sweep(datetime.now(UTC)) == 1
    assert book(first).debits_pending == 0
