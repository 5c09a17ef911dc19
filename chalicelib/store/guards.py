"""Guards' items (``GUARD#<key>`` in the ledger table, see :mod:`chalicelib.store.ledger`):
read in one batch, written inside a caller's transaction on condition of the version read.

Two stores write them, each in its own transaction: the ledger store with the grants a limit
or budget counts (:mod:`chalicelib.ledger.dynamo`), and the pipeline's decisions store with
the claim of an event's decision, which advances the member's event counters
(:mod:`chalicelib.events.store`). Both sides read guards here, so they agree on one item.
"""

from __future__ import annotations

from pynamodb.transactions import TransactWrite

from chalicelib.guards import Guard
from chalicelib.ledger.model import GuardChanged
from chalicelib.store.ledger import GuardItem


def read(keys: list[str]) -> dict[str, tuple[int, dict]]:
    """``{key: (version, state)}`` in one strongly consistent batch; never written: ``(0, {})``."""
    found = {key: (0, {}) for key in keys}
    if keys:
        for item in GuardItem.batch_get([GuardItem.key_for(key) for key in dict.fromkeys(keys)],
                                        consistent_read=True):
            found[item.pk.removeprefix("GUARD#")] = (int(item.version), item.state)
    return found


def write(tx: TransactWrite, guards: tuple[Guard, ...]) -> None:
    """Each guard at ``version + 1`` with its new state, on condition it is still at ``version``."""
    for guard in guards:
        tx.save(GuardItem(*GuardItem.key_for(guard.key), version=guard.version + 1, state=dict(guard.state)),
                condition=GuardItem.pk.does_not_exist() if guard.version == 0
                else GuardItem.version == guard.version)


def check(guards: tuple[Guard, ...]) -> None:
    """After a cancelled transaction: :class:`GuardChanged` if a guard moved since it was read."""
    if guards:
        now = read([g.key for g in guards])
        if any(now[g.key][0] != g.version for g in guards):
            raise GuardChanged("a guard moved since it was read")
