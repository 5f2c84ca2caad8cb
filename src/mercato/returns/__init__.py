"""Returns: return requests (customers, guests, staff) within the shop's window, staff approval
with an RMA number and instructions or rejection with a note, receipt with restock of resellable
units, refunds through the original payments (full or partial, shipping optional, idempotent),
and exchanges with a replacement order. Public face (see docs/returns.md).

Events: ``return.requested``, ``return.approved``, ``return.rejected``, ``return.cancelled``,
``return.received``, ``return.refunded``, ``return.refund_failed``, ``return.exchanged``,
``return.completed`` (aggregate ``return``); the refunds themselves emit the payments module's
``refund.*``. Reacts to ``refund.failed`` (``returns/handlers.py``, registered on import).
"""

from mercato.returns import handlers as _handlers  # noqa: F401  (registers event subscribers)
from mercato.returns.domain import ReturnStatus
from mercato.returns.errors import ReturnNotFound
from mercato.returns.schemas import Return, ReturnList
from mercato.returns.service import get_return, list_returns, request_return

__all__ = ["Return", "ReturnList", "ReturnNotFound", "ReturnStatus", "get_return", "list_returns", "request_return"]
