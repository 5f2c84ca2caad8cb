"""Every module's tables, gathered for Alembic. Import-only; no code lives here."""

from mercato.audit import models as _audit  # noqa: F401
from mercato.cart import models as _cart  # noqa: F401
from mercato.catalog import models as _catalog  # noqa: F401
from mercato.checkout import models as _checkout  # noqa: F401
from mercato.fulfillment import models as _fulfillment  # noqa: F401
from mercato.identity import models as _identity  # noqa: F401
from mercato.inventory import models as _inventory  # noqa: F401
from mercato.notifications import models as _notifications  # noqa: F401
from mercato.orders import models as _orders  # noqa: F401
from mercato.payments import models as _payments  # noqa: F401
from mercato.platform import models as _platform  # noqa: F401
from mercato.platform import models_jobs as _jobs  # noqa: F401
from mercato.platform.db import Base
from mercato.promotions import models as _promotions  # noqa: F401
from mercato.returns import models as _returns  # noqa: F401
from mercato.shipping import models as _shipping  # noqa: F401
from mercato.taxes import models as _taxes  # noqa: F401
from mercato.tenancy import models as _tenancy  # noqa: F401
from mercato.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
