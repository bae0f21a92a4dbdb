"""The pages on the demo book, measured in a real browser (Debian's chromium, Playwright).

    python benchmarks/web_bench.py [--db URL] [--runs 5] [--shots docs/screenshots]

The demo's orders (533,166) are imported into a fresh SQLite file (or the database given)
and `promiseline serve` starts on it. Measured:

- the overview's first screen: from navigation to the three charts drawn (a uPlot canvas
  in each), in the browser, signed in (target: under 1 s);
- an orders page: the server's answer to GET /orders (all orders, then filtered by
  status, by model and by the constraint that holds them back, then the next page),
  with the session cookie (target: under 200 ms);
- page weight: the bytes of script each page loads, as shipped and gzip-compressed
  (target: under 300 KB compressed).

With --shots, it also saves the README's screenshots of both pages (desktop and phone).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def start(db: str, port: int, key: str, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"PROMISELINE_ADMIN_KEY": key, "PROMISELINE_PEPPER": "bench-pepper"}
    cmd = [sys.executable, "-m", "promiseline.cli", "serve", "--db", db, "--port", str(port)]
    cmd += ["--futures", "0"]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    proc.kill()
    sys.exit(f"the service did not start: {log.read_text()[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="a database that holds the demo book already")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shots", type=Path, help="save screenshots of the pages here")
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    tmp = Path(tempfile.mkdtemp())
    db = args.db or f"sqlite:///{tmp / 'web.db'}"
    if not args.db:
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "promiseline.cli", "import", "demo", "--db", db],
            check=True,
            capture_output=True,
        )
        print(f"imported the demo book in {time.perf_counter() - t:.1f} s")
    key = secrets.token_urlsafe(32)
    port = 8700 + secrets.randbelow(200)
    base = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    proc = start(db, port, key, tmp / "serve.log")
    print(f"service up (planned the book) in {time.perf_counter() - t:.1f} s")
    try:
        measure(base, key, args.runs, args.shots)
    finally:
        proc.terminate()
        proc.wait(30)


def measure(base: str, key: str, runs: int, shots: Path | None) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        scripts: dict[str, int] = {}

        def on_response(r):  # type: ignore[no-untyped-def]
            if r.request.resource_type == "script":
                scripts[r.url] = len(r.body())

        page.on("response", on_response)
        page.goto(f"{base}/login")
        page.fill("input[name=key]", key)
        page.click("button[type=submit]")
        page.wait_for_selector("#chart-backlog canvas", timeout=60_000)  # first, cold
        firsts = []
        for _ in range(runs):
            page.goto(f"{base}/")
            for chart in ("chart-backlog", "chart-months", "chart-binding"):  # the page's
                # policy forbids eval, so no wait_for_function with a string
                page.wait_for_selector(f"#{chart} canvas", timeout=30_000)
            firsts.append(page.evaluate("performance.now()"))
        weight = sum(scripts.values())
        zipped = sum(len(gzip.compress(httpx.get(u).content)) for u in scripts)
        print(
            f"overview first screen (navigation to three charts drawn): median "
            f"{statistics.median(firsts):.0f} ms, max {max(firsts):.0f} ms over {runs} loads"
        )
        print(
            f"script per page: {weight / 1024:.0f} KB as shipped, {zipped / 1024:.0f} KB gzip "
            f"({len(scripts)} files)"
        )
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        with httpx.Client(base_url=base, cookies=cookies) as client:
            answer = client.get("/overview.json")
            print(f"overview.json: {len(answer.content) / 1024:.0f} KB")
            for label, path in (
                ("all orders", "/orders"),
                ("status=locked", "/orders?status=locked"),
                ("model=YU7", "/orders?model=YU7"),
                ("bound_by=line:p2-final", "/orders?bound_by=line:p2-final"),
                ("next page", "/orders?after=SU7-0100000"),
                ("an order's page", "/orders/YU7-0123456"),
            ):
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    r = client.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (path, r.status_code)
                print(
                    f"GET {path} ({label}): median {statistics.median(times):.0f} ms, "
                    f"max {max(times):.0f} ms"
                )
        if shots is not None:
            screenshots(browser, page, base, shots)
        browser.close()


def screenshots(browser, page, base: str, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The overview, the orders, an order's page; a new customer's page on a phone (the
    Chinese one needs a CJK font on the machine, e.g. Debian's fonts-wqy-microhei)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, path in (
        ("overview", "/"),
        ("orders", "/orders?bound_by=mix:yu7-max-share"),
        ("order", "/orders/YU7-0123456"),
        ("sequence", "/sequence?line=p2-final&day=2027-01-05"),
    ):
        page.goto(f"{base}{path}")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / f"{name}.png"), full_page=name != "overview")
    made = httpx.post(
        f"{base}/v1/orders",
        json={"model": "YU7", "variant": "Max", "market": "CN-east", "lock": True},
        headers={"Idempotency-Key": secrets.token_hex(16)},
    ).json()
    for lang in ("en", "zh-CN"):
        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, locale=lang
        )
        p = phone.new_page()
        p.goto(f"{base}/o/{made['order_id']}")
        p.fill("input[name=token]", made["token"])
        p.click("form[action$='/open'] button")
        p.wait_for_timeout(800)
        p.screenshot(path=str(out / f"customer-{lang}.png"), full_page=True)
        phone.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
