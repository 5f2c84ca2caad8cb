from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "payments"))

from localstripe_fixtures import (  # noqa: F401 (fixtures)
    app_server,
    checkout_session_standin,
    localstripe_url,
    stripe_env,
)


