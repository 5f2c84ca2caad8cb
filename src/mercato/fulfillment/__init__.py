"""Fulfillment: allocation, pick/pack, shipments (split per stock location), carriers with labels
and a circuit breaker, label retries with backoff, tracking and delivery. Public face (see
docs/fulfillment.md).

Other modules and integrations use :mod:`mercato.fulfillment.carriers` through
:func:`register_carrier` (a carrier integration, or a test's fake third party), and the use
cases below. The retry job is :func:`run_retry_labels` (registered by the app).
"""

from mercato.fulfillment import carriers
from mercato.fulfillment import handlers as _handlers  # noqa: F401  (registers event subscribers)
from mercato.fulfillment.carriers import Carrier, CarrierError, Label, LabelRequest
from mercato.fulfillment.carriers import register as register_carrier
from mercato.fulfillment.carriers import unregister as unregister_carrier
from mercato.fulfillment.config import FulfillmentSettings, get_fulfillment_settings
from mercato.fulfillment.domain import ShipmentStatus
from mercato.fulfillment.errors import CarrierUnavailable, ShipmentNotFound
from mercato.fulfillment.schemas import Shipment
from mercato.fulfillment.service import (
    allocation,
    create_label,
    create_shipment,
    customer_shipments,
    get_shipment,
    list_shipments,
    record_tracking,
    ship,
    shipments_of_order,
    transition,
)
from mercato.fulfillment.tasks import retry_interval_seconds, retry_labels, run_retry_labels

__all__ = ["Carrier", "CarrierError", "CarrierUnavailable", "FulfillmentSettings", "Label", "LabelRequest", "Shipment",
           "ShipmentNotFound", "ShipmentStatus", "allocation", "carriers", "create_label", "create_shipment",
           "customer_shipments", "get_fulfillment_settings", "get_shipment", "list_shipments", "record_tracking",
           "register_carrier", "retry_interval_seconds", "retry_labels", "run_retry_labels", "ship",
           "shipments_of_order", "transition", "unregister_carrier"]
