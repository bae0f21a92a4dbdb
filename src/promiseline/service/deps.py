"""Route dependencies: the desk, who is calling (order token, API key and role), and
request bodies read only after the caller is known."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from promiseline.core.model.records import Role
from promiseline.service.desk import OrderDesk
from promiseline.service.strict_json import duplicate_error, duplicate_key

M = TypeVar("M", bound=BaseModel)


async def get_desk(request: Request) -> OrderDesk:  # async: no thread hop per request
    desk: OrderDesk = request.app.state.desk
    return desk


Desk = Annotated[OrderDesk, Depends(get_desk)]
ApiKey = Annotated[str | None, Header(alias="X-API-Key", max_length=200)]
Token = Annotated[str | None, Header(alias="X-Order-Token", max_length=100)]


async def planner(d: Desk, key: ApiKey = None) -> Role:
    return await d.role(key, "planner")


async def admin(d: Desk, key: ApiKey = None) -> Role:
    return await d.role(key, "admin")


Planner = Annotated[Role, Depends(planner)]
Admin = Annotated[Role, Depends(admin)]


async def own_order(d: Desk, order_id: str, token: Token = None) -> None:
    """Customer actions: the order's own token, and nothing else."""
    d.check_token(order_id, token)


async def order_reader(d: Desk, order_id: str, token: Token = None, key: ApiKey = None) -> None:
    """Reading an order: its own token, or a planner or admin key."""
    if key and not token:
        await d.role(key, "planner")
        return
    d.check_token(order_id, token)


async def stream_reader(
    d: Desk,
    order_id: str,
    token: Token = None,
    key: ApiKey = None,
    query_token: Annotated[str | None, Query(alias="token", max_length=100)] = None,
) -> None:
    """An event stream: as `order_reader`, or ?token= (a browser's EventSource cannot
    send headers)."""
    await order_reader(d, order_id, token or query_token, key)


async def staff_or_anyone(d: Desk, key: ApiKey = None) -> bool:
    """True for a valid planner or admin key (a wrong key is still a 401), False for
    anonymous callers."""
    if not key:
        return False
    await d.role(key, "planner")
    return True


OwnOrder = Depends(own_order)
OrderReader = Depends(order_reader)
StreamReader = Depends(stream_reader)
Staff = Annotated[bool, Depends(staff_or_anyone)]


def body(model: type[M], who: Callable[..., Awaitable[Any]]) -> Any:
    """A JSON body of `model`, read only once `who` accepted the caller, so nobody
    unknown makes the service read and parse a body; a key named twice is a 422."""

    async def read(request: Request, _: Any = Depends(who)) -> M:
        raw = await request.body()
        key = duplicate_key(raw)
        if key is not None:
            raise RequestValidationError([duplicate_error(key)])
        try:
            return model.model_validate_json(raw)
        except ValidationError as e:
            raise RequestValidationError(
                [err | {"loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
            ) from None

    return Depends(read)


BODIES: dict[str, type[BaseModel]] = {}  # models of bodies read by `body`, for OpenAPI


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` that documents a body read by `body` (FastAPI cannot see it); the
    schema itself goes into the components (see `body_schemas`)."""
    BODIES[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def body_schemas() -> dict[str, Any]:
    """JSON schemas of the documented bodies and the models they refer to."""
    out: dict[str, Any] = {}
    for name, model in BODIES.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out |= schema.pop("$defs", {})
        out[name] = schema
    return out
