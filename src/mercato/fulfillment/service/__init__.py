"""Fulfillment use cases. Services flush, never commit: the caller's transaction is the unit of work."""

from mercato.fulfillment.service.common import view, views
from mercato.fulfillment.service.labels import attempt_label, create_label, label_document, retry_due_label
from mercato.fulfillment.service.shipments import (
    allocation,
    create_shipment,
    customer_shipments,
    get_shipment,
    guest_shipments,
    list_shipments,
    shipments_of_order,
    transition,
)
from mercato.fulfillment.service.shipping import record_tracking, ship

__all__ = ["allocation", "attempt_label", "create_label", "create_shipment", "customer_shipments", "get_shipment", "guest_shipments",
           "label_document", "list_shipments", "record_tracking", "retry_due_label", "ship", "shipments_of_order",
           "transition", "view", "views"]
