"""Routing rules and the hub's local delivery, without sockets or Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.realtime.domain import (
    ROOMS,
    Audience,
    CloseCode,
    Delivery,
    close_reason,
    delivery_for_event,
    payload_for,
    revokes,
    room_of,
)
from mercato.realtime.hub import Client, Hub
from mercato.realtime.schemas import BroadcastCreate, client_message


def envelope(type_: str, tenant: uuid.UUID, **data: object) -> dict:
    return {"id": str(uuid.uuid4()), "type": type_, "tenant_id": str(tenant), "occurred_at": "2026-01-01T00:00:00+00:00",
            "correlation_id": "req-1", "aggregate": {"type": type_.split(".")[0], "id": "a1"}, "data": data}


def test_rooms_by_event_type() -> None:
    assert room_of("order.paid") == "orders"
    assert room_of("shipment.delivered") == "orders"
    assert room_of("refund.succeeded") == "orders"
    assert room_of("inventory.low_stock") == "inventory"
    assert room_of("user.registered") is None
    assert room_of("orders.weird") is None  # prefixes end with a dot
    assert set(ROOMS) == {"orders", "inventory"}


def test_customer_view_hides_internal_fields_and_staff_view_is_whole() -> None:
    tenant, customer = uuid.uuid4(), uuid.uuid4()
    d = delivery_for_event(envelope("order.paid", tenant, customer_id=str(customer), total=10))
    assert d is not None and d.rooms == {"orders"} and d.customer_id == customer
    assert d.customer_payload is not None
    assert set(d.customer_payload["event"]) == {"id", "type", "occurred_at", "aggregate", "data"}
    assert d.payload["event"]["correlation_id"] == "req-1" and d.payload["room"] == "orders"


def test_only_order_and_shipment_events_reach_customers() -> None:
    tenant, customer = uuid.uuid4(), uuid.uuid4()
    payment = delivery_for_event(envelope("payment.captured", tenant, customer_id=str(customer)))
    assert payment is not None and payment.customer_id is None  # staff room only
    assert delivery_for_event(envelope("cart.updated", tenant, customer_id=str(customer))) is None
    assert delivery_for_event(envelope("order.paid", tenant, customer_id="not-a-uuid")).customer_id is None


def test_revoking_events_close_that_users_sockets_only() -> None:
    tenant, user, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    d = delivery_for_event(envelope("user.suspended", tenant, user_id=str(user)))
    assert d is not None and d.close_code == CloseCode.FORBIDDEN
    assert revokes(d, Audience(tenant, user, frozenset()))
    assert not revokes(d, Audience(tenant, other, frozenset()))
    assert not revokes(d, Audience(uuid.uuid4(), user, frozenset()))  # same id in another shop
    assert payload_for(d, Audience(tenant, user, frozenset(ROOMS))) is None
    role = delivery_for_event(envelope("user.role_changed", tenant, user_id=str(user)))
    assert role is not None and role.close_code == CloseCode.UNAUTHENTICATED


def test_wire_round_trip() -> None:
    d = delivery_for_event(envelope("order.paid", uuid.uuid4(), customer_id=str(uuid.uuid4())))
    assert d is not None and Delivery.from_wire(d.to_wire()) == d


ids = st.sampled_from([uuid.UUID(int=i) for i in range(1, 4)])


@given(tenant=ids, customer=st.one_of(st.none(), ids), rooms=st.frozensets(st.sampled_from(sorted(ROOMS))),
       everyone=st.booleans(), who_tenant=ids, who_user=ids,
       who_rooms=st.frozensets(st.sampled_from(sorted(ROOMS))))
def test_nothing_ever_crosses_a_tenant_or_reaches_another_customer(tenant, customer, rooms, everyone, who_tenant,
                                                                  who_user, who_rooms) -> None:
    d = Delivery(tenant_id=tenant, payload={"p": "staff"}, rooms=rooms, customer_id=customer,
                 customer_payload={"p": "customer"}, everyone=everyone)
    got = payload_for(d, Audience(who_tenant, who_user, who_rooms))
    if who_tenant != tenant:
        assert got is None
    elif got == {"p": "customer"}:
        assert customer == who_user and not (rooms & who_rooms)
    elif got == {"p": "staff"}:
        assert (rooms & who_rooms) or everyone
    else:
        assert got is None and not (rooms & who_rooms) and not everyone and customer != who_user


def test_close_reasons_fit_a_close_frame() -> None:
    assert close_reason("ok") == "ok"
    long = close_reason("é" * 200)
    assert len(long.encode()) <= 123 and long == "é" * 61


def test_client_messages_are_validated() -> None:
    assert client_message.validate_json('{"type": "subscribe", "room": "orders"}').room == "orders"
    for bad in ('{"type": "subscribe"}', '{"type": "nope"}', '{"type": "ping", "x": 1}', "[]"):
        with pytest.raises(ValueError):
            client_message.validate_json(bad)


def test_broadcast_body_limits() -> None:
    t = uuid.uuid4()
    assert BroadcastCreate(tenant_id=t, message={"a": 1}).message == {"a": 1}
    with pytest.raises(ValueError):
        BroadcastCreate(tenant_id=t, message=" ")
    with pytest.raises(ValueError):
        BroadcastCreate(tenant_id=t, message="x" * 9000)


async def test_local_hub_delivers_by_tenant_and_disconnects_slow_clients() -> None:
    hub = Hub(max_pending=3)
    await hub.start()
    try:
        tenant, other = uuid.uuid4(), uuid.uuid4()
        fast, slow, foreign = Client(tenant, uuid.uuid4()), Client(tenant, uuid.uuid4(), max_pending=3), \
            Client(other, uuid.uuid4())
        for c in (fast, slow, foreign):
            await hub.attach(c)
        assert hub.connections(tenant) == 2 and hub.connections() == 3
        for n in range(4):
            assert hub.deliver(Delivery(tenant_id=tenant, everyone=True, payload={"n": n})) == 2
            if n < 3:  # the fast client reads as it goes
                messages, close = await asyncio.wait_for(fast.next_messages(), 1)
                assert messages == [{"n": n}] and close is None
        assert slow.close_with == (CloseCode.TOO_SLOW, "too many unread messages")
        messages, close = await slow.next_messages()
        assert len(messages) == 3 and close == (CloseCode.TOO_SLOW, "too many unread messages")
        assert foreign.close_with is None
        await hub.detach(foreign)
        assert hub.connections(other) == 0
    finally:
        await hub.close()
    assert fast.close_with == (CloseCode.GOING_AWAY, "server shutting down")
