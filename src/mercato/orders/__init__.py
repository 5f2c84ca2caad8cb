"""Orders: placement, the status machine, payment and fulfillment status, history, notes,
cancellations with refunds. Public face.

Checkout calls :func:`place_order` with an :class:`OrderDraft` inside its transaction; the
fulfillment module calls :func:`mark_lines_shipped` / :func:`mark_delivered`; payment results
arrive through the event handlers (``orders/handlers.py``, registered on import) or
:func:`record_payment`. See docs/orders.md.
"""

from mercato.orders import handlers as _handlers  # noqa: F401  (registers event subscribers)
from mercato.orders import metrics
from mercato.orders.domain import FulfillmentStatus, OrderStatus, PaymentStatus
from mercato.orders.drafts import OrderDraft, OrderLineDraft, PlacedOrder
from mercato.orders.errors import OrderNotFound
from mercato.orders.repository import OrderFilter
from mercato.orders.schemas import CustomerOrder, Order, OrderList, OrderSettings, OrderSummary
from mercato.orders.service import (
    add_note,
    cancel_order,
    cancel_pending_orders_of,
    change_shipping_address,
    complete,
    get_customer_order,
    get_order,
    get_settings,
    list_orders,
    lookup_guest_order,
    mark_delivered,
    mark_lines_returned,
    mark_lines_shipped,
    mark_paid,
    place_order,
    record_payment,
    transition,
    update_settings,
)

__all__ = ["CustomerOrder", "FulfillmentStatus", "Order", "OrderDraft", "OrderFilter", "OrderLineDraft", "OrderList",
           "OrderNotFound", "OrderSettings", "OrderStatus", "OrderSummary", "PaymentStatus", "PlacedOrder", "add_note",
           "cancel_order", "cancel_pending_orders_of", "change_shipping_address", "complete", "get_customer_order",
           "get_order", "get_settings", "list_orders", "lookup_guest_order", "mark_delivered", "mark_lines_returned", "mark_lines_shipped",
           "mark_paid", "metrics", "place_order", "record_payment", "transition", "update_settings"]
