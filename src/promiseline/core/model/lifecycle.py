"""The order lifecycle: statuses, which change may follow which, and the change and
refund periods. The service, the store and the planner all read these, never their own
lists.

    reserved ──lock──> locked ──> scheduled ──> built ──> shipped ──> delivered
        │                 │            │
        └──── cancel ─────┴────────────┴──> cancelled

Progress may skip steps (a locked order may be reported built at once); nothing goes
back, but a correction (`corrected`, by a planner, with a reason) puts a scheduled,
built, shipped or delivered order back to locked, to be reported again. A reserved
order may change freely; a locked one for `change_days` after it locked. Cancelling
refunds the deposit while reserved or within `refund_days` of locking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from promiseline.errors import TransitionError


class Status(StrEnum):
    RESERVED = "reserved"
    LOCKED = "locked"
    SCHEDULED = "scheduled"
    BUILT = "built"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    """What an order event records (the store's append-only history)."""

    CREATED = "created"
    LOCKED = "locked"
    CHANGED = "changed"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"
    ETA_CHANGED = "eta_changed"
    BUILT = "built"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CORRECTED = "corrected"  # progress taken back: the order is locked again


IN_PLANNING = frozenset({Status.RESERVED, Status.LOCKED, Status.SCHEDULED})
"""Orders the planner sees: reserved ones are quoted, the others take a slot."""
QUEUED = frozenset({Status.LOCKED, Status.SCHEDULED})
"""Orders that hold a place in the build queue (and a promised window)."""
PROGRESS = (Status.SCHEDULED, Status.BUILT, Status.SHIPPED, Status.DELIVERED)
"""Statuses the plant reports, in order."""
CANCELLABLE = frozenset({Status.RESERVED, Status.LOCKED, Status.SCHEDULED})
CORRECTABLE = frozenset(PROGRESS)
"""Statuses a correction puts back to locked (every one progress can reach)."""
_ORDER = (Status.LOCKED, *PROGRESS)


def progress_from(target: Status) -> frozenset[Status]:
    """The statuses from which an order may be reported `target` (steps may be skipped)."""
    if target not in PROGRESS:
        raise TransitionError(
            f"status must be one of {[s.value for s in PROGRESS]}, got {target.value!r}"
        )
    return frozenset(_ORDER[: _ORDER.index(target)])


@dataclass(frozen=True, slots=True)
class Policy:
    """How long a locked order may still change, and keeps its deposit refundable."""

    change_days: int = 7
    refund_days: int = 7

    def check_change(
        self, order_id: str, status: Status, locked_at: dt.datetime | None, now: dt.datetime
    ) -> None:
        """Raise TransitionError unless the order's configuration may change now."""
        if status == Status.RESERVED:
            return
        if status != Status.LOCKED:
            raise TransitionError(f"order {order_id} is {status}; it can no longer change")
        if locked_at is not None and now - locked_at > dt.timedelta(days=self.change_days):
            raise TransitionError(
                f"order {order_id} locked more than {self.change_days} days ago; "
                "its configuration can no longer change"
            )

    def check_lock(self, order_id: str, status: Status) -> None:
        if status != Status.RESERVED:
            raise TransitionError(f"order {order_id} is {status}; only a reserved order can lock")

    def check_cancel(self, order_id: str, status: Status) -> None:
        if status not in CANCELLABLE:
            raise TransitionError(f"order {order_id} is {status}; it can no longer be cancelled")

    def refund_due(self, status: Status, locked_at: dt.datetime | None, now: dt.datetime) -> bool:
        """Is the deposit refunded if the order is cancelled now?"""
        if status == Status.RESERVED:
            return True
        return locked_at is not None and now - locked_at <= dt.timedelta(days=self.refund_days)
