"""The README runs as written on a fresh machine.

Its Python, in order, in an empty folder after what its comments say to do first (copy the
demo scenario to scenario.yaml, write the demo's orders to orders.csv, and third-shift.yaml
as the README shows it); the book is the demo's, thinned to every 25th order (and the order
the snippet explains) so the test stays quick; the code is the README's, unchanged.

Its shell: every `promiseline` command of every `sh` block is parsed by the command line
itself (each command, option and value the README names exists and converts), and the
commands that need no placeholder and finish in seconds are run for real, in order; every
curl runs, in order, against a service on the demo scenario.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer

from promiseline.cli import app
from promiseline.cli.shared import is_usage_error

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def commands() -> list[list[str]]:
    """Every `promiseline` command of the README's shell blocks, as words: continued lines
    joined, comments dropped, an optional part (`[--seconds 60]`) taken as written."""
    out = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = [w.strip("[]") for w in shlex.split(line, comments=True)]
            if words[:1] == ["promiseline"] and "|" not in words:  # not the list of names
                out.append(words[1:])
    return out


def first_file(name: str) -> str:
    """The README's YAML block that starts with `# name`."""
    return next(b for b in blocks("yaml") if b.startswith(f"# {name}"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from promiseline.demo import demo_orders

    here = tmp_path_factory.mktemp("readme")
    shutil.copy(ROOT / "src/promiseline/data/beijing-ev.yaml", here / "scenario.yaml")
    book = demo_orders()
    explained = re.search(r'explain\(plan, "([^"]+)"\)', README)
    assert explained is not None
    thin = book.filter((pl.int_range(pl.len()) % 25 == 0) | (pl.col("order_id") == explained[1]))
    thin.write_csv(here / "orders.csv")
    (here / "third-shift.yaml").write_text(first_file("third-shift.yaml"), encoding="utf-8")
    return here


def run(folder: Path, name: str, code: str) -> subprocess.CompletedProcess[str]:
    (folder / name).write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, name], cwd=folder, capture_output=True, text=True, timeout=900
    )


def test_the_python_section_runs(folder: Path) -> None:
    code = blocks("python")[0]
    assert 'load_scenario("scenario.yaml")' in code
    done = run(folder, "first.py", code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "It is number" in done.stdout  # e.text() printed
    assert (folder / "out" / "plan.parquet").is_file()


@pytest.mark.slow
def test_the_whole_script_runs(folder: Path) -> None:
    """Dask workers, a what-if, sizing and a backtest: minutes, so only in test-full."""
    code = blocks("python")[1]
    assert 'if __name__ == "__main__":' in code
    done = run(folder, "whole.py", code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "windows" in done.stdout  # the backtest's verdict


def parse(words: list[str]) -> str | None:
    """What the command line says is wrong with `promiseline WORDS`, parsed as it would
    be run (types converted, nothing executed); None if nothing."""
    group = typer.main.get_command(app)
    ctx = group.make_context("promiseline", list(words))
    command = group.get_command(ctx, words[0])  # type: ignore[attr-defined]
    if command is None:
        return f"no command {words[0]!r}"
    try:
        command.make_context(words[0], words[1:], parent=ctx)
    except Exception as e:
        if is_usage_error(e):
            return str(e.format_message())  # type: ignore[attr-defined]
        raise
    return None


def test_every_shell_command_parses() -> None:
    found = commands()
    assert len(found) > 40
    wrong = {" ".join(w): parse(w) for w in found}
    assert {line: why for line, why in wrong.items() if why} == {}


def test_a_removed_option_would_be_caught() -> None:
    assert "no-public-backlog" in (parse(["serve", "--no-public-backlog"]) or "")
    assert "no command" in (parse(["sequenc", "--csplib", "x"]) or "")
    assert parse(["serve", "--port", "8000"]) is None


RUN_AS_WRITTEN = ("roll demo demo", "plan rolled/", "fit demo ", "compare demo demo red-sea")


@pytest.mark.slow
def test_the_quick_shell_commands_run_as_written(tmp_path: Path) -> None:
    """The README's commands that name no placeholder and take seconds, run in order in
    an empty folder with the installed `promiseline`."""
    exe = Path(sys.executable).with_name("promiseline")
    ran = []
    for words in commands():
        line = " ".join(words)
        if not line.startswith(RUN_AS_WRITTEN):
            continue
        done = subprocess.run(
            [str(exe), *words], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"promiseline {line}: {done.stderr[-2000:]}"
        ran.append(line)
    assert len(ran) == 5, ran  # two compares
    assert (tmp_path / "replanned" / "plan.parquet").is_file()


def curls() -> list[list[str]]:
    """The README's curl commands, as words (continued lines joined, comments dropped)."""
    out = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["curl"]:
                out.append(words[1:])
    return out


def test_the_customer_curls_run_in_order(tmp_path: Path) -> None:
    """Each curl of the README, in order, against a service on the demo scenario: the
    placeholders filled from the first answer (PL-... the order id, TOKEN its token,
    $KEY a fresh key), every answer a success. The event stream is opened and its first
    event read."""
    import uuid

    from fastapi.testclient import TestClient

    from promiseline.server import create_app
    from tests.service.conftest import Clock, desk_maker, settings

    found = curls()
    assert len(found) == 7
    scenario = ROOT / "src/promiseline/data/beijing-ev.yaml"
    s = settings(f"sqlite:///{tmp_path / 'curl.db'}", scenario=str(scenario))
    fill = {"$KEY": str(uuid.uuid4())}
    answered = []
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        for words in found:
            method, headers, body, url = "GET", {}, None, ""
            it = iter(words)
            for w in it:
                if w == "-X":
                    method = next(it)
                elif w == "-H":
                    name, _, value = next(it).partition(": ")
                    headers[name] = value
                elif w == "-d":
                    body = next(it)
                elif not w.startswith("-"):
                    url = w
            for k, v in fill.items():
                url = url.replace(k, v)
                headers = {h: x.replace(k, v) for h, x in headers.items()}
            path = url.removeprefix("localhost:8000")
            if "/events" in path:  # Server-Sent Events: the first event is enough
                with c.stream(method, path) as r:
                    assert r.status_code == 200, path
                    assert next(r.iter_lines()).startswith(("event:", "data:", ":", "id:"))
                answered.append(path)
                continue
            r = c.request(method, path, headers=headers, content=body)
            assert r.status_code in (200, 201), (method, path, r.status_code, r.text)
            answered.append(path)
            if "order_id" in r.json() and "token" in r.json():
                fill |= {"PL-...": r.json()["order_id"], "TOKEN": r.json()["token"]}
    assert len(answered) == 7
    assert all("PL-..." not in a and "TOKEN" not in a for a in answered), answered
