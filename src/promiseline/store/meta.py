"""What the service keeps besides orders: secrets, the scenario in use and its version,
leases between processes, and a write probe for health checks."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from promiseline.core.model.records import Probe, StoredScenario
from promiseline.store.promises import PromiseTables

SCENARIO = "scenario_yaml"
SPREAD = "forecast_spread"
BANDS = "forecast_bands"
PLANT_DAY = "plant_simulated_through"


class Meta(PromiseTables):
    """Settings, the stored scenario, leases."""

    def _setting(self, name: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE name = ?", (name,))
        return str(row[0]) if row else None

    def secret(self, name: str) -> str:
        """A random secret made once per database and kept (the first process to ask
        makes it; every other one reads the same)."""
        with self.transaction() as cur:
            cur.execute(
                self.q("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (name, secrets.token_hex(32)),
            )
        value = self._setting(name)
        assert value is not None
        return value

    def scenario(self) -> StoredScenario | None:
        """The scenario in use (as last put) and its version, read together."""
        with self.transaction(read_only=True) as cur:
            cur.execute(self.q("SELECT value FROM settings WHERE name = ?"), (SCENARIO,))
            row = cur.fetchone()
            version = self._versions(cur).scenario
        return StoredScenario(str(row[0]), version) if row else None

    def _put_setting(self, cur: Any, name: str, value: str) -> None:
        cur.execute(
            self.q(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
            ),
            (name, value),
        )

    def put_scenario(self, text: str) -> int:
        """Replace the scenario; its version moves in the same transaction. Returns the
        version this text has (a later put, from any process, has a higher one)."""
        with self.transaction() as cur:
            self._put_setting(cur, SCENARIO, text)
            self._bump(cur, "scenario")
            return self._versions(cur).scenario

    def spread(self) -> str | None:
        """The latest Monte Carlo spread (JSON), for windows of orders taken since."""
        return self._setting(SPREAD)

    def put_spread(self, text: str, bands: str | None = None) -> None:
        """The latest Monte Carlo's spread and (JSON) backlog bands, together."""
        with self.transaction() as cur:
            self._put_setting(cur, SPREAD, text)
            if bands is not None:
                self._put_setting(cur, BANDS, bands)

    def bands(self) -> str | None:
        """The latest Monte Carlo's backlog bands per day (JSON), for the dashboard."""
        return self._setting(BANDS)

    # --- the plant simulator's day ---

    def plant_through(self) -> dt.date | None:
        """The last day the plant simulator reported (None: it never ran here)."""
        text = self._setting(PLANT_DAY)
        return dt.date.fromisoformat(text) if text else None

    def begin_plant(self, day: dt.date) -> dt.date:
        """The last day the plant simulator reported; `day` if it never ran here (kept:
        it starts from there, not from the book's first day)."""
        with self.transaction() as cur:
            cur.execute(
                self.q("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (PLANT_DAY, day.isoformat()),
            )
        through = self.plant_through()
        assert through is not None
        return through

    def put_plant_through(self, day: dt.date) -> None:
        """The plant simulator has reported every day through `day`."""
        with self.transaction() as cur:
            self._put_setting(cur, PLANT_DAY, day.isoformat())

    # --- one-time links to a customer's page ---

    def add_link(
        self, code_hash: str, order_id: str, expires: dt.datetime, now: dt.datetime
    ) -> None:
        """Keep a new link; links expired by `now` (used or not) are deleted, so the table
        holds only the links of the last few minutes."""
        with self.transaction() as cur:
            cur.execute(self.q("DELETE FROM page_links WHERE expires_at < ?"), (self.ts(now),))
            cur.execute(
                self.q("INSERT INTO page_links (code_hash, order_id, expires_at) VALUES (?,?,?)"),
                (code_hash, order_id, self.ts(expires)),
            )

    def use_link(self, code_hash: str, order_id: str, now: dt.datetime) -> bool:
        """Use an unused, unexpired link to this order; False otherwise (once only, even
        for two browsers at once: the update is the test; a link tried on another order
        stays unused)."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "UPDATE page_links SET used_at = ? WHERE code_hash = ? AND order_id = ? "
                    "AND used_at IS NULL AND expires_at >= ? RETURNING order_id"
                ),
                (self.ts(now), code_hash, order_id, self.ts(now)),
            )
            return cur.fetchone() is not None

    def taken_since(self, since: dt.datetime) -> int:
        """Orders created since then (the intake rate)."""
        return int(
            self._one("SELECT COUNT(*) FROM orders WHERE created_at >= ?", (self.ts(since),))[0]
        )

    def try_lease(self, name: str, holder: str, now: dt.datetime, seconds: float) -> bool:
        """Take or renew a lease (one process among several does a job, e.g. writing
        eta_changed events); True if `holder` has it now."""
        until = now + dt.timedelta(seconds=seconds)
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                    "until = excluded.until WHERE leases.until < ? OR leases.holder = ? "
                    "RETURNING holder"
                ),
                (name, holder, self.ts(until), self.ts(now), holder),
            )
            return cur.fetchone() is not None

    def ping(self, at: dt.datetime) -> None:
        """A write like an order's, undone in the same transaction: proves the database
        takes intake writes now (a tiny setting might still fit on a full disk)."""
        self.write([Probe(at)])
