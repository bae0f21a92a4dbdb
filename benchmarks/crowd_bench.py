"""A launch night's crowd on one service: does every caller still get served?

    python benchmarks/crowd_bench.py [--rate 1000] [--seconds 60] [--streams 2000]

Imports the demo book as it stands on `--to` (533k orders; by default 2026-07-31, after
the book's last lock: on an earlier day the book holds orders locked later, and a new
order locked that morning goes ahead of them, a queue-jumping quote that rebuilds the
state from every booking ahead of it, ~40 ms), serves it (one worker, SQLite, plan
stand-in windows: --futures 0), and for `--seconds` runs at once:

- anonymous intake paced at `--rate` new orders/s (wrk, `promiseline surge`);
- `--streams` event streams held open (customers from many loopback addresses);
- a planner running a capacity sizing, and two planners downloading the whole book as CSV;
- one abusive client at its limits (quotes as fast as it can, links and streams past its
  caps) from an address of its own;
- a well-behaved customer from another address, every 100 ms: /healthz, a new order and a
  read of it.

Prints p50/p95/p99 of the customer's calls and of /healthz (target: p99 under 200 ms),
what the abuser got (how many 429s), the peak resident memory of the service process and
of its job processes (bound: the job memory limit, 4,096 MB by default), and checks that
every acknowledged order is stored exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecast_bench import paced
from intake_bench import ADMIN_KEY, PG_ADMIN, open_streams, promiseline, server
from plan_bench import cpu_model
from promiseline.loadtest import SurgeResult, verify
from promiseline.store.postgres import temporary_database
from roll_service_bench import rolled_store

ADMIN = ADMIN_KEY  # open_streams reads the service's count of streams with it
ORDER = {"model": "YU7", "variant": "Max", "market": "CN-east"}


def client(url: str, source: str) -> httpx.Client:
    """A client whose connections come from `source` (an address of the loopback range)."""
    return httpx.Client(
        base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=source)
    )


def signed_in(url: str, source: str) -> httpx.Client:
    """A planner signed in to the dashboard with a new planner key."""
    with httpx.Client(base_url=url, timeout=30) as admin:
        key = admin.post("/v1/keys", json={"role": "planner"}, headers={"X-API-Key": ADMIN})
        key.raise_for_status()
    c = client(url, source)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert csrf is not None
    r = c.post("/login", data={"key": key.json()["key"], "csrf": csrf[1]})
    assert r.status_code in (200, 303), r.text
    c.headers["X-CSRF-Token"] = csrf[1]
    return c


def customer(url: str, stop: threading.Event, out: dict[str, list[float]]) -> None:
    """Every 100 ms: /healthz, then a new order and a read of it (milliseconds each)."""
    with client(url, "127.0.0.4") as c:
        i = 0
        while not stop.is_set():
            t = time.perf_counter()
            ok = c.get("/healthz").status_code == 200
            out["healthz"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            key = f"crowd-customer-{i:06d}-0123456789"
            r = c.post("/v1/orders", json=ORDER | {"lock": True}, headers={"Idempotency-Key": key})
            ok &= r.status_code in (200, 201)
            if r.status_code in (200, 201):
                o = r.json()
                out["acks"].append((key, o["order_id"]))  # type: ignore[arg-type]
                got = c.get(f"/v1/orders/{o['order_id']}", headers={"X-Order-Token": o["token"]})
                ok &= got.status_code == 200
            out["order_and_read"].append((time.perf_counter() - t) * 1000)
            if not ok:
                out["failed"].append(float(i))
            i += 1
            time.sleep(max(0.0, 0.1 - (time.perf_counter() - t)))


def abuser(url: str, stop: threading.Event, out: dict[str, int]) -> None:
    """Quotes as fast as one connection goes, and links past the caps, from one address."""
    with client(url, "127.0.0.3") as c:
        o = c.post(
            "/v1/orders", json=ORDER, headers={"Idempotency-Key": "crowd-abuser-0123456789abcdef"}
        ).json()
        tok = {"X-Order-Token": o["token"]}
        q = {"model": "YU7", "variant": "Max", "market": "CN-east"}
        while not stop.is_set():
            for _ in range(20):
                code = c.get("/v1/quote", params=q).status_code
                out[str(code)] = out.get(str(code), 0) + 1
            code = c.post(f"/v1/orders/{o['order_id']}/page-link", headers=tok).status_code
            out[f"link {code}"] = out.get(f"link {code}", 0) + 1


def planners(url: str, out: dict[str, object]) -> None:
    """One planner starts a sizing; two download the whole book as CSV at once."""
    sizing = signed_in(url, "127.0.0.5")
    r = sizing.post(
        "/sizing",
        data={
            "target": "p90_wait<=300d",
            "lever": ["shift", "part"],
            "csrf": sizing.headers["X-CSRF-Token"],
        },
    )
    out["sizing_started"] = r.status_code
    job = r.headers.get("location") or str(r.url)

    def download(who: str, source: str) -> None:
        c = signed_in(url, source)
        t = time.perf_counter()
        r = c.get("/download/orders.csv")
        out[f"download {who}"] = (r.status_code, len(r.content), round(time.perf_counter() - t, 1))

    ts = [
        threading.Thread(target=download, args=(w, s))
        for w, s in (("a", "127.0.0.6"), ("b", "127.0.0.7"))
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out["job"] = job


def memory(pid: int, stop: threading.Event, out: dict[str, float]) -> None:
    """Peak resident MB of the service process (uvicorn's worker) and of job processes."""
    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            for p in [root, *root.children(recursive=True)]:
                name = "job" if "multiprocessing" in " ".join(p.cmdline()) else "service"
                mb = p.memory_info().rss / 2**20
                out[name] = max(out.get(name, 0.0), mb)
        except psutil.Error:
            pass
        time.sleep(0.5)


def under_load(
    url: str,
    pid: int,
    args: argparse.Namespace,
    seen: dict[str, list[float]],
    abuse: dict[str, int],
    studies: dict[str, object],
    peak: dict[str, float],
) -> SurgeResult:
    """The paced intake, with the customer, the abuser, the planners and the memory probe
    beside it."""
    stop = threading.Event()
    background = [
        threading.Thread(target=customer, args=(url, stop, seen)),
        threading.Thread(target=abuser, args=(url, stop, abuse)),
        threading.Thread(target=memory, args=(pid, stop, peak)),
        threading.Thread(target=planners, args=(url, studies)),
    ]
    for t in background:
        t.start()
    result: SurgeResult = paced(url, args.rate, args.seconds)
    stop.set()
    for t in background:
        t.join()
    return result


def pcts(xs: list[float]) -> str:
    if not xs:
        return "none"
    p = np.percentile(xs, [50, 95, 99])
    return f"p50 {p[0]:.1f} ms, p95 {p[1]:.1f} ms, p99 {p[2]:.1f} ms ({len(xs)} calls)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--pg", action="store_true", help="PostgreSQL (PROMISELINE_PG_ADMIN)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--to", type=dt.date.fromisoformat, default=dt.date(2026, 7, 31))
    ap.add_argument("--base", help="the rolled demo database, kept between runs (made if missing)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="promiseline-crowd-"))
    to = args.to
    with contextlib.ExitStack() as stack:
        if args.pg:  # a database of its own, the book imported into it
            db = stack.enter_context(temporary_database(PG_ADMIN, "promiseline_crowd"))
            rolled_store_at(db, to)
        else:
            base = Path(args.base) if args.base else tmp / "base.db"
            if not base.exists():
                rolled_store(base, to)
            shutil.copy(base, tmp / "crowd.db")
            db = f"sqlite:///{tmp / 'crowd.db'}"
        crowd(db, to, args)


def rolled_store_at(db: str, to: dt.date) -> None:
    cli = [sys.executable, "-m", "promiseline.cli"]
    subprocess.run([*cli, "import", "demo", "--db", db, "--as-of", str(to)], check=True)


def crowd(db: str, to: dt.date, args: argparse.Namespace) -> None:
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; demo book as of {to}")
    env = {"PROMISELINE_ADMIN_KEY": ADMIN, "PROMISELINE_FUTURES": "0"}
    cmd = [
        *promiseline(db, args.workers),
        "--as-of",
        dt.datetime.combine(to, dt.time(9)).isoformat(),
    ]
    with server(cmd, env) as url:
        pid = next(
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if "serve" in (p.info["cmdline"] or []) and db in (p.info["cmdline"] or [])
        )
        seen: dict[str, list[float]] = {
            "healthz": [],
            "order_and_read": [],
            "acks": [],
            "failed": [],
        }
        abuse: dict[str, int] = {}
        studies: dict[str, object] = {}
        peak: dict[str, float] = {}
        with open_streams(url, args.streams) as held:
            result = under_load(url, pid, args, seen, abuse, studies, peak)
    acks = result.acks + seen["acks"]  # type: ignore[operator]
    v = verify(db, acks)  # type: ignore[arg-type]
    print(
        f"intake: {result.acked:,} of {result.orders:,} acknowledged, "
        f"{result.acked / result.duration_s:,.0f}/s, p99 {result.p99_ms:.1f} ms; "
        f"{held:,} event streams open"
        + (f" in the worker that counted (of {args.workers})" if args.workers > 1 else "")
    )
    print(f"customer order + read: {pcts(seen['order_and_read'])}; failed {len(seen['failed'])}")
    print(f"/healthz: {pcts(seen['healthz'])}")
    print(f"abuser: {dict(sorted(abuse.items()))}")
    print(f"planners: {studies}")
    print(f"peak resident memory: {', '.join(f'{k} {v:,.0f} MB' for k, v in peak.items())}")
    print(f"stored: {v}")


if __name__ == "__main__":
    main()
