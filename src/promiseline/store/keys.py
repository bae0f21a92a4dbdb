"""API keys: stored only as hashes (the service peppers them; see service/access.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from promiseline.core.model.records import ApiKey, Role
from promiseline.store.db import Db

Bootstrap = Literal["added", "present", "revoked", "replaced"]
Revoked = Literal["revoked", "missing", "last_admin"]


PEPPER_CHECK = "key_pepper_check"
SESSION_SPAN = dt.timedelta(days=1)  # sessions this long past their end are swept


class KeyTable(Db):
    """API keys by hash; at least one admin key stays active."""

    def _key(self, r: Any) -> ApiKey:
        return ApiKey(r[0], r[1], self.when(r[2]), self.from_ts(r[3]))

    def add_key(self, key_id: str, key_hash: str, role: Role, at: dt.datetime) -> None:
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "INSERT INTO api_keys (key_id, key_hash, role, created_at, scheme) "
                    "VALUES (?,?,?,?,'hmac')"
                ),
                (key_id, key_hash, role, self.ts(at)),
            )

    def ensure_key(self, key_id: str, key_hash: str, role: Role, at: dt.datetime) -> Bootstrap:
        """Register a key given from outside (the bootstrap admin key) under `key_id`.

        Never fails for what happened to it: a key already there is left alone (revoked
        stays revoked); a new value under the same id replaces the old one (rotated in the
        environment). Several processes starting at once on a fresh database are fine.
        """
        with self.transaction() as cur:
            cur.execute(
                self.q(f"SELECT revoked_at FROM api_keys WHERE key_hash = ?{self.lock_rows}"),
                (key_hash,),
            )
            row = cur.fetchone()
            if row is not None:
                return "revoked" if row[0] is not None else "present"
            cur.execute(
                self.q(
                    "INSERT INTO api_keys (key_id, key_hash, role, created_at, scheme) "
                    "VALUES (?,?,?,?,'hmac') ON CONFLICT DO NOTHING RETURNING key_id"
                ),
                (key_id, key_hash, role, self.ts(at)),
            )
            if cur.fetchone() is not None:
                return "added"
            cur.execute(  # the id holds another key: the value was rotated
                self.q(
                    "UPDATE api_keys SET key_hash = ?, role = ?, created_at = ?, "
                    "revoked_at = NULL, scheme = 'hmac' WHERE key_id = ? AND key_hash <> ? "
                    "RETURNING key_id"
                ),
                (key_hash, role, self.ts(at), key_id, key_hash),
            )
            replaced = cur.fetchone() is not None
            if replaced:  # the old value's sessions end with it
                cur.execute(self.q("DELETE FROM page_sessions WHERE key_id = ?"), (key_id,))
        return "replaced" if replaced else "present"  # present: another process added it

    def note_pepper(self, check: str) -> Literal["first", "same", "changed"]:
        """Keep `check` (a slow hash of the pepper in use) and compare it with the one kept:
        when the pepper changed, no stored key hash matches its key any more, so every
        page session ends here, in the same transaction."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING "
                    "RETURNING name"
                ),
                (PEPPER_CHECK, check),
            )
            if cur.fetchone() is not None:
                return "first"
            cur.execute(
                self.q(f"SELECT value FROM settings WHERE name = ?{self.lock_rows}"),
                (PEPPER_CHECK,),
            )
            if cur.fetchone()[0] == check:
                return "same"
            cur.execute(
                self.q("UPDATE settings SET value = ? WHERE name = ?"), (check, PEPPER_CHECK)
            )
            cur.execute(self.q("DELETE FROM page_sessions"))
        return "changed"

    def find_key(self, key_hash: str) -> ApiKey | None:
        """The active key with this hash."""
        row = self._one(
            "SELECT key_id, role, created_at, revoked_at FROM api_keys "
            "WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
        )
        return self._key(row) if row else None

    # --- the pages' sessions ---

    def add_session(self, session_hash: str, key_id: str, expires: dt.datetime) -> None:
        with self.transaction() as cur:
            cur.execute(
                self.q("DELETE FROM page_sessions WHERE expires_at < ?"),
                (self.ts(expires - SESSION_SPAN),),
            )
            cur.execute(
                self.q(
                    "INSERT INTO page_sessions (session_hash, key_id, expires_at) VALUES (?,?,?)"
                ),
                (session_hash, key_id, self.ts(expires)),
            )

    def session_key(self, session_hash: str, now: dt.datetime) -> ApiKey | None:
        """The active key of a session that has not ended or expired."""
        row = self._one(
            "SELECT k.key_id, k.role, k.created_at, k.revoked_at FROM page_sessions s "
            "JOIN api_keys k ON k.key_id = s.key_id "
            "WHERE s.session_hash = ? AND s.expires_at >= ? AND k.revoked_at IS NULL",
            (session_hash, self.ts(now)),
        )
        return self._key(row) if row else None

    def end_session(self, session_hash: str) -> None:
        with self.transaction() as cur:
            cur.execute(self.q("DELETE FROM page_sessions WHERE session_hash = ?"), (session_hash,))

    def revoke_key(self, key_id: str, at: dt.datetime) -> Revoked:
        """Revoke an active key, unless it is the last active admin key."""
        with self.transaction() as cur:
            cur.execute(
                self.q(
                    "SELECT key_id, role FROM api_keys WHERE revoked_at IS NULL "
                    f"AND (role = 'admin' OR key_id = ?){self.lock_rows}"
                ),
                (key_id,),
            )
            active = dict(cur.fetchall())
            if key_id not in active:
                return "missing"
            if active[key_id] == "admin" and sum(r == "admin" for r in active.values()) == 1:
                return "last_admin"
            cur.execute(
                self.q("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?"),
                (self.ts(at), key_id),
            )
        return "revoked"

    def api_keys(self) -> list[ApiKey]:
        rows = self._all(
            "SELECT key_id, role, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id"
        )
        return [self._key(r) for r in rows]

    def rehash_keys(self, scheme: str, rehash: Callable[[str], str]) -> int:
        """Replace the hashes stored under an older `scheme` by `rehash(old hash)` (keys
        stored before peppering); how many were rehashed."""
        with self.transaction() as cur:
            cur.execute(
                self.q(f"SELECT key_id, key_hash FROM api_keys WHERE scheme = ?{self.lock_rows}"),
                (scheme,),
            )
            old = cur.fetchall()
            cur.executemany(
                self.q("UPDATE api_keys SET key_hash = ?, scheme = 'hmac' WHERE key_id = ?"),
                [(rehash(h), k) for k, h in old],
            )
        return len(old)
