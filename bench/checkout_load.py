"""Benchmark: checkout throughput (orders/s) and latency of `POST /checkouts/{id}/complete`.

    .venv/bin/python bench/checkout_load.py [--concurrency 16] [--orders 1500] [--variants 40] [--workers 1]
                                            [--separate-worker]

Starts `mercato serve` on 127.0.0.1:8767 (embedded PostgreSQL in bench/.data-checkout), creates a
fresh shop with `mercato tenant create`, and through the HTTP API: `--variants` variants with ample
stock, a tax rate, a shipping method. It then prepares `--orders` guest checkouts (cart with 1–2
lines, address, shipping method, payment method `test` — which reserves the stock) and finally
completes them all with `--concurrency` concurrent clients, paying with the test card. Reported:
orders/s over the completion phase, p50/p95/p99 of `complete`, and the status codes seen.
Only the completion phase is timed; preparation is not part of the figure.

Server configuration: `--workers` uvicorn processes (each with the in-process outbox relay and
jobs, as `mercato serve` runs by default), log level WARNING (no per-request access log), rate
limits off (one client would hit them), the default pool (10 + 10 overflow per process, enough for
16 concurrent requests). ``--separate-worker``: the server runs without the relay and jobs, and a
``mercato worker`` process runs them (production's layout; it competes for the same 2 cores). From a
worktree, run with `PYTHONPATH=<worktree>/src` (the server inherits it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PORT = 8767
BASE = f"http://127.0.0.1:{PORT}"
API = f"{BASE}/api/v1"
DATA = ROOT / "bench" / ".data-checkout"
ADDRESS = {"name": "Bench Buyer", "line1": "1 Market St", "city": "San Francisco", "region": "CA",
           "postal_code": "94105", "country": "US"}


SEPARATE_WORKER = False  # set by --separate-worker


def _env(workers: int) -> dict[str, str]:
    env = {**os.environ, "MERCATO_DATA_DIR": str(DATA), "MERCATO_PORT": str(PORT), "MERCATO_HOST": "127.0.0.1",
           "MERCATO_RATE_LIMIT_ENABLED": "false", "MERCATO_LOG_LEVEL": "WARNING", "MERCATO_WORKERS": str(workers)}
    if SEPARATE_WORKER:
        env["MERCATO_RUN_WORKER_IN_PROCESS"] = "false"
    return env


def start_worker() -> subprocess.Popen:
    """``mercato worker`` as its own process (outbox relay + periodic jobs), as production runs it."""
    cmd = [str(ROOT / ".venv" / "bin" / "mercato"), "worker"]
    return subprocess.Popen(cmd, env=_env(1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_server(workers: int) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv" / "bin" / "mercato"), "serve"]
    proc = subprocess.Popen(cmd, env=_env(workers), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            if httpx.get(f"{BASE}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start")


def create_shop(workers: int) -> tuple[str, str]:
    slug = f"bench{uuid.uuid4().hex[:8]}"
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "mercato"), "tenant", "create", "--name", "Bench shop",
                          "--slug", slug, "--owner-email", f"owner@{slug}.example.com", "--owner-password",
                          "a long bench password 2026"], env=_env(workers), capture_output=True, text=True,
                         check=True).stdout
    secret = re.search(r"secret API key.*?:\s+(\S+)", out)
    public = re.search(r"publishable API key.*?:\s+(\S+)", out)
    if not secret or not public:
        raise SystemExit(f"could not read the keys from `mercato tenant create`:\n{out}")
    return secret.group(1), public.group(1)


async def _ok(r: httpx.Response, *codes: int) -> dict:
    if r.status_code not in (codes or (200, 201)):
        raise SystemExit(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
    return r.json() if r.content else {}


async def setup_shop(c: httpx.AsyncClient, admin: dict[str, str], n_variants: int) -> tuple[list[str], str]:
    loc = await _ok(await c.post(f"{API}/stock-locations", headers=admin, json={"name": "Main", "code": "main"}))
    variants: list[str] = []
    for i in range(0, n_variants, 4):
        p = await _ok(await c.post(f"{API}/products", headers=admin, json={
            "name": f"Bench product {i}", "status": "active", "weight_grams": 250,
            "options": [{"name": "Size", "values": ["S", "M", "L", "XL"]}],
            "variants": [{"sku": f"B{i}-{s}-{uuid.uuid4().hex[:4]}", "options": {"Size": s}, "price_cents": 1500 + i,
                          "currency": "USD"} for s in ("S", "M", "L", "XL")]}))
        variants += [v["id"] for v in p["variants"]]
    for vid in variants:
        await _ok(await c.post(f"{API}/inventory/adjustments", headers=admin, json={
            "variant_id": vid, "location_id": loc["id"], "delta": 1_000_000, "reason": "received"}))
    await _ok(await c.post(f"{API}/tax-rates", headers=admin, json={"name": "CA", "country": "US", "region": "US-CA",
                                                                   "rate": "8.5"}))
    zone = await _ok(await c.post(f"{API}/shipping-zones", headers=admin, json={"name": "US", "countries": ["US"]}))
    m = await _ok(await c.post(f"{API}/shipping-methods", headers=admin, json={
        "zone_id": zone["id"], "name": "Ground", "rate_type": "flat", "currency": "USD", "flat_rate_cents": 500}))
    return variants, m["id"]


async def prepare(c: httpx.AsyncClient, public: dict[str, str], variants: list[str], method_id: str,
                  rng: random.Random) -> tuple[str, dict[str, str]]:
    cart = await _ok(await c.post(f"{API}/carts", headers=public))
    h = {**public, "X-Cart-Token": cart["token"]}
    for vid in rng.sample(variants, k=rng.randint(1, 2)):
        await _ok(await c.post(f"{API}/carts/{cart['id']}/lines", headers=h, json={"variant_id": vid, "quantity": 1}))
    co = await _ok(await c.post(f"{API}/checkouts", headers=h, json={"cart_id": cart["id"],
                                                                    "email": "bench@example.com"}))
    await _ok(await c.put(f"{API}/checkouts/{co['id']}/shipping-address", headers=h, json=ADDRESS))
    await _ok(await c.put(f"{API}/checkouts/{co['id']}/shipping-method", headers=h, json={"method_id": method_id}))
    await _ok(await c.put(f"{API}/checkouts/{co['id']}/payment-method", headers=h, json={"method": "test"}))
    return co["id"], h


def pct(data: list[float], p: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))] if data else float("nan")


async def main(concurrency: int, orders: int, n_variants: int, workers: int) -> None:
    secret, publishable = create_shop(workers)
    admin, public = {"Authorization": f"Bearer {secret}"}, {"Authorization": f"Bearer {publishable}"}
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as c:
        if (await c.post(f"{API}/checkouts", headers=public, json={})).status_code == 404:
            raise SystemExit("this server has no /api/v1/checkouts route (router not included in app.py yet)")
        variants, method_id = await setup_shop(c, admin, n_variants)
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def prep() -> tuple[str, dict[str, str]]:
            async with sem:
                return await prepare(c, public, variants, method_id, rng)

        checkouts = await asyncio.gather(*(prep() for _ in range(orders)))
        print(f"prepared {len(checkouts)} checkouts in {time.perf_counter() - t0:.1f}s")

        latencies: list[float] = []
        codes: dict[int, int] = {}

        async def complete(cid: str, h: dict[str, str]) -> None:
            async with sem:
                t = time.perf_counter()
                r = await c.post(f"{API}/checkouts/{cid}/complete", headers={**h, "Idempotency-Key": uuid.uuid4().hex},
                                 json={"card_number": "4242424242424242"})
                latencies.append((time.perf_counter() - t) * 1000)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1

        t1 = time.perf_counter()
        await asyncio.gather(*(complete(cid, h) for cid, h in checkouts))
        elapsed = time.perf_counter() - t1
    ok = codes.get(200, 0)
    print(f"complete: concurrency={concurrency} orders={orders} workers={workers} variants={n_variants}")
    print(f"  {ok / elapsed:7.1f} orders/s  p50 {pct(latencies, 50):6.1f} ms  p95 {pct(latencies, 95):6.1f} ms  "
          f"p99 {pct(latencies, 99):6.1f} ms  mean {statistics.fmean(latencies):6.1f} ms  "
          f"elapsed {elapsed:.1f}s  status codes {codes}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--orders", type=int, default=1500)
    ap.add_argument("--variants", type=int, default=40)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--separate-worker", action="store_true",
                    help="run the outbox relay and jobs in their own `mercato worker` process, as in production")
    args = ap.parse_args()
    SEPARATE_WORKER = args.separate_worker
    server = start_server(args.workers)
    worker = start_worker() if args.separate_worker else None
    try:
        asyncio.run(main(args.concurrency, args.orders, args.variants, args.workers))
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
