"""Reactions to other modules' events (run by the outbox relay; the platform's ``handler`` skips a
redelivered event, and the ``product_sales`` ledger makes each order count at most once anyway).

* ``order.paid``      → every product of the order gains the units sold (``products.sales_count``,
  the key of ``sort=best_selling``). Pay-later orders count when their money is collected (orders
  publishes ``order.paid`` then too).
* ``order.cancelled`` → if that order was counted, its units are taken back (a cancelled paid order
  is refunded in full by orders). An order cancelled before payment was never counted: nothing.

Refunds are not subtracted: ``order.refunded`` carries an amount, not units, and a partial refund
(a discount, a damaged parcel) does not unsell anything. Returns, once they exist, could subtract
returned units the same way (docs/catalog.md).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.search import CACHE_NAMESPACE
from mercato.platform.events import Event, handler

log = logging.getLogger("mercato.catalog.handlers")


def _order_id(event: Event) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.data.get("order_id")))
    except (TypeError, ValueError):
        return None


def _bump_listing_cache(session: AsyncSession, changed: list[uuid.UUID]) -> None:
    if changed:  # best-selling pages are cached like every listing (applied after commit)
        session.info.setdefault("cache_bumps", set()).add((repository.tenant_of(session), CACHE_NAMESPACE))


@handler("order.paid", name="catalog.sales_count")
async def count_order_sales(session: AsyncSession, event: Event) -> None:
    import mercato.orders as orders  # orders sits above the catalog: import at use

    order_id = _order_id(event)
    if order_id is None:
        return
    try:
        order = await orders.get_order(session, order_id)
    except orders.OrderNotFound:
        log.warning("order.paid for an unknown order", extra={"order_id": str(order_id)})
        return
    units: Counter[uuid.UUID] = Counter()
    for line in order.lines:
        units[line.product_id] += line.quantity
    _bump_listing_cache(session, await repository.count_sales(session, order_id, dict(units)))


@handler("order.cancelled", name="catalog.sales_uncount")
async def uncount_order_sales(session: AsyncSession, event: Event) -> None:
    order_id = _order_id(event)
    if order_id is not None:
        _bump_listing_cache(session, await repository.uncount_sales(session, order_id))
