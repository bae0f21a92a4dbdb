"""The scenario page: the live YAML, replaced all or nothing, problems beside their lines."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from promiseline.service.guard import MAX_PATCH, MAX_SCENARIO_BODY
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


def test_the_forms_take_what_the_api_takes(client: TestClient) -> None:  # noqa: F811
    """A 75 KB scenario saved from the page (the guard cut forms at 64 KiB with a raw JSON
    413, and the edits were lost); one over the API's 1 MiB comes back on the page, text
    and all, with the limit; a body too large to read gets a page, the API still JSON."""
    csrf = signed_in(client)
    text = client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text
    big = text + "".join(f"# note {i:05d}: {'&=%' * 20}\n" for i in range(1000))
    assert 75_000 <= len(big.encode()) < MAX_SCENARIO_BODY
    r = client.post("/scenario", data={"text": big, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    assert client.get("/v1/scenario", headers={"X-API-Key": ADMIN_KEY}).text == big
    huge = text + "#" * MAX_SCENARIO_BODY
    r = client.post("/scenario", data={"text": huge, "csrf": csrf})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert f"over {MAX_SCENARIO_BODY:,} bytes" in r.text
    assert "#" * 1000 in r.text  # the edits are on the page
    way_over = {"text": "&" * MAX_SCENARIO_BODY * 2, "csrf": csrf}  # 6 MiB encoded
    r = client.post("/scenario", data=way_over)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "at most 3,211,264 bytes" in r.text
    api = client.put(
        "/v1/scenario",
        content=b"#" * (MAX_SCENARIO_BODY + 1),
        headers={"X-API-Key": ADMIN_KEY, "Content-Type": "application/yaml"},
    )
    assert api.status_code == 413
    assert api.json() == {"detail": f"request body over {MAX_SCENARIO_BODY:,} bytes"}


def test_the_what_if_form_takes_its_whole_patch(client: TestClient) -> None:  # noqa: F811
    """A 100 KB patch passes the guard; one over 256 KiB comes back on the page with the
    limit and the text, not as JSON."""
    csrf = signed_in(client)
    patch = "".join(f"# {i:06d} {'x' * 90}\n" for i in range(1000)) + "{}\n"
    r = client.post("/whatif", data={"csrf": csrf, "name": "notes", "text": patch})
    assert r.status_code != 413, r.text[:300]
    over = "#" * (MAX_PATCH + 1)
    r = client.post("/whatif", data={"csrf": csrf, "name": "x", "text": over})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert f"over {MAX_PATCH:,} bytes" in r.text
