"""Admin routes (X-API-Key with the admin role): API keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from promiseline.service.deps import Admin, Desk, admin, body, documented
from promiseline.service.routes.orders import ERRORS
from promiseline.service.schemas import KeyCreate, KeyCreated, KeyPublic

router = APIRouter(tags=["admin"], responses={403: {"description": "Not an admin key"}, **ERRORS})


@router.post(
    "/v1/keys", response_model=KeyCreated, status_code=201, openapi_extra=documented(KeyCreate)
)
async def create_key(d: Desk, new: KeyCreate = body(KeyCreate, admin)) -> dict[str, Any]:
    """Create an API key; it is shown once and stored only as a peppered hash."""
    key_id, key = await d.create_key(new.role)
    return {"key_id": key_id, "role": new.role, "key": key}


@router.get("/v1/keys", response_model=list[KeyPublic])
async def list_keys(d: Desk, _: Admin) -> list[dict[str, Any]]:
    """Every key, active and revoked (never the key itself)."""
    return [
        {
            "key_id": k.key_id,
            "role": k.role,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in await d.api_keys()
    ]


@router.delete("/v1/keys/{key_id}", status_code=204)
async def revoke_key(d: Desk, _: Admin, key_id: str) -> Response:
    """Revoke a key at once (the last active admin key cannot be revoked)."""
    await d.revoke_key(key_id)
    return Response(status_code=204)
