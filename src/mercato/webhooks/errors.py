"""Errors of the webhooks API (problem+json, stable codes)."""

from mercato.platform.errors import NotFound, ValidationFailed


class EndpointNotFound(NotFound):
    code, title = "webhook_endpoint_not_found", "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    code, title = "webhook_delivery_not_found", "Webhook delivery not found"


class InvalidWebhookUrl(ValidationFailed):
    code, title = "invalid_webhook_url", "This URL cannot receive webhooks"
