"""serve's start-up errors, key, import and dump against a database."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.cli.conftest import ORDERS, TINY, run


def test_import_dump_and_key(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Orders import into a database whole and dump back; a key is made there."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 0
    assert "imported 40 orders" in out
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 1  # the same ids again: all rejected rows, nothing written twice
    assert "imported 0 orders" in out
    code, out, _ = run(capsys, monkeypatch, "dump", str(tmp_path / "all.csv"), "--db", db)
    assert code == 0
    assert out == f"dumped 40 orders to {tmp_path / 'all.csv'}\n"
    assert pl.read_csv(tmp_path / "all.csv").height == 40
    code, out, _ = run(capsys, monkeypatch, "key", "planner", "--db", db)
    assert code == 0
    assert "pl_planner_" in out


def test_export_is_the_old_name_of_dump(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`export` (now a word for shipping abroad) still dumps the database, with a one-line
    note on stderr, and is no longer listed in --help."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    code, out, err = run(capsys, monkeypatch, "export", str(tmp_path / "old.csv"), "--db", db)
    assert code == 0
    assert out == f"exported 40 orders to {tmp_path / 'old.csv'}\n"
    assert err.count("\n") == 1
    assert "'promiseline export' is now 'promiseline dump'" in err
    run(capsys, monkeypatch, "dump", str(tmp_path / "new.csv"), "--db", db)
    assert (tmp_path / "old.csv").read_bytes() == (tmp_path / "new.csv").read_bytes()
    _, listed, _ = run(capsys, monkeypatch, "--help")
    assert "\n  dump " in listed  # a command in the list
    assert "\n  export " not in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--db", "postgresql://app:secret@127.0.0.1:1/orders"),
            "database postgresql://app:***@127.0.0.1:1/orders",
        ),
        (("--db", "sqlite:////no/such/folder/x.db"), "database sqlite:////no/such/folder/x.db"),
        (("--db", "mysql://x"), "unknown database URL"),
        (("--admin-key", "short"), "at least 32 characters, got 5"),
        (("--webhook", "http://127.0.0.1:9/h"), "PROMISELINE_WEBHOOK_SECRET"),
    ],
)
def test_serve_start_up_errors_are_one_line(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, args: tuple[str, ...], message: str
) -> None:
    """A service that cannot start says why in one line naming the database (no password),
    exit code 2, before any worker starts."""
    monkeypatch.delenv("PROMISELINE_ADMIN_KEY", raising=False)
    monkeypatch.delenv("PROMISELINE_WEBHOOK_SECRET", raising=False)
    code, _, err = run(capsys, monkeypatch, "serve", *args)
    assert code == 2
    assert message in err
    assert ":secret@" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("secret", ["whsec_%%%not-base64%%%", "whsec_" + "A" * 20])
def test_a_bad_webhook_secret_is_one_start_up_line(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, secret: str
) -> None:
    """A webhook secret that is not base64, or too short a key, stops `serve` with one line
    naming PROMISELINE_WEBHOOK_SECRET (exit code 2), no traceback."""
    monkeypatch.delenv("PROMISELINE_ADMIN_KEY", raising=False)
    monkeypatch.setenv("PROMISELINE_WEBHOOK_SECRET", secret)
    code, _, err = run(capsys, monkeypatch, "serve", "--webhook", "http://127.0.0.1:9/h")
    assert code == 2
    assert "PROMISELINE_WEBHOOK_SECRET" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_key_and_import_into_a_database(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`key` makes a key the service accepts (same pepper); `import` checks rows against the
    database's own scenario and moves the book's version."""
    from promiseline.service.access import Access
    from promiseline.store import open_store

    db = f"sqlite:///{tmp_path / 'k.db'}"
    monkeypatch.setenv("PROMISELINE_PEPPER", "cli-pepper")
    code, out, _ = run(capsys, monkeypatch, "key", "planner", "--db", db)
    assert code == 0
    secret = out.strip().split(": ")[1]
    store = open_store(db)
    assert Access(store, b"cli-pepper").role(secret) == "planner"
    store.put_scenario(Path(TINY).read_text())
    store.close()
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--accept-rejected")
    assert code == 0, out
    store = open_store(db)
    assert store.versions().book == 1
    store.close()


