"""Exchanges: the returned units' value becomes a credit toward a replacement order for the
variants the customer chose (priced now, taxed like the original order, no shipping charged).
The difference is charged on the replacement order (a payment for it) or refunded on the
original payments. Everything — order, stock reservation, payment or refund — in one transaction:
a declined card leaves nothing behind."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.catalog as catalog
import mercato.inventory as inventory
import mercato.orders as orders
import mercato.payments as payments
import mercato.pricing as pricing
import mercato.taxes as taxes
from mercato.platform.security import Principal
from mercato.returns import domain, repository, schemas
from mercato.returns.errors import ExchangeInvalid, ExchangeNotPossible, ExchangePaymentFailed, ReturnLineInvalid
from mercato.returns.models import ReturnLine, ReturnRefund
from mercato.returns.service.common import complete_if_settled, get_view, load_locked, publish
from mercato.returns.service.refunds import pay_back

#: Stock of a replacement is held this long before the order's payment renews it (same transaction).
_HOLD = timedelta(minutes=15)


async def _price(session: AsyncSession, order: orders.Order, lines: list[tuple[ReturnLine, int]],
                 refs: dict[uuid.UUID, catalog.VariantRef]) -> pricing.Totals:
    address = pricing.Address.from_dict(order.shipping_address or {}) if order.shipping_address else None
    classes = {refs[x.exchange_variant_id].tax_class for x, _ in lines if x.exchange_variant_id}
    rates = await taxes.rates_for(session, address, classes) if address else {}
    return pricing.price_cart(
        [pricing.PriceLine(key=x.id, unit_price=refs[x.exchange_variant_id].price_cents, quantity=qty,
                           product_id=refs[x.exchange_variant_id].product_id,
                           category_id=refs[x.exchange_variant_id].category_id,
                           tax_class=refs[x.exchange_variant_id].tax_class)
         for x, qty in lines if x.exchange_variant_id],
        currency=order.currency, tax_rates=rates, prices_include_tax=order.prices_include_tax)


async def exchange(session: AsyncSession, return_id: uuid.UUID, data: schemas.ExchangeRequest, *,
                   actor: Principal | None = None) -> schemas.Return:
    """Make the replacement order of an approved (advance exchange) or received return."""
    r = await load_locked(session, return_id)
    if r.status not in domain.EXCHANGEABLE or r.replacement_order_id is not None:
        raise ExchangeNotPossible(f"the return is {r.status}" + (" and its exchange was made" if
                                                                 r.replacement_order_id else ""),
                                  return_status=r.status)
    lines = [x for x in await repository.lines_of(session, r.tenant_id, [r.id]) if x.exchange_variant_id]
    received = r.status == domain.ReturnStatus.RECEIVED
    wanted = [(x, x.quantity_received if received else x.quantity) for x in lines]
    wanted = [(x, q) for x, q in wanted if q > 0]
    if not wanted:
        raise ExchangeNotPossible("no line of this return asks for an exchange (or none arrived)")
    order = await orders.get_order(session, r.order_id)
    by_line = {x.id: x for x in order.lines}
    if received:
        credit = sum(x.value for x, _ in wanted)
    else:
        credit = sum(domain.units_value(by_line[x.order_line_id].total, by_line[x.order_line_id].quantity,
                                        by_line[x.order_line_id].quantity_returned, q) for x, q in wanted)
    refs = await catalog.get_variant_refs(session, {x.exchange_variant_id for x, _ in wanted if x.exchange_variant_id})
    for i, (x, _) in enumerate(wanted):
        ref = refs.get(x.exchange_variant_id)  # type: ignore[arg-type]
        if ref is None or not ref.sellable or ref.currency != order.currency:
            raise ReturnLineInvalid(f"the variant asked for instead of {x.sku} can no longer be ordered",
                                    field=f"lines[{i}].exchange_variant_id")
    totals = await _price(session, order, wanted, refs)
    settle = domain.exchange_settlement(totals.total, credit)
    if settle.charge > 0 and data.payment_method is None:
        raise ExchangeInvalid(f"the replacement costs {settle.charge} more than the returned items: give a "
                              "payment_method to charge the difference", field="payment_method", charge=settle.charge)

    reference = r.rma_number or f"return:{r.id}"
    reservation = await inventory.reserve(session, [(x.exchange_variant_id, q) for x, q in wanted],  # type: ignore[misc]
                                          expires_in=_HOLD, reference=f"exchange:{reference}", actor=actor)
    shares = domain.allocate_credit(settle.credit_used, [lt.total for lt in totals.lines])
    draft_lines = []
    for (x, q), lt, share in zip(wanted, totals.lines, shares, strict=True):
        ref = refs[x.exchange_variant_id]  # type: ignore[index]
        draft_lines.append(orders.OrderLineDraft(
            variant_id=ref.id, product_id=ref.product_id, sku=ref.sku, product_name=ref.product_name,
            variant_title=ref.title, quantity=q, unit_price=lt.unit_price, subtotal=lt.subtotal,
            discount=lt.discount + share, tax=lt.tax, total=lt.total - share,
            tax_rate=format((lt.tax_rate / 100).normalize(), "f") if lt.tax_rate else None))
    placed = await orders.place_order(session, orders.OrderDraft(
        currency=order.currency, email=order.email, lines=tuple(draft_lines), subtotal=totals.subtotal,
        discount_total=totals.discount_total + settle.credit_used, shipping_total=0, shipping_discount=0,
        tax_total=totals.tax_total, total=settle.charge, prices_include_tax=order.prices_include_tax,
        shipping_address=order.shipping_address, billing_address=order.billing_address or order.shipping_address,
        customer_id=order.customer_id, reservation_id=reservation.id,
        payment_method=data.payment_method if settle.charge else None, locale=order.locale,
        metadata={"exchange_for_order_id": str(order.id), "return_id": str(r.id), "rma_number": r.rma_number,
                  "exchange_credit": settle.credit_used}), actor=actor)

    if settle.charge > 0:
        result = await payments.start_payment(
            session, order_id=placed.id, amount=settle.charge, currency=order.currency,
            method=data.payment_method or "test", payment_data=data.payment_data or {},
            idempotency_key=f"return-exchange-{r.id}")
        status = result.payment.status
        if status == "captured":
            await orders.record_payment(session, placed.id, outcome="captured", amount=settle.charge,
                                        payment_id=result.payment.id, actor=actor)
        elif not (data.payment_method == "manual" and status == "pending"):
            # Nothing stays: the replacement order, its stock hold and the attempt roll back together.
            raise ExchangePaymentFailed(f"the difference of {settle.charge} could not be charged (payment {status})",
                                        payment_status=status, failure_code=result.payment.failure_code)
    else:
        await orders.record_payment(session, placed.id, outcome="captured", amount=0, actor=actor,
                                    reason=f"paid with the exchange credit of return {reference}")
    if settle.refund > 0:
        done = await pay_back(session, r, settle.refund, key="exchange-difference", actor=actor,
                              reason=f"exchange difference, return {reference}")
        session.add(ReturnRefund(tenant_id=r.tenant_id, return_id=r.id, kind="exchange_difference",
                                 idempotency_key="exchange-difference", amount=settle.refund, payments=done))
    r.replacement_order_id, r.replacement_order_number = placed.id, placed.number
    r.exchange_credit, r.exchange_charged, r.exchange_refunded = credit, settle.charge, settle.refund
    await session.flush()
    await publish(session, "return.exchanged", r, replacement_order_id=str(placed.id),
                  replacement_order_number=placed.number, credit=credit, charged=settle.charge,
                  refunded=settle.refund)
    await complete_if_settled(session, r, actor=actor)
    return await get_view(session, r)
