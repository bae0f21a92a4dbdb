"""Surge intake over HTTP: the generator, a plain baseline, and promiseline on both stores.

    python benchmarks/intake_bench.py [--orders 60000] [--concurrency 64] [--skip-pg]

1. The load generator (wrk + Lua, `promiseline surge`) against a no-op endpoint: it must
   reach at least twice the 5,000 orders/s target, or it would be the bottleneck.
2. Baseline: a plain FastAPI endpoint doing one SQLite INSERT + COMMIT per request.
3. promiseline on SQLite (1 process), again with 2,000 event streams held open, and on
   PostgreSQL (1 and 2 worker processes), each surge verified afterwards: every
   acknowledged order in the store exactly once.
4. The quote endpoint, paced near 2,000 requests/s, on a plan of the demo's 533,166
   orders (imported into the store first).

Targets (issue 3): >= 5,000 durably committed orders/s with p99 < 100 ms; quote p99 < 10 ms
at 2,000 requests/s. Everything runs on this machine, generator included.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promiseline.loadtest import SurgeResult, run_surge, verify  # noqa: E402
from promiseline.store.postgres import temporary_database  # noqa: E402

ADMIN_KEY = "bench-admin-key-" + "x" * 32
os.environ.setdefault("PROMISELINE_ADMIN_KEY", ADMIN_KEY)
os.environ.setdefault("PROMISELINE_PEPPER", "bench-pepper")
ADMIN_KEY = os.environ["PROMISELINE_ADMIN_KEY"]
PG_ADMIN = os.environ.get("PROMISELINE_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NOOP_APP = """
from fastapi import FastAPI, Request, Response
app = FastAPI()
@app.post("/v1/orders")
async def noop(request: Request) -> Response:
    await request.body()
    return Response(b'{"order_id":"noop"}', status_code=201, media_type="application/json")
"""
BASELINE_APP = """
import json, os, sqlite3, threading, uuid
from fastapi import FastAPI, Request, Response
app = FastAPI()
conn = sqlite3.connect(os.environ["BASELINE_DB"], check_same_thread=False, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE IF NOT EXISTS orders "
             "(order_id TEXT PRIMARY KEY, key TEXT UNIQUE, body TEXT)")
lock = threading.Lock()
@app.post("/v1/orders")
def create(body: dict, request: Request) -> Response:
    oid = uuid.uuid4().hex
    with lock:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO orders VALUES (?, ?, ?)",
                     (oid, request.headers.get("idempotency-key"), json.dumps(body)))
        conn.execute("COMMIT")
    return Response(json.dumps({"order_id": oid}).encode(), status_code=201,
                    media_type="application/json")