def test_import_rejects_orders_already_stored(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Importing a book again imports nothing twice: the stored ids are rejected rows
    (exit 1), the new ones go in."""
    db = f"sqlite:///{tmp_path / 'i.db'}"
    head = Path(ORDERS).read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join(head[:6]) + "\n")
    assert run(capsys, monkeypatch, "import", str(part), "--db", db, "--scenario", TINY)[0] == 0
    code, out, err = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 1
    assert "row 2 order 'o00': order id already in the database" in err
    assert f"imported {len(head) - 6:,} orders" in out


def test_in_memory_sqlite_is_refused(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An in-memory SQLite URL would give every connection its own empty database."""
    code, _, err = run(capsys, monkeypatch, "serve", "--db", "sqlite:///:memory:")
    assert code == 2
    assert "in-memory database" in err


def test_serve_futures_out_of_range_is_refused(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--futures (or PROMISELINE_FUTURES) is checked before anything starts."""
    code, _, err = run(capsys, monkeypatch, "serve", "--futures", "9999")
    assert code == 2
    assert "--futures" in err
    monkeypatch.setenv("PROMISELINE_FUTURES", "-1")
    code, _, err = run(capsys, monkeypatch, "serve")
    assert code == 2
    assert "--futures" in err


def test_import_progress_is_all_or_nothing_and_idempotent(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A progress file with one wrong row writes nothing and names the row; without it,
    every order moves on in one go, and the same file again changes nothing."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    good = "o00,built,l1,2025-01-02,,2025-01-02T18:00\no01,delivered,l1,2025-01-03,,\n"
    head = "order_id,status,line,build_date,sailing_id,at\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(head + good + "o02,built,l9,2025-01-03,,\no03,shipped,,,,\n")
    day = ("--as-of", "2025-01-06", "--scenario", TINY)
    code, _, err = run(capsys, monkeypatch, "import", "--progress", str(bad), "--db", db, *day)
    assert code == 2
    assert "2 rows wrong, nothing was written" in err
    assert "row 4 order 'o02': line: 'l9' does not build model 'A'" in err
    assert "row 5 order 'o03': shipped: say where and when it was built" in err
    assert _statuses(tmp_path, capsys, monkeypatch, db)["o00"] == "locked"  # nothing written
    ok = tmp_path / "ok.csv"
    ok.write_text(head + good)
    args = ("import", "--progress", str(ok), "--db", db, *day)
    code, out, _ = run(capsys, monkeypatch, *args)
    assert (code, out.strip()) == (0, f"progress: 2 orders moved on, 0 already so, in {db}")
    code, out, _ = run(capsys, monkeypatch, *args)
    assert (code, out.strip()) == (0, f"progress: 0 orders moved on, 2 already so, in {db}")
    got = _statuses(tmp_path, capsys, monkeypatch, db)
    assert (got["o00"], got["o01"]) == ("built", "delivered")
    future = tmp_path / "future.csv"
    future.write_text(head + "o02,built,l1,2025-01-09,,\n")
    code, _, err = run(capsys, monkeypatch, "import", "--progress", str(future), "--db", db, *day)
    assert code == 2
    assert "build_date: 2025-01-09 is in the future" in err


def _statuses(tmp_path: Path, capsys, monkeypatch, db: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = tmp_path / "dump.csv"
    run(capsys, monkeypatch, "dump", str(out), "--db", db)
    t = pl.read_csv(out)
    return dict(zip(t["order_id"], t["status"], strict=True))


@pytest.mark.slow
def test_the_demo_book_is_imported_as_it_stands_on_the_day(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """`import demo` rolls the demo's story to the day (here --as-of) along its plan:
    what it built by then is history, the rest waits."""
    db = f"sqlite:///{tmp_path / 'd.db'}"
    code, out, _ = run(capsys, monkeypatch, "import", "demo", "--db", db, "--as-of", "2025-09-01")
    assert code == 0
    assert "the demo's book rolled to 2025-09-01 along its plan:" in out
    got = _statuses(tmp_path, capsys, monkeypatch, db)
    assert {"delivered", "built", "scheduled", "locked"} <= set(got.values())


def test_import_without_a_scenario_says_which_it_checks(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A new database and no --scenario: the import says it checks against the demo."""
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--accept-rejected")
    assert code == 0
    assert "no --scenario and none in the database: checking against the embedded demo" in out


def test_backtest_of_a_database_without_deliveries_says_so(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Nothing delivered yet: one line says there is nothing to score, and no empty
    charts are written."""
    db = f"sqlite:///{tmp_path / 'new.db'}"
    run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    code, out, _ = run(capsys, monkeypatch, "backtest", "--db", db, "-o", str(tmp_path / "bt"))
    assert code == 0
    assert "Nothing to score yet in " in out
    assert not (tmp_path / "bt").exists()
