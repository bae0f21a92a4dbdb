"""Who may do what: order tokens for customers, API keys with roles for staff.

An order token is derived from the order id with a secret kept in the database, so a
replayed create returns the same token and nothing per order is stored. API keys are
stored as HMAC-SHA256(pepper, SHA-256(key)): a copy of the database alone does not let
anyone test guesses, and keys stored before peppering (plain SHA-256) are upgraded in
place at start-up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets

from promiseline.core.model.records import ROLES, ApiKey, Role
from promiseline.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    StorageError,
    UnauthorizedError,
)
from promiseline.store import SqlStore

log = logging.getLogger("promiseline.service")
BOOTSTRAP_ID = "bootstrap-admin"
MAX_SECRET_LEN = 200


def pepper_for(store: SqlStore, pepper: str | None) -> bytes:
    """The pepper given (PROMISELINE_PEPPER), else one kept in the database."""
    if pepper:
        return pepper.encode()
    log.warning(
        "PROMISELINE_PEPPER is not set: API-key hashes are peppered with a secret kept in "
        "the database itself; set it to keep the pepper apart from the hashes"
    )
    return store.secret("key_pepper").encode()


def key_hash(pepper: bytes, key: str) -> str:
    return _pepper(pepper, hashlib.sha256(key.encode()).hexdigest())


def _pepper(pepper: bytes, sha: str) -> str:
    return hmac.new(pepper, sha.encode(), hashlib.sha256).hexdigest()


def pepper_check(pepper: bytes, salt: str) -> str:
    """What tells a changed pepper at start-up: scrypt, salted, so a copy of the database
    does not let anyone test guesses of the pepper quickly."""
    return hashlib.scrypt(pepper, salt=salt.encode(), n=2**14, r=8, p=1, dklen=32).hex()


def _stored(secret: str) -> str:
    """Page links and sessions are stored hashed: a copy of the database opens nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(role: Role) -> tuple[str, str]:
    """(key id, secret key) for a new API key."""
    return f"key_{secrets.token_hex(6)}", f"pl_{role}_{secrets.token_urlsafe(32)}"


class Access:
    """Order tokens and API keys."""

    def __init__(self, store: SqlStore, pepper: bytes) -> None:
        self.store = store
        self.pepper = pepper
        self._token_secret = store.secret("token_secret").encode()
        upgraded = store.rehash_keys("sha256", lambda sha: _pepper(pepper, sha))
        if upgraded:
            log.info("peppered %d API key hash(es) stored before", upgraded)
        if store.note_pepper(pepper_check(pepper, store.secret("pepper_salt"))) == "changed":
            log.warning(
                "PROMISELINE_PEPPER changed: API keys stored under the previous pepper no "
                "longer work, and every dashboard session has ended"
            )

    # --- customers ---

    def token(self, order_id: str) -> str:
        """The customer's secret for one order."""
        return hmac.new(self._token_secret, order_id.encode(), hashlib.sha256).hexdigest()[:32]

    def check_token(self, order_id: str, token: str | None) -> None:
        if not token:
            raise UnauthorizedError(
                "this order needs its token (X-Order-Token header, or ?token= on /events)"
            )
        if not hmac.compare_digest(self.token(order_id).encode(), token.encode()[:64]):
            raise NotFoundError(f"no order {order_id!r} for this token")

    # --- staff ---

    def role(self, key: str | None) -> Role:
        """The role of an active API key (UnauthorizedError otherwise)."""
        if not key:
            raise UnauthorizedError("this needs an API key (X-API-Key header)")
        if len(key) > MAX_SECRET_LEN:
            raise UnauthorizedError("unknown or revoked API key")
        found = self.store.find_key(key_hash(self.pepper, key))
        if found is None:
            raise UnauthorizedError("unknown or revoked API key")
        return found.role

    def identify(self, key: str) -> ApiKey:
        """The active key behind `key` (UnauthorizedError otherwise)."""
        self.role(key)  # the same checks and messages
        found = self.store.find_key(key_hash(self.pepper, key))
        if found is None:
            raise UnauthorizedError("unknown or revoked API key")
        return found

    # --- the pages' sessions ---

    def open_session(self, key_id: str, now: dt.datetime, seconds: int) -> str:
        session = secrets.token_urlsafe(24)
        self.store.add_session(_stored(session), key_id, now + dt.timedelta(seconds=seconds))
        return session

    def session_key(self, session: str, now: dt.datetime) -> ApiKey | None:
        """The active key of a session not ended (sign-out) or expired."""
        if not session or len(session) > MAX_SECRET_LEN:
            return None
        return self.store.session_key(_stored(session), now)

    def end_session(self, session: str) -> None:
        if session and len(session) <= MAX_SECRET_LEN:
            self.store.end_session(_stored(session))

    # --- one-time links to a customer's page ---

    def page_link(self, order_id: str, now: dt.datetime) -> str:
        code = secrets.token_urlsafe(24)
        self.store.add_link(_stored(code), order_id, now + dt.timedelta(minutes=15), now)
        return code

    def use_page_link(self, code: str, order_id: str, now: dt.datetime) -> bool:
        if not code or len(code) > MAX_SECRET_LEN:
            return False
        return self.store.use_link(_stored(code), order_id, now)

    def require(self, key: str | None, role: Role) -> Role:
        found = self.role(key)
        if role == "admin" and found != "admin":
            raise ForbiddenError("this needs an admin key")
        return found

    def create_key(self, role: Role, at: dt.datetime) -> tuple[str, str]:
        if role not in ROLES:
            raise InvalidRequestError(f"role must be one of {list(ROLES)}, got {role!r}")
        key_id, key = new_key(role)
        self.store.add_key(key_id, key_hash(self.pepper, key), role, at)
        return key_id, key

    def revoke_key(self, key_id: str, at: dt.datetime) -> None:
        outcome = self.store.revoke_key(key_id, at)
        if outcome == "missing":
            raise NotFoundError(f"no active key {key_id!r}")
        if outcome == "last_admin":
            raise ConflictError(
                f"{key_id} is the last active admin key; create another admin key first"
            )

    def api_keys(self) -> list[ApiKey]:
        return self.store.api_keys()

    def bootstrap(self, key: str, at: dt.datetime) -> None:
        """Register the admin key given at start. Never stops the start: a revoked key
        stays revoked (with a warning), a new value replaces the old one."""
        try:
            outcome = self.store.ensure_key(BOOTSTRAP_ID, key_hash(self.pepper, key), "admin", at)
        except StorageError as e:
            log.warning("bootstrap admin key not registered: %s", e)
            return
        if outcome == "revoked":
            log.warning(
                "the bootstrap admin key (PROMISELINE_ADMIN_KEY) was revoked; it stays "
                "revoked. Set a new value to register a new one."
            )
        elif outcome == "replaced":
            log.warning(
                "bootstrap admin key registered anew: PROMISELINE_ADMIN_KEY or "
                "PROMISELINE_PEPPER changed (the previous value no longer works and its "
                "dashboard sessions have ended; if the pepper changed, no other API key "
                "works either)"
            )
