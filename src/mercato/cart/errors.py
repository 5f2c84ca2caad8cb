from mercato.platform.errors import BadRequest, Conflict, NotFound, Unauthorized, ValidationFailed


class CartNotFound(NotFound):
    """Also what a cart someone else owns looks like: never 403, so ids cannot be probed."""

    code, title = "cart_not_found", "Cart not found"


class CartLineNotFound(NotFound):
    code, title = "cart_line_not_found", "Cart line not found"


class TenantRequired(BadRequest):
    code, title = "tenant_required", "Name the shop (API key, JWT, shop subdomain or X-Mercato-Tenant)"


class CustomerRequired(Unauthorized):
    code, title = "customer_required", "Sign in as a customer"


class CartTokenRequired(BadRequest):
    code, title = "cart_token_required", "Send the guest cart's token in X-Cart-Token"


class VariantUnavailable(Conflict):
    code, title = "variant_unavailable", "This product variant cannot be bought"


class UnknownVariant(ValidationFailed):
    code, title = "variant_unavailable", "No such product variant"


class CartCurrencyMismatch(Conflict):
    code, title = "currency_mismatch", "The cart is in another currency"


class QuantityInvalid(ValidationFailed):
    code, title = "quantity_invalid", "Invalid quantity"


class ShippingAddressRequired(Conflict):
    code, title = "shipping_address_required", "Set a shipping address on the cart first"


class CouponNotOnCart(NotFound):
    code, title = "coupon_not_applied", "This coupon is not applied to the cart"
