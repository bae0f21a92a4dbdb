"""The scenario page: the live YAML, replaced all or nothing, problems beside their lines."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN_KEY, client, clock, db_url, store  # noqa: F401
from tests.web.signin import signed_in


def test_a_bad_scenario_is_refused_with_problems_beside_their_lines(client: TestClient) -> None:  # noqa: F811
    csrf = signed_in(client)
    page = client.get("/scenario")
    assert page.status_code == 200
    text = client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text
    assert "jph: 1" in page.text
    bad = text.replace("jph: 1\n", "jph: -5\n")
    r = client.post("/scenario", data={"text": bad, "csrf": csrf})
    assert r.status_code == 422
    row = re.search(
        r'<tr class="bad"><td class="num muted">(\d+)</td><td><code>([^<]*)</code>', r.text
    )
    assert row is not None
    assert row[2].strip() == "jph: -5"
    assert bad.splitlines()[int(row[1]) - 1].strip() == "jph: -5"
    assert "must be &gt; 0" in r.text
    assert client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text == text  # unchanged
    not_yaml = client.post("/scenario", data={"text": "plants: [", "csrf": csrf})
    assert not_yaml.status_code == 422
    assert "not valid YAML" in not_yaml.text


def test_a_good_scenario_is_planned_and_used(client: TestClient) -> None:  # noqa: F811
    csrf = signed_in(client)
    text = client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text
    better = text.replace("jph: 1\n", "jph: 2\n")
    r = client.post("/scenario", data={"text": better, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text == better
    assert "Saved" in client.get(r.headers["location"]).text
    forged = client.post("/scenario", data={"text": text, "csrf": "x" * 43})
    assert forged.status_code == 403
    assert client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text == better
