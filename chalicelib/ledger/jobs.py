"""Daily expiry: the schedule fans out one job per (day, shard); each job expires a page of
members and passes the rest of its shard on as a new message.

The ``expiring`` index names the members with lots due on a day, so nothing is scanned.
The run looks back :data:`CATCH_UP_DAYS` days, so an outage or a lot a hold kept from
expiring is picked up by a later run (expired lots leave the index, so looking back costs
little). Each member's expiry transfer id is derived from (member, run date): redelivered
messages replay it, and a later run makes a new one for whatever fell due since.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib import bootstrap, queues
from chalicelib.jobs import job
from chalicelib.ledger import model
from chalicelib.observability import logger
from chalicelib.store.ledger import EXPIRY_SHARDS

CATCH_UP_DAYS = 7
PAGE = 100


def start_daily_expiry(today: date) -> int:
    """Queue the day's expiry work: one message per (due day, shard). Returns how many."""
    sent = 0
    for back in range(CATCH_UP_DAYS, -1, -1):
        day = today - timedelta(days=back)
        for shard in range(EXPIRY_SHARDS):
            queues.send("jobs", {"job": "ledger.expire_due", "args": {
                "day": day.isoformat(), "shard": shard, "run": today.isoformat()}})
            sent += 1
    return sent


@job("ledger.expire_due")
def expire_due(args: dict[str, Any]) -> dict[str, int]:
    """Expire the due lots of one page of members with lots due on ``day`` in ``shard``."""
    day, run, shard = date.fromisoformat(args["day"]), date.fromisoformat(args["run"]), int(args["shard"])
    members, next_key = bootstrap.ledger_store().members_with_lots_due(day, shard, PAGE, args.get("cursor"))
    ledger, expired = bootstrap.ledger(), 0
    for member_id in members:
        transfer = ledger.expire(model.transfer_id("expire", member_id, run.isoformat()), member_id)
        expired += transfer.amount if transfer else 0
    if next_key:  # the rest of the shard: a message of its own, so no run outlives its Lambda
        queues.send("jobs", {"job": "ledger.expire_due", "args": {**args, "cursor": next_key}})
    logger.info("expiry page done", extra={"day": day.isoformat(), "shard": shard, "members": len(members),
                                            "points_expired": expired, "more": bool(next_key)})
    return {"members": len(members), "points": expired}
