"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql  # noqa: F401

from mercato.migrations.helpers import *  # noqa: F403

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    ${upgrades if upgrades else "pass"}


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    ${downgrades if downgrades else "pass"}
