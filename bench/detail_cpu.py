"""Product detail, load-independent figures: statements and in-process CPU per request.

    .venv/bin/python bench/detail_cpu.py [--requests 400]

Runs the real app in this process (no HTTP server, httpx ASGI transport) against the data of
bench/gen_catalog.py, as an anonymous storefront client of the big shop, and prints for the product
detail by slug, uncached (random products: cache misses) and cached (19 popular products):

* the statements each request runs, by statement, with their mean time (the count is exact; the
  times depend on the machine's load);
* the CPU time this process spends per request (``time.process_time``: the app's Python work plus the
  in-process client's, not PostgreSQL's), which other engineers' load barely moves, unlike latency.

It starts the embedded PostgreSQL of bench/.data-catalog itself and stops it on exit: do not run it
while a ``mercato serve`` uses that data directory (that server would lose its database).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MERCATO_DATA_DIR", str(ROOT / "bench" / ".data-catalog"))
os.environ.setdefault("MERCATO_RATE_LIMIT_ENABLED", "false")
os.environ.setdefault("MERCATO_LOG_LEVEL", "WARNING")

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from mercato.app import create_app  # noqa: E402

PRODUCTS = 25_000  # gen_catalog's default; every 20th product is a draft


def live(n: int) -> int:
    return n + 1 if n % 20 == 0 else n


async def main(requests: int) -> None:
    app = create_app(start_background=False)
    async with app.router.lifespan_context(app):
        engine = app.state.db.engine.sync_engine
        timings: list[tuple[str, float]] = []
        started: list[float] = []

        def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            started.append(time.perf_counter())

        def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            timings.append((" ".join(statement.split())[:70], (time.perf_counter() - started.pop()) * 1000))

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        rnd = random.Random(7)
        scenarios: list[tuple[str, Callable[[], int]]] = [
            ("uncached", lambda: live(rnd.randint(1, PRODUCTS))),
            ("cached", lambda: live(rnd.randint(1, 19))),
        ]
        headers = {"X-Mercato-Tenant": "catalog-bench"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for n in list(range(1, 20)) + [rnd.randint(1, PRODUCTS) for _ in range(30)]:  # warm up, fill the cache
                (await client.get(f"/api/v1/products/p-{live(n)}")).raise_for_status()
            for label, pick in scenarios:
                timings.clear()
                wall, cpu = [], []
                for _ in range(requests):
                    w0, c0 = time.perf_counter(), time.process_time()
                    r = await client.get(f"/api/v1/products/p-{pick()}")
                    wall.append((time.perf_counter() - w0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                    r.raise_for_status()
                wall.sort()
                cpu.sort()
                print(f"detail by slug {label:8}  statements/request {len(timings) / requests:.2f}  "
                      f"CPU/request p50 {cpu[requests // 2]:.2f} mean {sum(cpu) / requests:.2f} ms  "
                      f"(in-process latency p50 {wall[requests // 2]:.2f} p95 {wall[int(requests * .95)]:.2f} ms)")
                by_statement: dict[str, list[float]] = collections.defaultdict(list)
                for sql, ms in timings:
                    by_statement[sql].append(ms)
                for sql, times in sorted(by_statement.items(), key=lambda kv: -len(kv[1])):
                    print(f"    {len(times) / requests:4.2f} x  mean {sum(times) / len(times):6.3f} ms  {sql}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400, help="requests per scenario")
    asyncio.run(main(ap.parse_args().requests))
