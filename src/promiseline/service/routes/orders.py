"""Customer routes: take an order, see it, lock, change, cancel, follow it, quote."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from promiseline.core.model.orders import parse_options
from promiseline.errors import InvalidRequestError
from promiseline.service.deps import (
    Desk,
    OrderReader,
    OwnOrder,
    Staff,
    StreamReader,
    body,
    documented,
    own_order,
)
from promiseline.service.edge import client_address
from promiseline.service.schemas import (
    Cancelled,
    OrderCreate,
    OrderCreated,
    OrderPublic,
    OrderUpdate,
    QuotePublic,
)

router = APIRouter(tags=["customer"])
ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "Malformed request (a body that is not UTF-8 JSON, a bad header)"},
    401: {"description": "Missing or unknown token or key"},
    404: {"description": "No such order (for this token)"},
    409: {"description": "The order's status does not allow it"},
    413: {"description": "Request body too large"},
    422: {"description": "Invalid input"},
    503: {"description": "The database is unavailable; retry after Retry-After seconds"},
}
MAX_EVENT_ID = 2**63 - 1
_ORDER = {"order_id": "$response.body#/order_id"}
_TOKEN = {"header.X-Order-Token": "$response.body#/token"}
LINKS = {  # what a client can do next with a new order (schemathesis follows these)
    name: {"operationId": op, "parameters": _ORDER | _TOKEN}
    for name, op in (
        ("GetOrder", "get_order"),
        ("LockOrder", "lock_order"),
        ("ChangeOrder", "change_order"),
        ("CancelOrder", "cancel_order"),
    )
}


class EventStream(StreamingResponse):
    """An SSE response that notices a client leaving at once (Starlette, under ASGI 2.4,
    would notice only at its next write, up to a keep-alive period later), so the
    stream's place under the caps is freed at once."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async with anyio.create_task_group() as tg:

            async def stream() -> None:
                with contextlib.suppress(OSError):
                    await self.stream_response(send)
                tg.cancel_scope.cancel()

            tg.start_soon(stream)
            await self.listen_for_disconnect(receive)
            tg.cancel_scope.cancel()


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


@router.post(
    "/v1/orders",
    response_model=OrderCreated,
    status_code=201,
    responses={
        200: {"model": OrderCreated, "description": "Replay of the same key", "links": LINKS},
        201: {"description": "A new order", "links": LINKS},
        **ERRORS,
    },
)
async def create_order(
    d: Desk,
    order: OrderCreate,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=16,
            max_length=200,
            description="A random key per order (a UUID): the same key and body give back "
            "the same order, token included, so keep it as secret as the token.",
        ),
    ],
) -> Response:
    """Take an order. The same Idempotency-Key and body give back the same order; the
    answer comes once the order is durably stored."""
    data, created = await d.create(
        order.model, order.variant, order.market, order.options, order.lock, idempotency_key
    )
    return _json(data, 201 if created else 200, {"Idempotency-Key": idempotency_key})


@router.get(
    "/v1/orders/{order_id}",
    response_model=OrderPublic,
    responses=ERRORS,
    dependencies=[OrderReader],
    operation_id="get_order",
)
@router.get(
    "/v1/orders/{order_id}/eta",
    response_model=OrderPublic,
    responses=ERRORS,
    dependencies=[OrderReader],
    operation_id="get_order_eta",
)
async def get_order(d: Desk, order_id: str) -> Response:
    """Status, queue position, delivery window and the order's events."""
    return _json((await d.view(order_id)).to_json())


@router.post(
    "/v1/orders/{order_id}/lock",
    response_model=OrderPublic,
    responses=ERRORS,
    dependencies=[OwnOrder],
    operation_id="lock_order",
)
async def lock_order(d: Desk, order_id: str) -> Response:
    """Make a reserved order firm: it takes its place at the back of the build queue now."""
    return _json((await d.lock(order_id)).to_json())


@router.patch(
    "/v1/orders/{order_id}",
    response_model=OrderPublic,
    responses=ERRORS,
    openapi_extra=documented(OrderUpdate),
    operation_id="change_order",
)
async def change_order(
    d: Desk, order_id: str, change: OrderUpdate = body(OrderUpdate, own_order)
) -> Response:
    """Change variant or options while allowed (reserved, or locked for a few days)."""
    return _json((await d.change(order_id, change.variant, change.options)).to_json())


@router.post(
    "/v1/orders/{order_id}/cancel",
    response_model=Cancelled,
    responses=ERRORS,
    dependencies=[OwnOrder],
    operation_id="cancel_order",
)
async def cancel_order(d: Desk, order_id: str) -> Response:
    """Cancel an order; says whether the deposit is refunded."""
    view, refund = await d.cancel(order_id)
    return _json(view.to_json() | {"refund": refund})


@router.post(
    "/v1/orders/{order_id}/page-link",
    responses={429: {"description": "Too many links minted (per order, per client)"}, **ERRORS},
    dependencies=[OwnOrder],
    operation_id="order_page_link",
)
async def order_page_link(d: Desk, order_id: str) -> Response:
    """A one-time link to the order's page in a browser, for the customer: it opens the
    page once within 15 minutes and is exchanged there for a cookie, so the secret does
    not stay in the address bar, the history or a log."""
    code = await d.page_link(order_id)
    return _json({"url": f"/o/{order_id}?code={code}", "expires_in_s": 900})


@router.get(
    "/v1/orders/{order_id}/events",
    responses={
        429: {"description": "Too many event streams open or opened (per order, per client)"},
        **ERRORS,
    },
    response_class=StreamingResponse,
    dependencies=[StreamReader],
)
async def order_events(
    request: Request,
    d: Desk,
    order_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    """Server-Sent Events: the order's events after Last-Event-ID, then new ones as they
    happen (with keep-alive comments)."""
    after = 0
    if last_event_id:
        if (
            not last_event_id.isascii()
            or not last_event_id.isdigit()
            or (int(last_event_id) > MAX_EVENT_ID)
        ):
            raise InvalidRequestError(
                f"Last-Event-ID: expected an event id (a whole number), got {last_event_id!r}"
            )
        after = int(last_event_id)
    await d.exists(order_id)  # 404 before the stream starts
    stream = d.events(order_id, after, client_address(request.scope))
    return EventStream(stream, media_type="text/event-stream")


@router.get("/v1/quote", response_model=QuotePublic, responses=ERRORS)
async def quote(
    d: Desk,
    staff: Staff,
    model: Annotated[str, Query(max_length=100)],
    variant: Annotated[str, Query(max_length=100)],
    market: Annotated[str, Query(max_length=100)],
    option: Annotated[
        list[Annotated[str, Query(max_length=200)]] | None,
        Query(description="NAME=VALUE, repeat for more", max_length=20),
    ] = None,
) -> Response:
    """The delivery window a new order would get if locked now (books nothing). The queue
    position is shown to staff keys, or to anyone if the operator allows it."""
    options = parse_options(option or [], "option")
    full = staff or d.settings.public_backlog
    return _json(d.quote(model, variant, market, options, full=full).to_json())
