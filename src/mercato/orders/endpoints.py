"""Orders HTTP API: customers (their own orders), guests (lookup by number and email), staff."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

import mercato.pricing as pricing
from mercato.orders import service
from mercato.orders.errors import TenantRequired
from mercato.orders.repository import OrderFilter
from mercato.orders.schemas import (
    CancelRequest,
    CustomerCancelRequest,
    CustomerOrder,
    FulfillmentStatusName,
    Note,
    NoteCreate,
    Order,
    OrderList,
    OrderSettings,
    OrderSettingsUpdate,
    OrderSort,
    OrderStatusName,
    PaymentStatusName,
    ShippingAddressUpdate,
    TransitionRequest,
)
from mercato.platform.auth import PermissionDenied, Public, require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep
from mercato.platform.security import Permission, Principal

router = APIRouter(tags=["orders"])

OwnOrders = Annotated[Principal, require(Permission.ORDERS_OWN)]
OrdersRead = Annotated[Principal, require(Permission.ORDERS_READ)]
OrdersWrite = Annotated[Principal, require(Permission.ORDERS_WRITE)]


def _customer_id(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise PermissionDenied("these are a signed-in customer's own orders: sign in as the customer")
    return principal.user_id


# --------------------------------------------------------------------------- customers


@router.get("/orders/mine", response_model=OrderList, summary="List my orders (newest first)",
            responses=problem_schema_responses(400, 401, 403))
async def list_my_orders(session: SessionDep, principal: OwnOrders, page: PageDep) -> OrderList:
    return await service.list_orders(session, OrderFilter(customer_id=_customer_id(principal)), page,
                                     sort="-placed_at")


@router.get("/orders/mine/{order_id}", response_model=CustomerOrder,
            summary="Get one of my orders with its lines, history and payments",
            responses=problem_schema_responses(401, 403, 404))
async def get_my_order(order_id: uuid.UUID, session: SessionDep, principal: OwnOrders) -> CustomerOrder:
    return await service.get_customer_order(session, _customer_id(principal), order_id)


@router.post("/orders/mine/{order_id}/cancel", response_model=CustomerOrder,
             summary="Cancel my order (pending or paid, within the shop's window): stock released, payment refunded",
             responses=problem_schema_responses(401, 403, 404, 409, 503))
async def cancel_my_order(order_id: uuid.UUID, session: SessionDep, principal: OwnOrders,
                          data: CustomerCancelRequest | None = None) -> CustomerOrder:
    customer_id = _customer_id(principal)
    await service.get_customer_order(session, customer_id, order_id)  # 404 unless it is theirs
    await service.cancel_order(session, order_id, reason=(data.reason if data and data.reason else
                                                          "cancelled by the customer"),
                               actor=principal, by_customer=True)
    return await service.get_customer_order(session, customer_id, order_id)


@router.get("/orders/lookup", response_model=CustomerOrder,
            summary="Find a guest order by its number and email (both must match)",
            responses=problem_schema_responses(404, 422))
async def lookup_order(session: SessionDep, principal: Public,
                       number: Annotated[str, Query(min_length=1, max_length=32)],
                       email: Annotated[str, Query(min_length=3, max_length=320)]) -> CustomerOrder:
    if principal.tenant_id is None:
        raise TenantRequired()
    return await service.lookup_guest_order(session, number, email)


# --------------------------------------------------------------------------- staff


@router.get("/orders", response_model=OrderList, summary="List and filter orders",
            responses=problem_schema_responses(400, 401, 403))
async def list_orders(
        session: SessionDep, _: OrdersRead, page: PageDep,
        status: Annotated[list[OrderStatusName] | None, Query()] = None,
        payment_status: Annotated[list[PaymentStatusName] | None, Query()] = None,
        fulfillment_status: Annotated[list[FulfillmentStatusName] | None, Query()] = None,
        customer_id: Annotated[uuid.UUID | None, Query()] = None,
        email: Annotated[str | None, Query(max_length=320)] = None,
        number: Annotated[str | None, Query(max_length=32)] = None,
        placed_from: Annotated[datetime | None, Query(description="Placed at or after (ISO 8601)")] = None,
        placed_to: Annotated[datetime | None, Query(description="Placed before (ISO 8601)")] = None,
        total_min: Annotated[int | None, Query(ge=0, description="Minor units")] = None,
        total_max: Annotated[int | None, Query(ge=0, description="Minor units")] = None,
        currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
        sort: Annotated[OrderSort, Query(description="placed_at, -placed_at (default), total, -total")] = "-placed_at",
) -> OrderList:
    filters = OrderFilter(status=list(status or []) or None, payment_status=list(payment_status or []) or None,
                          fulfillment_status=list(fulfillment_status or []) or None, customer_id=customer_id,
                          email=email, number=number, placed_from=placed_from, placed_to=placed_to,
                          total_min=total_min, total_max=total_max, currency=currency)
    return await service.list_orders(session, filters, page, sort=sort)


@router.get("/orders/settings", response_model=OrderSettings, summary="Get the shop's order settings",
            responses=problem_schema_responses(401, 403))
async def get_order_settings(session: SessionDep, _: OrdersRead) -> OrderSettings:
    return await service.get_settings(session)


@router.patch("/orders/settings", response_model=OrderSettings,
              summary="Change the self-cancel window and what a failed payment does",
              responses=problem_schema_responses(401, 403, 422))
async def update_order_settings(data: OrderSettingsUpdate, session: SessionDep,
                                principal: OrdersWrite) -> OrderSettings:
    return await service.update_settings(session, data.model_dump(exclude_unset=True), actor=principal)


@router.get("/orders/{order_id}", response_model=Order,
            summary="Get an order with lines, history, notes and payments",
            responses=problem_schema_responses(401, 403, 404))
async def get_order(order_id: uuid.UUID, session: SessionDep, _: OrdersRead) -> Order:
    return await service.get_order(session, order_id)


@router.post("/orders/{order_id}/transitions", response_model=Order,
             summary="Move an order to another status (along the state machine)",
             responses=problem_schema_responses(401, 403, 404, 409, 422, 503))
async def transition_order(order_id: uuid.UUID, data: TransitionRequest, session: SessionDep,
                           principal: OrdersWrite) -> Order:
    await service.transition(session, order_id, data.to, reason=data.reason, actor=principal)
    return await service.get_order(session, order_id)


@router.post("/orders/{order_id}/cancel", response_model=Order,
             summary="Cancel an order with a reason: stock released, coupons returned, payments refunded",
             responses=problem_schema_responses(401, 403, 404, 409, 503))
async def cancel_order(order_id: uuid.UUID, data: CancelRequest, session: SessionDep, principal: OrdersWrite) -> Order:
    await service.cancel_order(session, order_id, reason=data.reason, actor=principal)
    return await service.get_order(session, order_id)


@router.post("/orders/{order_id}/notes", response_model=Note, status_code=201,
             summary="Add a note (internal, or visible to the customer)",
             responses=problem_schema_responses(401, 403, 404))
async def add_note(order_id: uuid.UUID, data: NoteCreate, session: SessionDep, principal: OrdersWrite) -> Note:
    note = await service.add_note(session, order_id, data.body, visibility=data.visibility, actor=principal)
    return Note.model_validate(note, from_attributes=True)


@router.patch("/orders/{order_id}/shipping-address", response_model=Order,
              summary="Change the shipping address (only before shipment)",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def change_shipping_address(order_id: uuid.UUID, data: ShippingAddressUpdate, session: SessionDep,
                                  principal: OrdersWrite) -> Order:
    address = pricing.AddressIn(**data.model_dump(exclude={"reason"}))
    await service.change_shipping_address(session, order_id, address, reason=data.reason, actor=principal)
    return await service.get_order(session, order_id)


@router.post("/orders/{order_id}/mark-paid", response_model=Order,
             summary="Mark a cash-on-delivery order paid (its manual payment is marked paid)",
             responses=problem_schema_responses(401, 403, 404, 409, 503))
async def mark_paid(order_id: uuid.UUID, session: SessionDep, principal: OrdersWrite) -> Order:
    await service.mark_paid(session, order_id, actor=principal)
    return await service.get_order(session, order_id)
