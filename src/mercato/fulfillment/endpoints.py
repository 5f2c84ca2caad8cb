"""Fulfillment HTTP API: allocation and shipments (staff), tracking updates (carriers, staff),
a customer's parcels of their own order."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.fulfillment import service
from mercato.fulfillment.auth import FulfillmentRead, FulfillmentWrite, OwnOrders, ShipmentsTrack
from mercato.fulfillment.errors import TenantRequired
from mercato.fulfillment.schemas import (
    Allocation,
    CustomerShipmentList,
    LabelCreate,
    ShipmentCreate,
    ShipmentList,
    ShipmentStatusName,
    ShipmentTransition,
    ShipRequest,
    TrackingEventIn,
)
from mercato.fulfillment.schemas import Shipment as ShipmentOut
from mercato.platform.auth import PermissionDenied, Public
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep
from mercato.platform.security import Principal

router = APIRouter(tags=["fulfillment"])


@router.get("/orders/lookup/shipments", response_model=CustomerShipmentList,
            summary="A guest's parcels with tracking: the order number and the email it was placed with must match",
            responses=problem_schema_responses(404, 422))
async def guest_shipments(session: SessionDep, principal: Public,
                          number: Annotated[str, Query(min_length=1, max_length=32)],
                          email: Annotated[str, Query(min_length=3, max_length=320)]) -> CustomerShipmentList:
    if principal.tenant_id is None:
        raise TenantRequired()
    return await service.guest_shipments(session, number, email)


@router.get("/orders/{order_id}/fulfillment", response_model=Allocation,
            summary="Allocation: per line what is left to ship and where it is held; suggested parcels",
            responses=problem_schema_responses(401, 403, 404))
async def get_allocation(order_id: uuid.UUID, session: SessionDep, _: FulfillmentRead) -> Allocation:
    return await service.allocation(session, order_id)


@router.post("/orders/{order_id}/shipments", response_model=ShipmentOut, status_code=status.HTTP_201_CREATED,
             summary="Create a shipment (some or all units, from one stock location, with a carrier)",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def create_shipment(order_id: uuid.UUID, data: ShipmentCreate, session: SessionDep,
                          principal: FulfillmentWrite) -> ShipmentOut:
    return await service.create_shipment(session, order_id, data, actor=principal)


@router.get("/orders/{order_id}/shipments", response_model=list[ShipmentOut],
            summary="The order's shipments with their history", responses=problem_schema_responses(401, 403, 404))
async def order_shipments(order_id: uuid.UUID, session: SessionDep, _: FulfillmentRead) -> list[ShipmentOut]:
    return await service.shipments_of_order(session, order_id)


@router.get("/shipments", response_model=ShipmentList, summary="List shipments (newest first)",
            responses=problem_schema_responses(400, 401, 403))
async def list_shipments(session: SessionDep, _: FulfillmentRead, page: PageDep,
                         status_: Annotated[list[ShipmentStatusName] | None, Query(alias="status")] = None,
                         order_id: Annotated[uuid.UUID | None, Query()] = None,
                         carrier: Annotated[str | None, Query(max_length=50)] = None,
                         tracking_number: Annotated[str | None, Query(max_length=100)] = None) -> ShipmentList:
    return await service.list_shipments(session, page, status=status_, order_id=order_id, carrier=carrier,
                                        tracking_number=tracking_number)


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut, summary="Get a shipment with its history",
            responses=problem_schema_responses(401, 403, 404))
async def get_shipment(shipment_id: uuid.UUID, session: SessionDep, _: FulfillmentRead) -> ShipmentOut:
    return await service.get_shipment(session, shipment_id)


@router.post("/shipments/{shipment_id}/transitions", response_model=ShipmentOut,
             summary="Warehouse steps: picked, packed, or cancelled (before shipping)",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def transition_shipment(shipment_id: uuid.UUID, data: ShipmentTransition, session: SessionDep,
                              principal: FulfillmentWrite) -> ShipmentOut:
    return await service.transition(session, shipment_id, data.to, reason=data.reason, actor=principal)


@router.post("/shipments/{shipment_id}/label", response_model=ShipmentOut,
             summary="Create the carrier label of a packed parcel (202: the carrier failed, a retry is scheduled)",
             responses={**problem_schema_responses(401, 403, 404, 409, 422, 503),
                        202: {"description": "The carrier failed; the label is retried with backoff"}})
async def create_label(shipment_id: uuid.UUID, session: SessionDep, principal: FulfillmentWrite, response: Response,
                       data: LabelCreate | None = None) -> ShipmentOut:
    shipment, outcome = await service.create_label(session, shipment_id, data, actor=principal)
    if outcome == "retry":
        response.status_code = status.HTTP_202_ACCEPTED
    return await service.view(session, shipment)


@router.get("/shipments/{shipment_id}/label", summary="The label document (PDF)",
            response_class=Response, responses={**problem_schema_responses(401, 403, 404),
                                                200: {"content": {"application/pdf": {}}}})
async def get_label(shipment_id: uuid.UUID, session: SessionDep, _: FulfillmentRead) -> Response:
    media_type, content, shipment = await service.label_document(session, shipment_id)
    name = f"label-{shipment.order_number}-{shipment.sequence}.pdf"
    return Response(content=content, media_type=media_type,
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.post("/shipments/{shipment_id}/ship", response_model=ShipmentOut,
             summary="The parcel left: the order's lines are shipped, the stock is sold at the parcel's location",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def ship_shipment(shipment_id: uuid.UUID, session: SessionDep, principal: FulfillmentWrite,
                        data: ShipRequest | None = None) -> ShipmentOut:
    shipment = await service.ship(session, shipment_id, actor=principal, reason=data.reason if data else None)
    return await service.view(session, shipment)


@router.post("/shipments/{shipment_id}/tracking-events", response_model=ShipmentOut,
             summary="Report a tracking update (carrier integration or staff); a repeated event_id is ignored",
             responses={**problem_schema_responses(401, 403, 404, 409, 422),
                        201: {"description": "The update was recorded"}})
async def tracking_event(shipment_id: uuid.UUID, data: TrackingEventIn, session: SessionDep,
                         principal: ShipmentsTrack, response: Response) -> ShipmentOut:
    source = "staff" if principal.kind == "user" else "carrier"
    shipment, new = await service.record_tracking(session, shipment_id, data, actor=principal, source=source)
    response.status_code = status.HTTP_201_CREATED if new else status.HTTP_200_OK
    return await service.view(session, shipment)


def _customer_id(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise PermissionDenied("these are a signed-in customer's own orders: sign in as the customer")
    return principal.user_id


@router.get("/orders/mine/{order_id}/shipments", response_model=CustomerShipmentList,
            summary="My order's parcels with carrier, tracking number and link, and tracking updates",
            responses=problem_schema_responses(401, 403, 404))
async def my_shipments(order_id: uuid.UUID, session: SessionDep, principal: OwnOrders) -> CustomerShipmentList:
    return await service.customer_shipments(session, _customer_id(principal), order_id)

