"""Outbound webhooks: signed HTTP deliveries of the shop's events to merchants' systems
(n8n, Zapier-style tools, their own servers), following the Standard Webhooks specification.

Public face. Importing this module registers the fan-out subscriber (``handlers``).

* ``run_send_due`` / ``SEND_INTERVAL_SECONDS`` — the periodic sender job;
* ``send_due(runtime_db, worker_db, now=...)`` — one sender run (tests drive retries with it);
"""

from mercato.webhooks import handlers as _handlers  # noqa: F401  (registers the fan-out subscriber)
from mercato.webhooks.tasks import SEND_INTERVAL_SECONDS, SendResult, run_send_due, send_due

__all__ = ["SEND_INTERVAL_SECONDS", "SendResult", "run_send_due", "send_due"]
