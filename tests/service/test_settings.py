"""Settings are checked before anything starts, with one clear line each."""

from __future__ import annotations

import base64

import pytest

from promiseline.errors import PromiselineError
from promiseline.service.settings import Settings
from promiseline.service.webhook_key import signing_key


def test_short_admin_key_is_refused() -> None:
    """A bootstrap admin key under 32 characters is refused, saying how to make one."""
    with pytest.raises(PromiselineError, match="at least 32 characters, got 6"):
        Settings(admin_key="secret")


def test_webhooks_need_a_signing_secret() -> None:
    """Webhook targets without a signing secret are refused."""
    with pytest.raises(PromiselineError, match="PROMISELINE_WEBHOOK_SECRET"):
        Settings(webhooks=("http://example.test/hook",))


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_not base64!", "after 'whsec_' expected standard base64"),
        ("whsec_" + "A" * 20, "at least 24 bytes after decoding the base64, got 15"),
        ("whsec_" + base64.b64encode(bytes(32)).decode(), "one byte value repeated"),
        ("short", "at least 24 bytes, got 5"),
        ("s" * 30, "one byte value repeated"),
    ],
)
def test_webhook_secrets_are_real_keys(secret: str, message: str) -> None:
    """A webhook secret that is not base64 after whsec_, decodes to fewer than 24 bytes
    (20 `A`s: 15 zero bytes) or is one byte repeated is refused when the settings load,
    naming the variable (and never echoing the secret)."""
    with pytest.raises(PromiselineError, match="PROMISELINE_WEBHOOK_SECRET") as e:
        Settings(webhook_secret=secret)
    assert message in str(e.value)
    assert secret not in str(e.value)


def test_a_good_webhook_secret_is_its_key() -> None:
    """whsec_ + base64 of 32 random-looking bytes is those bytes."""
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    assert signing_key(Settings(webhook_secret=secret).webhook_secret or "") == key


def test_environment_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `to_env` writes, `from_env` reads back (worker processes rely on it)."""
    s = Settings(
        db="sqlite:///x.db",
        admin_key="k" * 40,
        pepper="p",
        webhooks=("http://a/h", "http://b/h"),
        webhook_secret="s3cr3t-for-the-round-trip-0123",
        debounce_s=0.5,
        public_backlog=True,
        futures=37,
    )
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    back = Settings.from_env()
    assert back == s


def test_bad_numbers_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A debounce that is not a number, or not positive, names the setting."""
    monkeypatch.setenv("PROMISELINE_DEBOUNCE", "soon")
    with pytest.raises(PromiselineError, match="PROMISELINE_DEBOUNCE"):
        Settings.from_env()
    with pytest.raises(PromiselineError, match="debounce_s"):
        Settings(debounce_s=0)
    monkeypatch.delenv("PROMISELINE_DEBOUNCE")
    for futures in ("2.5", "many"):
        monkeypatch.setenv("PROMISELINE_FUTURES", futures)
        with pytest.raises(PromiselineError, match="PROMISELINE_FUTURES: expected a whole number"):
            Settings.from_env()
    monkeypatch.setenv("PROMISELINE_FUTURES", "9999")
    with pytest.raises(PromiselineError, match="0 to 5000"):
        Settings.from_env()


def test_admin_key_with_spaces_is_refused() -> None:
    """A key of spaces (or with control characters) could never be sent in a header."""
    with pytest.raises(PromiselineError, match="no spaces or control characters"):
        Settings(admin_key=" " * 40)
    with pytest.raises(PromiselineError, match="no spaces or control characters"):
        Settings(admin_key="k" * 40 + "\n")
