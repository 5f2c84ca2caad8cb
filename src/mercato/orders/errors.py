"""Order problems: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from mercato.platform.errors import Conflict, IllegalTransition, NotFound, ValidationFailed

__all__ = ["IllegalTransition", "InvalidDraft", "LineNotFound", "NoPaymentToMark", "OrderAlreadyShipped", "OrderNotFound",
           "SelfCancelNotAllowed", "ShipmentQuantityInvalid", "TenantRequired"]


class OrderNotFound(NotFound):
    code, title = "order_not_found", "Order not found"


class LineNotFound(NotFound):
    code, title = "order_line_not_found", "Order line not found"


class InvalidDraft(ValidationFailed):
    """Checkout handed over an order whose figures do not add up (a programming error upstream)."""

    code, title = "invalid_order_draft", "The order draft is inconsistent"


class SelfCancelNotAllowed(Conflict):
    """A customer may cancel only a pending or paid order, and only within the shop's window."""

    code, title = "self_cancel_not_allowed", "This order can no longer be cancelled by the customer"


class OrderAlreadyShipped(Conflict):
    code, title = "order_already_shipped", "The order has shipped; this change is no longer possible"


class ShipmentQuantityInvalid(ValidationFailed):
    code, title = "shipment_quantity_invalid", "Shipped quantity is not possible for this line"


class TenantRequired(ValidationFailed):
    code, title = "tenant_required", "This request must name a shop (API key, host or X-Mercato-Tenant)"


class NoPaymentToMark(Conflict):
    code, title = "no_payment_to_mark_paid", "This order has no payment that can be marked paid"
