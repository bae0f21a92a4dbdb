"""The webhook outbox: deliveries are written with the events they announce (one
transaction), so a restart loses none; senders claim due ones for a while, and a
delivery that keeps failing ends as a dead letter."""

from __future__ import annotations

import datetime as dt

from promiseline.core.model.records import Delivery, OutboxStats
from promiseline.store.db import Db


class Outbox(Db):
    """Webhook deliveries: pending, sent or dead."""

    def claim(self, now: dt.datetime, hold_s: float, limit: int) -> list[Delivery]:
        """Due deliveries no other sender holds; each is held for `hold_s` seconds and
        counts one attempt."""
        until = now + dt.timedelta(seconds=hold_s)
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "SELECT delivery_id FROM outbox WHERE state = 'pending' AND next_at <= ? "
                    "AND (claimed_until IS NULL OR claimed_until < ?) "
                    f"ORDER BY delivery_id LIMIT ?{self.skip_locked}"
                ),
                (self.ts(now), self.ts(now), limit),
            )
            ids = [r[0] for r in cur.fetchall()]
            if not ids:
                return []
            marks = ",".join("?" for _ in ids)
            cur.execute(
                self.q(
                    "UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 "
                    f"WHERE delivery_id IN ({marks}) "
                    "RETURNING delivery_id, target, body, attempts, created_at"
                ),
                (self.ts(until), *ids),
            )
            rows = cur.fetchall()
        out = [Delivery(int(r[0]), r[1], r[2], int(r[3]), self.when(r[4])) for r in rows]
        return sorted(out, key=lambda d: d.delivery_id)

    def delivered(self, delivery_id: int) -> None:
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE outbox SET state = 'sent', claimed_until = NULL WHERE delivery_id = ?"
                ),
                (delivery_id,),
            )

    def failed(self, delivery_id: int, error: str, retry_at: dt.datetime | None) -> None:
        """A failed attempt: try again at `retry_at`, or (None) give up: a dead letter."""
        state = "pending" if retry_at is not None else "dead"
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE outbox SET state = ?, next_at = COALESCE(?, next_at), "
                    "claimed_until = NULL, last_error = ? WHERE delivery_id = ?"
                ),
                (state, self.ts(retry_at), error[:500], delivery_id),
            )

    def outbox_stats(self) -> OutboxStats:
        """Pending and dead deliveries, and failed attempts so far (every attempt but the
        successful ones and those in flight)."""
        pending = dead = attempts = sent = in_flight = 0
        for state, held, n, tries in self._all(
            "SELECT state, claimed_until IS NOT NULL, COUNT(*), COALESCE(SUM(attempts), 0) "
            "FROM outbox GROUP BY state, claimed_until IS NOT NULL"
        ):
            attempts += int(tries)
            if state == "pending":
                pending += int(n)
                in_flight += int(n) if held else 0
            elif state == "dead":
                dead += int(n)
            else:
                sent += int(n)
        return OutboxStats(pending, dead, attempts - sent - in_flight)
