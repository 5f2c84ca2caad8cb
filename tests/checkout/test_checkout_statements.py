"""``complete`` runs a bounded number of SQL statements (so the hot path cannot quietly regress)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from checkout_helpers import complete, ready_checkout, shop_setup
from commerce_helpers import make_product
from sqlalchemy import event

#: Statements of one ``complete`` request (test card, two lines, shipping, tax), everything included:
#: the principal (API key) lookup, the tenant's set_config, pricing, stock hold, order, payment, outbox, audit,
#: and the Idempotency-Key claim and store (their own short transactions, on the idempotency engine).
#: BEGIN/COMMIT are not counted. Was 56 (52 + 4) before the hot path was trimmed.
MAX_STATEMENTS_PER_COMPLETE = int(os.environ.get("MERCATO_MAX_COMPLETE_STATEMENTS", "0")) or 47


@contextmanager
def counting(*engines) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(re.sub(r"\s+", " ", statement)[:160])

    targets = list({id(e.sync_engine): e.sync_engine for e in engines}.values())
    for target in targets:
        event.listen(target, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for target in targets:
            event.remove(target, "before_cursor_execute", before)


async def test_complete_runs_a_bounded_number_of_statements(client, app, db, tenant) -> None:  # type: ignore[no-untyped-def]
    setup = await shop_setup(client, tenant)
    a = await make_product(db, tenant.id, price_cents=2000, stock=50)
    b = await make_product(db, tenant.id, price_cents=1500, stock=50)
    co = await ready_checkout(client, tenant, [(a["variant_id"], 2), (b["variant_id"], 1)],
                              method_id=setup["method_id"], payment_method="test")
    claims = getattr(app.state, "idempotency_db", None) or db
    with counting(db.engine, claims.engine) as seen:
        r = await complete(client, co)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["payment_status"] == "paid"
    if os.environ.get("MERCATO_PRINT_STATEMENTS"):
        print(f"\n{len(seen)} statements:\n" + "\n".join(seen))
    assert len(seen) <= MAX_STATEMENTS_PER_COMPLETE, f"{len(seen)} statements:\n" + "\n".join(seen)
