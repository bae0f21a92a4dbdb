"""A customer changes the variant from the page after a confirmation; what the policy
refuses is said on the page, and nothing changes."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient

from tests.service.conftest import Clock, client, clock, db_url, order, store  # noqa: F401
from tests.web.signin import csrf_of


def opened(client: TestClient, o: dict[str, object]) -> str:  # noqa: F811
    page = client.get(f"/o/{o['order_id']}")
    csrf = csrf_of(page.text)
    r = client.post(
        f"/o/{o['order_id']}/open", data={"token": o["token"], "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    return csrf


def test_change_the_variant_with_confirmation(client: TestClient, clock: Clock) -> None:  # noqa: F811
    o = order(client, "c1", lock=True)
    oid = o["order_id"]
    csrf = opened(client, o)
    ask = client.get(f"/o/{oid}?confirm=change")
    assert "keeps its place in the queue" in ask.text
    variants = re.findall(r"<option[^>]*>([^<]+)</option>", ask.text)
    other = next(v for v in variants if v != o["variant"])
    r = client.post(
        f"/o/{oid}/change", data={"csrf": csrf, "variant": other}, follow_redirects=False
    )
    assert r.status_code == 303
    token = {"X-Order-Token": str(o["token"])}
    assert client.get(f"/v1/orders/{oid}", headers=token).json()["variant"] == other
    clock.now += dt.timedelta(days=60)  # past the change period
    late = client.post(f"/o/{oid}/change", data={"csrf": csrf, "variant": o["variant"]})
    assert late.status_code == 409
    assert 'class="card error" role="alert"' in late.text
    assert client.get(f"/v1/orders/{oid}", headers=token).json()["variant"] == other
