"""The webhook signing key, checked when the settings load: a secret that is not what
Standard Webhooks expects (`whsec_` + base64 of 24 bytes or more) or is too weak to sign
with stops the start with one line, never a traceback in a worker."""

from __future__ import annotations

import base64
import binascii

from promiseline.errors import PromiselineError

MIN_KEY_BYTES = 24  # Standard Webhooks: secrets of 24 to 64 bytes
VARIABLE = "PROMISELINE_WEBHOOK_SECRET"


def signing_key(secret: str) -> bytes:
    """The key bytes: base64 after `whsec_`, else the text itself; at least 24 bytes and
    not one byte value repeated (PromiselineError naming the variable otherwise)."""
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise PromiselineError(
                f"{VARIABLE}: after 'whsec_' expected standard base64 (A-Z a-z 0-9 + / and "
                "= padding) of a random key, e.g. `python -c 'import base64, secrets; "
                'print("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())\'`'
            ) from None
        what = "bytes after decoding the base64"
    else:
        key, what = secret.encode(), "bytes"
    if len(key) < MIN_KEY_BYTES:
        raise PromiselineError(
            f"{VARIABLE}: a signing key of at least {MIN_KEY_BYTES} {what}, got {len(key)}"
        )
    if len(set(key)) == 1:
        raise PromiselineError(
            f"{VARIABLE}: the signing key is one byte value repeated ({len(key)} {what}); "
            "use a random key"
        )
    return key
