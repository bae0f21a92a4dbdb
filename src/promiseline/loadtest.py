"""The surge tool: replay a launch surge against a running service with wrk, then check it.

wrk (C, LuaJIT) is the load generator so that the generator is not the bottleneck: a
Lua script gives every request its own Idempotency-Key, records each acknowledged
order id, and stops its thread after its share of orders. Afterwards the store is read
to prove that every acknowledged order is there exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promiseline.errors import PromiselineError

LUA = r"""
local counter, acked, failed, quota, prefix, outdir = 0, 0, 0, 0, "", "."
local file, stopped
local bodies = __BODIES__
local headers = {["Content-Type"] = "application/json"}

function setup(thread)
  __threads = (__threads or 0) + 1
  thread:set("id", __threads)
end

function init(args)
  -- the orders split exactly: the first `extra` threads send one more than `base`
  local base, extra = tonumber(args[1]), tonumber(args[4])
  quota, prefix, outdir = base + ((id <= extra) and 1 or 0), args[2], args[3]
  file = io.open(outdir .. "/acks-" .. id .. ".csv", "w")
  file:setvbuf("line")  -- every acknowledgement reaches the file, even after a stop
end

__DELAY__
function request()
  counter = counter + 1
  headers["Idempotency-Key"] = prefix .. "-" .. id .. "-" .. counter .. "-surge-key"
  return wrk.format("POST", nil, headers, bodies[(counter % #bodies) + 1])
end

function response(status, headers, body)
  if status == 201 or status == 200 then
    acked = acked + 1
    local oid = string.match(body, '"order_id"%s*:%s*"([^"]+)"')
    local key = headers["idempotency-key"] or headers["Idempotency-Key"] or ""
    if oid then file:write(key, ",", oid, ",", status, "\n") end
  else
    failed = failed + 1
  end
  if not stopped and acked + failed >= quota then
    stopped = true
    local mark = io.open(outdir .. "/done-" .. id, "w")
    mark:write(acked, ",", failed, "\n")
    mark:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nRESULT {"duration_us":%d,"requests":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass
class SurgeResult:
    orders: int  # asked for
    acked: int  # got 200/201 with an order id
    failed: int  # other statuses
    errors: dict[str, int]
    duration_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    acks: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (key, order id)

    @property
    def order_ids(self) -> list[str]:
        return [oid for _, oid in self.acks]

    @property
    def rate(self) -> float:
        return self.acked / self.duration_s if self.duration_s else 0.0

    def lines(self) -> list[str]:
        errs = ", ".join(f"{k} {v}" for k, v in self.errors.items() if v) or "none"
        return [
            f"{self.acked:,} orders acknowledged of {self.orders:,} in {self.duration_s:.2f} s: "
            f"{self.rate:,.0f} orders/s",
            f"latency p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms",
            f"non-2xx responses {self.failed:,}; socket errors: {errs}",
        ]


def default_bodies(count: int = 64, seed: int = 1) -> list[str]:
    """Order bodies drawn from the demo's YU7 launch mix."""
    import random

    from promiseline.demo import DEMANDS

    rng = random.Random(seed)
    yu7 = DEMANDS[-1]
    out = []
    for _ in range(count):
        body: dict[str, Any] = {
            "model": yu7.model,
            "variant": rng.choices(list(yu7.variant_mix), list(yu7.variant_mix.values()))[0],
            "market": rng.choices(list(yu7.market_mix), list(yu7.market_mix.values()))[0],
            "options": {
                k: rng.choices(list(v), list(v.values()))[0] for k, v in yu7.option_mix.items()
            },
        }
        out.append(json.dumps(body, separators=(",", ":")))
    return out


def _lua_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_surge(
    url: str,
    orders: int,
    concurrency: int,
    *,
    threads: int = 2,
    bodies: list[str] | None = None,
    path: str = "/v1/orders",
    key_prefix: str | None = None,
    timeout_s: float = 900.0,
    delay_ms: int = 0,
) -> SurgeResult:
    """POST `orders` new orders with `concurrency` connections; wait for every answer.
    With `delay_ms` each connection waits that long between requests (a paced load:
    about concurrency x 1000 / (delay_ms + latency) orders a second), else as fast as
    the service answers."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise PromiselineError(
            "the surge tool needs wrk (Debian package 'wrk'); `make test` installs it"
        )
    if orders < threads:
        threads = max(1, orders)
    concurrency = max(concurrency, threads)
    bodies = bodies or default_bodies()
    prefix = key_prefix or f"surge-{os.getpid()}-{int(time.time() * 1000)}"
    base, extra = divmod(orders, threads)  # per thread, summing to `orders` exactly
    with tempfile.TemporaryDirectory(prefix="promiseline-surge-") as tmp:
        script = Path(tmp) / "surge.lua"
        lua_bodies = "{" + ",".join(_lua_string(b) for b in bodies) + "}"
        pace = f"function delay() return {int(delay_ms)} end" if delay_ms > 0 else ""
        script.write_text(LUA.replace("__BODIES__", lua_bodies).replace("__DELAY__", pace))
        cmd = [
            wrk,
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{int(timeout_s)}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url.rstrip("/") + path,
            "--",
            str(base),
            prefix,
            tmp,
            str(extra),
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None:
            done = len(list(Path(tmp).glob("done-*")))
            if done >= threads or time.perf_counter() - started > timeout_s:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=60)
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise PromiselineError(f"wrk gave no result: {err.strip() or out.strip()}")
        res = json.loads(line.removeprefix("RESULT "))
        acks: list[tuple[str, str]] = []
        acked = failed = 0
        for f in Path(tmp).glob("acks-*.csv"):
            for row in f.read_text().splitlines():
                key, oid, _ = row.split(",")
                acks.append((key, oid))
        for f in Path(tmp).glob("done-*"):
            a, b = f.read_text().strip().split(",")
            acked, failed = acked + int(a), failed + int(b)
    return SurgeResult(
        orders=orders,
        acked=len(acks),
        failed=failed,
        errors={k: int(res[k]) for k in ("connect", "read", "write", "timeout")},
        duration_s=res["duration_us"] / 1e6,
        p50_ms=res["p50_us"] / 1e3,
        p95_ms=res["p95_us"] / 1e3,
        p99_ms=res["p99_us"] / 1e3,
        max_ms=res["max_us"] / 1e3,
        acks=acks,
    )


@dataclass(frozen=True, slots=True)
class Verification:
    acked: int
    missing: list[str]  # acknowledged order ids not in the store
    wrong_key: list[str]  # keys whose stored order is not the one acknowledged
    duplicate_acks: int  # one order id acknowledged for two different keys

    @property
    def ok(self) -> bool:
        return not self.missing and not self.wrong_key and self.duplicate_acks == 0

    def line(self) -> str:
        if self.ok:
            return (
                f"verified: all {self.acked:,} acknowledged orders are in the store, "
                "each exactly once, each under its own key"
            )
        return (
            f"VERIFICATION FAILED: {len(self.missing):,} acknowledged orders missing, "
            f"{len(self.wrong_key):,} keys answered with another order, "
            f"{self.duplicate_acks:,} ids acknowledged twice"
        )


def verify(db_url: str, acks: list[tuple[str, str]]) -> Verification:
    """Every acknowledged order is stored once, and its key maps to it (retries included)."""
    from promiseline.store import open_store

    store = open_store(db_url, migrate=False)
    try:
        stored = set(store.order_ids())
        by_key = store.idempotency_map([k for k, _ in acks])
    finally:
        store.close()
    ids = [oid for _, oid in acks]
    first: dict[str, str] = {}
    duplicates = 0
    for key, oid in acks:  # a retried key must get the same order again
        if first.setdefault(oid, key) != key:
            duplicates += 1
    return Verification(
        acked=len(acks),
        missing=[oid for oid in ids if oid not in stored],
        wrong_key=[k for k, oid in acks if by_key.get(k) != oid],
        duplicate_acks=duplicates,
    )
