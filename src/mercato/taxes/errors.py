from mercato.platform.errors import AlreadyExists, NotFound


class TaxRateNotFound(NotFound):
    code, title = "tax_rate_not_found", "Tax rate not found"


class TaxRateExists(AlreadyExists):
    code, title = "tax_rate_exists", "A tax rate for this region and tax class already exists"