"""
QUOTE_LUA = r"""
wrk.method = "GET"
function delay() return __DELAY__ end
function done(summary, latency, requests)
  io.write(string.format('\nRESULT %d %d %d %d %d %d\n', summary.duration, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 180) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


@contextlib.contextmanager
def server(
    cmd: list[str], env: dict[str, str] | None = None, probe: str = "/healthz"
) -> Iterator[str]:
    port = free_port()
    full = [c.replace("{port}", str(port)) for c in cmd]
    proc = subprocess.Popen(
        full,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + probe, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def uvicorn_app(module_dir: Path, module: str, workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{module}:app",
        "--app-dir",
        str(module_dir),
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def promiseline(db: str, workers: int = 1, scenario: Path | None = None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "promiseline.cli",
        "serve",
        "--db",
        db,
        "--port",
        "{port}",
        "--workers",
        str(workers),
    ]
    return cmd + (["--scenario", str(scenario)] if scenario else [])


@contextlib.contextmanager
def open_streams(url: str, n: int) -> Iterator[int]:
    """n Server-Sent Event streams held open (one per order, created first)."""
    port = int(url.rsplit(":", 1)[1])
    socks = []
    with httpx.Client(base_url=url, timeout=30) as c:
        orders = [
            c.post(
                "/v1/orders",
                json={"model": "YU7", "variant": "Max", "market": "CN-east"},
                headers={"Idempotency-Key": f"stream-{i}-0123456789abcdef"},
            ).json()
            for i in range(n)
        ]
    try:
        for i, o in enumerate(orders):
            # 20 streams per client address (the service's cap): many customers, from
            # addresses of the loopback range
            source = (f"127.0.{1 + i // 5000}.{1 + i // 20 % 250}", 0)
            s = socket.create_connection(("127.0.0.1", port), source_address=source)
            path = f"/v1/orders/{o['order_id']}/events?token={o['token']}"
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(s)
        time.sleep(1)
        with httpx.Client(base_url=url) as c:  # the service's own count
            text = c.get("/metrics", headers={"X-API-Key": ADMIN_KEY}).text
        line = next(ln for ln in text.splitlines() if ln.startswith("promiseline_event_streams "))
        yield int(float(line.split()[1]))
    finally:
        for s in socks:
            s.close()


def row(name: str, r: SurgeResult, note: str = "") -> str:
    return (
        f"| {name} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | "
        f"{r.failed + sum(r.errors.values()):,} | {note} |"
    )


def quote_bench(url: str, rate: int, seconds: int, option: str = "paint=black") -> str:
    wrk = shutil.which("wrk")
    assert wrk
    delay_ms = 20  # each connection waits this long between requests
    conns = math.ceil(rate * (delay_ms + 0.7) / 1000)  # about `rate` requests/s in all
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(QUOTE_LUA.replace("__DELAY__", str(delay_ms)))
        script = f.name
    q = f"/v1/quote?model=YU7&variant=Max&market=CN-east&option={option}"
    out = subprocess.run(
        [wrk, "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "-s", script, url + q],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script)
    dur, n, errs, p50, p95, p99 = map(int, out.split("RESULT ")[1].split())
    return (
        f"| quote, paced | {n / (dur / 1e6):,.0f} req/s | {p50 / 1e3:.2f} | "
        f"{p95 / 1e3:.2f} | {p99 / 1e3:.2f} | {errs} | GET /v1/quote |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=60_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-quote", action="store_true")
    args = ap.parse_args()
    n, c = args.orders, args.concurrency
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; {n:,} orders per run, {c} connections, wrk 2 threads"
    )
    print("| run | orders/s | p50 ms | p95 ms | p99 ms | errors | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    tmp = Path(tempfile.mkdtemp(prefix="promiseline-bench-"))
    (tmp / "noop.py").write_text(NOOP_APP)
    (tmp / "baseline.py").write_text(BASELINE_APP)

    with server(uvicorn_app(tmp, "noop", workers=2), probe="/docs") as url:
        r = run_surge(url, n * 2, c)
        print(row("generator vs no-op FastAPI (2 workers)", r, "must be >= 10,000/s"), flush=True)

    with server(
        uvicorn_app(tmp, "baseline"), {"BASELINE_DB": str(tmp / "base.db")}, probe="/docs"
    ) as url:
        base = run_surge(url, n, c)
        print(row("baseline: INSERT + COMMIT per request (SQLite)", base), flush=True)

    db = f"sqlite:///{tmp / 'orders.db'}"
    with server(promiseline(db)) as url:
        r = run_surge(url, n, c)
        v = verify(db, r.acks)
        print(
            row(
                "promiseline, SQLite, 1 process",
                r,
                f"{r.rate / base.rate:.1f}x baseline; {'verified' if v.ok else v.line()}",
            ),
            flush=True,
        )

    sdb = f"sqlite:///{tmp / 'streams.db'}"
    with server(promiseline(sdb)) as url, open_streams(url, 2000) as streams:
        r = run_surge(url, n, c)
        v = verify(sdb, r.acks)
        print(
            row(
                f"promiseline, SQLite, 1 process, {streams:,} event streams open",
                r,
                f"{r.rate / base.rate:.1f}x baseline; {'verified' if v.ok else v.line()}",
            ),
            flush=True,
        )

    if not args.skip_pg:
        for workers in (1, 2):
            with (
                temporary_database(PG_ADMIN, "promiseline_bench") as pg,
                server(promiseline(pg, workers)) as url,
            ):
                r = run_surge(url, n, c)
                v = verify(pg, r.acks)
                print(
                    row(
                        f"promiseline, PostgreSQL, {workers} worker(s)",
                        r,
                        f"{r.rate / base.rate:.1f}x baseline; {'verified' if v.ok else v.line()}",
                    ),
                    flush=True,
                )

    if not args.skip_quote:
        from promiseline.demo import demo_orders, demo_scenario
        from promiseline.io.order_book import write_orders

        qdb = f"sqlite:///{tmp / 'quote.db'}"
        write_orders(demo_orders(), tmp / "demo.parquet")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "promiseline.cli",
                "import",
                str(tmp / "demo.parquet"),
                "--db",
                qdb,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        del demo_scenario
        # wrk stands for thousands of customers from one address: above the quote rate
        # one address is allowed (200/s by default)
        with server([*promiseline(qdb), "--limit-quotes", "100000/second"]) as url:
            print(quote_bench(url, 2000, 15) + " (plan of 533,166 orders)", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
