"""In-process cost of listing/search requests with facets: wall time and Python CPU per call.

    PYTHONPATH=$PWD/src .venv/bin/python bench/facets_inprocess.py [--n 40] [--rounds 2] [--profile]
    PYTHONPATH=$PWD/src .venv/bin/python bench/facets_inprocess.py --statements [--n 30]

Runs ``search_products`` directly (no HTTP, no cache) against the bench data of bench/gen_catalog.py,
in a tenant transaction as the runtime role, like the endpoint does. Python CPU
(``time.process_time``) is this process only, so it is nearly independent of what else loads the
machine; the SQL runs in PostgreSQL processes and shows in the wall time. Prints p50/p95 wall and
mean CPU per call for each case; ``--profile`` prints the top of a cProfile of one case.
``--statements`` times only the facet statement (its execution on the connection, min and p50) of a
search for each bench query and of the whole shop, all four facets: the SQL part alone.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / ".data-catalog"
QUERIES = ["shirt", "cotton jacket", "merino", "navy", "leather boots", "jack", "vintage denim jeans"]
FACETS = ["brand", "category", "price", "options"]


def cases(rnd: random.Random) -> dict[str, object]:
    from mercato.catalog.search import SearchParams

    def miss() -> int:
        return 10_000_000 + rnd.randrange(10_000_000)

    return {
        "facets list (category)": lambda: SearchParams(categories=[f"dept-{rnd.randint(1, 20)}"], facets=FACETS,
                                                       max_price=miss()),
        "facets search (q)": lambda: SearchParams(q=rnd.choice(QUERIES), facets=FACETS, max_price=miss()),
        "facets whole shop": lambda: SearchParams(facets=FACETS, max_price=miss()),
        "facets brand+options": lambda: SearchParams(brands=[f"brand-wool-{rnd.randint(1, 9)}"],
                                                     options={"Size": [rnd.choice(["S", "M", "L"])]},
                                                     facets=FACETS, max_price=miss()),
        "list (no facets)": lambda: SearchParams(categories=[f"dept-{rnd.randint(1, 20)}"], max_price=miss()),
    }


async def statements(db: object, tenant: uuid.UUID, n: int) -> None:
    """Execution time of the facet statement alone, per query (min and p50 of ``n``)."""
    from sqlalchemy import event

    from mercato.catalog.search import SearchParams, search_products

    started: list[float] = []
    took: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        started.append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        t0 = started.pop()
        if "AS facet" in statement:
            took.append((time.perf_counter() - t0) * 1000)

    engine = db.engine.sync_engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    for q in [*QUERIES, None]:
        took.clear()
        for _ in range(n + 3):
            async with db.tenant_transaction(tenant) as s:  # type: ignore[attr-defined]
                page = await search_products(s, tenant, SearchParams(q=q, facets=FACETS, max_price=100_000_000),
                                             admin=False)
        runs = took[3:]
        print(f"facet statement {q or '(whole shop)':22s} {page.total:6d} matches   min {min(runs):6.2f} "
              f"p50 {statistics.median(runs):6.2f} ms (n={n})", flush=True)


async def main(n: int, rounds: int, profile: bool, only: str | None, sql_only: bool = False) -> None:
    os.environ.setdefault("MERCATO_DATA_DIR", str(DATA_DIR))
    from mercato.catalog.search import search_products
    from mercato.platform.db import Database
    from mercato.platform.embedded import resolve_database
    from mercato.settings import get_settings

    urls = await resolve_database(get_settings())
    db = Database(urls.runtime, pool_size=2, max_overflow=0)
    creds = json.loads((Path(os.environ["MERCATO_DATA_DIR"]) / "catalog-bench.json").read_text())
    tenant = uuid.UUID(creds["catalog-bench"]["id"])
    rnd = random.Random(42)
    table = cases(rnd)
    try:
        if sql_only:
            await statements(db, tenant, n)
            return
        for _ in range(5):  # warm the pool, the compiled caches and the tenant's pages
            for make in table.values():
                async with db.tenant_transaction(tenant) as s:
                    await search_products(s, tenant, make(), admin=False)  # type: ignore[operator]
        for r in range(rounds):
            for name, make in table.items():
                if only and only not in name:
                    continue
                walls, cpus = [], []
                prof = cProfile.Profile() if profile and r == 0 else None
                for _ in range(n):
                    params = make()  # type: ignore[operator]
                    w0, c0 = time.perf_counter(), time.process_time()
                    if prof:
                        prof.enable()
                    async with db.tenant_transaction(tenant) as s:
                        await search_products(s, tenant, params, admin=False)
                    if prof:
                        prof.disable()
                    walls.append((time.perf_counter() - w0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
                walls.sort()
                print(f"round {r + 1} {name:24s} wall p50 {statistics.median(walls):6.1f} "
                      f"p95 {walls[int(0.95 * (len(walls) - 1))]:6.1f} ms   python cpu mean "
                      f"{statistics.mean(cpus):5.1f} ms (n={n})", flush=True)
                if prof:
                    pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    finally:
        await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--only", help="run the cases whose name contains this")
    ap.add_argument("--statements", action="store_true", help="time the facet statement alone, per query")
    args = ap.parse_args()
    asyncio.run(main(args.n, args.rounds, args.profile, args.only, args.statements))
