from mercato.platform.errors import NotFound, ValidationFailed


class ShippingZoneNotFound(NotFound):
    code, title = "shipping_zone_not_found", "Shipping zone not found"


class ShippingMethodNotFound(NotFound):
    code, title = "shipping_method_not_found", "Shipping method not found"


class ShippingMethodUnavailable(ValidationFailed):
    code, title = "shipping_method_unavailable", "This shipping method does not serve the address or the cart"
