"""Catalog load benchmark: listing, search, facets, autocomplete and product detail at 100k variants.

    .venv/bin/python bench/gen_catalog.py            # once: 25k products × 4 variants (+2 small shops)
    .venv/bin/python bench/catalog_load.py [--concurrency 8] [--duration 10] [--workers 1] [--only detail]

Starts ``mercato serve`` on 127.0.0.1:8766 against bench/.data-catalog (or uses --url of a running
server), then runs each scenario for a fixed duration at a fixed concurrency (httpx, loopback only)
as an anonymous storefront client (``X-Mercato-Tenant``). Two cache regimes per endpoint:

* ``uncached``: every request carries a random but result-neutral price bound, so it misses the
  read cache and runs the SQL (the worst case: a cold cache or a write-heavy shop);
* ``cached``: a small fixed set of URLs, as a storefront's popular pages would be.

Prints requests/s and p50/p95/p99 latency per scenario. ``--only WORD`` (repeatable) runs only the
scenarios whose name contains one of the words, e.g. ``--only detail`` or ``--only search --only facets``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlparse

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import LOOPBACK, Result

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / ".data-catalog"
PORT = 8766
QUERIES = ["shirt", "cotton jacket", "merino", "navy", "leather boots", "jack", "vintage denim jeans", "shrit"]


def start_server(workers: int) -> subprocess.Popen:
    env = {**os.environ, "MERCATO_DATA_DIR": str(DATA_DIR), "MERCATO_PORT": str(PORT), "MERCATO_HOST": "127.0.0.1",
           "MERCATO_RATE_LIMIT_ENABLED": "false", "MERCATO_LOG_LEVEL": "WARNING", "MERCATO_WORKERS": str(workers)}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "mercato"), "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start")


async def run(name: str, next_url: Callable[[], str], *, headers: dict[str, str], concurrency: int,
              duration: float, warmup: float = 1.0) -> Result:
    """Like loadgen.run, but each request asks ``next_url()`` for its URL."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        async def one() -> float:
            url = next_url()
            if (urlparse(url).hostname or "") not in LOOPBACK:
                raise SystemExit("refusing to load a non-loopback host")
            t0 = time.perf_counter()
            r = await client.get(url)
            dt = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code}: {r.text[:200]}")
            return dt

        end_warm = time.perf_counter() + warmup
        while time.perf_counter() < end_warm:
            await asyncio.gather(*(one() for _ in range(concurrency)))
        stop = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                try:
                    latencies.append(await one())
                except Exception as exc:
                    errors += 1
                    if errors <= 3:
                        print(f"  error: {exc}", file=sys.stderr)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return Result(name, len(latencies), errors, elapsed, latencies)


def live(n: int) -> int:
    """gen_catalog makes every 20th product a draft (invisible to the storefront)."""
    return n - 1 if n % 20 == 0 else n


def scenarios(base: str, products: int) -> list[tuple[str, Callable[[], str]]]:
    rnd = random.Random(42)
    api = f"{base}/api/v1/products"

    def u(path: str, **params: object) -> str:
        return f"{path}?{urlencode(params)}" if params else path

    def miss() -> dict[str, int]:
        # A price ceiling far above every price: same rows, a distinct cache key.
        return {"max_price": 10_000_000 + rnd.randrange(10_000_000)}

    dept = lambda: f"dept-{rnd.randint(1, 20)}"  # noqa: E731
    cached_lists = [u(api, limit=20), u(api, limit=20, sort="price"), u(api, category="dept-3", limit=20),
                    u(api, brand="brand-wool-3", sort="best_selling", limit=20)]
    cached_search = [u(api, q=q, limit=20) for q in QUERIES]
    return [
        ("list newest        uncached", lambda: u(api, limit=20, **miss())),
        ("list page 50       uncached", lambda: u(api, limit=20, offset=1000, **miss())),
        ("list cat+price     uncached", lambda: u(api, category=dept(), sort="price", limit=20, **miss())),
        ("list options+tags  uncached", lambda: u(api, options=f"Size:{rnd.choice(['S', 'M', 'L'])}", tags="eco",
                                                 limit=20, **miss())),
        ("list               cached", lambda: rnd.choice(cached_lists)),
        ("search q           uncached", lambda: u(api, q=rnd.choice(QUERIES[:-1]), limit=20, **miss())),
        ("search typo(fuzzy) uncached", lambda: u(api, q=rnd.choice(["shrit", "jakcet", "merin0"]), limit=20,
                                                 **miss())),
        ("search q           cached", lambda: rnd.choice(cached_search)),
        ("facets list        uncached", lambda: u(api, category=dept(), facets="brand,category,price,options",
                                                 limit=20, **miss())),
        ("facets search      uncached", lambda: u(api, q=rnd.choice(QUERIES[:-1]), facets="brand,category,price,options",
                                                 limit=20, **miss())),
        ("autocomplete       uncached", lambda: u(f"{api}/autocomplete", q=rnd.choice(["me", "cot", "jac", "wo", "bo",
                                                                                        "sh", "lin", "de"])
                                                 + "abcdefghijklmnopqrstuvwxyz"[rnd.randrange(26)])),
        ("detail by slug     mostly uncached", lambda: f"{api}/p-{live(rnd.randint(1, products))}"),
        ("detail by slug     cached", lambda: f"{api}/p-{live(rnd.randint(1, 20))}"),
    ]


async def main(base: str, concurrency: int, duration: float, only: list[str] | None = None) -> None:
    creds = json.loads((DATA_DIR / "catalog-bench.json").read_text())
    shop = creds["catalog-bench"]
    headers = {"X-Mercato-Tenant": shop["slug"]}
    async with httpx.AsyncClient() as c:
        r = await c.get(f"{base}/api/v1/products", params={"limit": 1, "with_total": "true"}, headers=headers)
        r.raise_for_status()
        print(f"shop {shop['slug']}: {shop['products']:,} products, {shop['variants']:,} variants; "
              f"{r.json()['total']:,} visible to the storefront")
    print(f"concurrency={concurrency} duration={duration}s per scenario; client and server share this machine")
    results = []
    chosen = [(n, f) for n, f in scenarios(base, shop["products"]) if not only or any(w in n for w in only)]
    if not chosen:
        raise SystemExit(f"no scenario matches {only}")
    for name, next_url in chosen:
        res = await run(name, next_url, headers=headers, concurrency=concurrency, duration=duration)
        results.append(res)
        print(res.line(), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--url", help="use a running server (loopback) instead of starting one")
    ap.add_argument("--only", action="append", metavar="WORD",
                    help="run only the scenarios whose name contains WORD (repeatable), e.g. detail")
    args = ap.parse_args()
    server = None if args.url else start_server(args.workers)
    try:
        asyncio.run(main(args.url or f"http://127.0.0.1:{PORT}", args.concurrency, args.duration, args.only))
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
