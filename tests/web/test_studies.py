"""What-ifs and sizing from the dashboard: a bad request starts nothing and says why; a
good one runs in the background and answers with the same tables as the core."""

from __future__ import annotations

import io
import re
import time
import zipfile

import polars as pl
import pytest
from fastapi.testclient import TestClient

from promiseline import api
from promiseline.errors import ScenarioError
from promiseline.store import SqlStore
from promiseline.web.cells import defuse
from tests.conftest import DATA
from tests.service.conftest import client, clock, db_url, order, store  # noqa: F401
from tests.web.signin import signed_in


def finished(client: TestClient, url: str) -> str:  # noqa: F811
    """The job's status block once it is no longer running (as the page polls it)."""
    for _ in range(300):
        html = client.get(url, headers={"HX-Request": "true"}).text
        if "Running" not in html:
            return html
        assert 'hx-trigger="every 1s"' in html
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_what_if_runs_in_the_background_and_matches_compare(
    client: TestClient,  # noqa: F811
    store: SqlStore,  # noqa: F811
) -> None:
    for i in range(6):
        order(client, f"w{i}", lock=True)
    csrf = signed_in(client)
    patch = (DATA / "more-hours.yaml").read_text()
    r = client.post(
        "/whatif",
        data={"csrf": csrf, "name": "more-hours"},
        files={"file": ("more-hours.yaml", patch.encode(), "application/yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    html = finished(client, url)
    assert "Done in" in html
    # the service's day is 2025-01-10: two more hours from the 13th come sooner than a shift
    assert "line l1 changes from 2025-01-13, sooner than a shift can be ready" in html
    got = pl.read_csv(client.get(f"{url}/waits.csv").content)
    scenario = api.load_scenario(DATA / "tiny.yaml")
    _, book = store.snapshot()
    want = api.compare(scenario, book, [DATA / "more-hours.yaml"]).waits()
    assert got.rows() == want.rows()  # the core's answer, through the page
    assert got.columns[2:] == ["in use median", "in use P90", "more-hours median", "more-hours P90"]
    want_why = api.compare(scenario, book, [DATA / "more-hours.yaml"]).why()
    if want_why.height:  # why the waits moved, as `compare` says it
        why = pl.read_csv(client.get(f"{url}/why.csv").content, infer_schema_length=0)
        assert why.rows() == want_why.rows()
        assert "<h2>why " in html
    else:
        assert client.get(f"{url}/why.csv").status_code == 404
        assert "No model and variant waits more than 3 days longer or shorter" in html
    assert client.get(f"{url}/waits.xlsx").content[:2] == b"PK"
    assert client.get(f"{url}/nothing.csv").status_code == 404


def test_a_bad_patch_or_target_starts_nothing(client: TestClient) -> None:  # noqa: F811
    csrf = signed_in(client)
    bad = client.post(
        "/whatif",
        data={
            "csrf": csrf,
            "name": "x",
            "text": "plants: [{name: p1, lines: [{name: l1, jph: -3}]}]",
        },
    )
    assert bad.status_code == 422
    assert "plants[0].lines[0].jph: must be &gt; 0" in bad.text
    assert client.post("/whatif", data={"csrf": csrf, "text": "a: ["}).status_code == 422
    target = client.post("/sizing", data={"csrf": csrf, "target": "soon", "lever": ["shift"]})
    assert target.status_code == 422
    assert "expected e.g." in target.text
    none = client.post("/sizing", data={"csrf": csrf, "target": "p90_wait<=5d"})
    assert none.status_code == 422
    assert "at least one kind of lever" in none.text
    forged = client.post("/whatif", data={"csrf": "x" * 43, "text": "{}"}, follow_redirects=False)
    assert forged.status_code == 403


def test_a_sizing_the_scenario_cannot_do_says_why(client: TestClient) -> None:  # noqa: F811
    """The tiny scenario has no levers: the job fails with the core's message."""
    csrf = signed_in(client)
    r = client.post(
        "/sizing",
        data={"csrf": csrf, "target": "p90_wait<=5d", "lever": ["shift"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    html = finished(client, r.headers["location"])
    assert re.search(r"Failed after .*no levers of kind shift", html)


def test_a_what_if_name_cannot_be_a_column(client: TestClient) -> None:  # noqa: F811
    """A what-if named `month` (a column of deliveries by month) or `in use` (the scenario
    it is compared with) would break its job page and downloads or mislabel a column: the
    form refuses it with a 422 that says why, and starts nothing."""
    csrf = signed_in(client)
    patch = (DATA / "more-hours.yaml").read_text()
    for name, why in (
        ("month", "a column of the comparison&#39;s tables has it"),
        ("Model", "a column of the comparison&#39;s tables has it"),
        ("in use", "another scenario of the comparison has it"),
    ):
        r = client.post(
            "/whatif", data={"csrf": csrf, "name": name, "text": patch}, follow_redirects=False
        )
        assert r.status_code == 422, (name, r.status_code)
        assert why in r.text, name


def test_compare_refuses_names_that_are_columns() -> None:
    """The core refuses them too (the CLI's `compare` names scenarios by their files)."""
    scenario = api.load_scenario(DATA / "tiny.yaml")
    for names in (("base", "month"), ("base", "BASE"), ("base", "date"), ("base", " ")):
        with pytest.raises(ScenarioError, match="names: name"):
            api.compare_scenarios([(n, scenario) for n in names], pl.DataFrame())


def test_downloads_run_no_formulas(client: TestClient) -> None:  # noqa: F811
    """A what-if named `=1+1` heads columns of its downloads: in the CSV and the xlsx the
    header starts with an apostrophe, so no spreadsheet runs it (OWASP's CSV advice)."""
    order(client, "f0", lock=True)
    csrf = signed_in(client)
    patch = (DATA / "more-hours.yaml").read_text()
    r = client.post(
        "/whatif", data={"csrf": csrf, "name": "=1+1", "text": patch}, follow_redirects=False
    )
    assert r.status_code == 303
    url = r.headers["location"]
    assert "Done in" in finished(client, url)
    for table in ("waits", "deliveries_by_month"):
        header = client.get(f"{url}/{table}.csv").text.splitlines()[0]
        assert "'=1+1" in header, header
        assert ",=" not in header
        assert not header.startswith("=")
        xlsx = zipfile.ZipFile(io.BytesIO(client.get(f"{url}/{table}.xlsx").content))
        strings = xlsx.read("xl/sharedStrings.xml").decode()
        assert "<t>'=1+1" in strings
        assert "<t>=" not in strings


def test_defuse_prefixes_every_formula_start() -> None:
    """Text cells and headers starting with = + - @ tab or CR get an apostrophe; numbers,
    dates, nulls and other text stay as they are."""
    table = pl.DataFrame(
        {
            "@name": ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "ok", None],
            "n": [1, -2, 3, 4, 5, 6, 7, 8],
        }
    )
    out = defuse(table)
    assert out.columns == ["'@name", "n"]
    assert out["'@name"].to_list() == [
        "'=1+1", "'+1", "'-1", "'@A1", "'\t=1", "'\r=1", "ok", None
    ]  # fmt: skip
    assert out["n"].to_list() == table["n"].to_list()


def test_a_what_if_page_says_why_the_waits_moved(
    client: TestClient,  # noqa: F811
    store: SqlStore,  # noqa: F811
) -> None:
    """With enough orders for two more hours to move the waits, the job keeps a `why`
    table, the core's reasons word for word, shown and downloadable."""
    for i in range(60):
        order(client, f"y{i}", lock=True, variant="S" if i % 3 else "M")
    csrf = signed_in(client)
    patch = (DATA / "more-hours.yaml").read_text()
    r = client.post(
        "/whatif", data={"csrf": csrf, "name": "more-hours", "text": patch}, follow_redirects=False
    )
    url = r.headers["location"]
    html = finished(client, url)
    _, book = store.snapshot()
    scenario = api.load_scenario(DATA / "tiny.yaml")
    other = api.patched(scenario, "more-hours", api.load_patch(DATA / "more-hours.yaml"))
    want = api.compare_scenarios([("in use", scenario), ("more-hours", other)], book).why()
    assert want.height >= 1
    got = pl.read_csv(client.get(f"{url}/why.csv").content, infer_schema_length=0)
    assert got.rows() == want.rows()
    assert "A S waits less under more-hours" in html
    assert "The what-if gives line:l1 more from 2025-01-13" in html
