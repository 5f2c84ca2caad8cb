"""search words: the vocabulary of each shop's search documents, for typo correction

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24

``search_words (tenant_id, word, ndoc)``: the distinct words of a shop's product search documents
(lexemes of ``products.search_vector`` of 3–40 characters, no digits or punctuation), with a trigram
GIN index. When full-text search finds nothing, each query word that is not a known word is
replaced by its most similar known word and the ordinary full-text search runs again (the approach
of the pg_trgm documentation, "Text Search Integration"): a few hundred or thousand words to
compare instead of every product's text. Forced RLS like every tenant table. The catalog writes new
words in the same statement that refreshes search documents (insert-only).

Backfilled from the current documents; the owner lifts FORCE RLS on ``products`` for the backfill
only (same transaction), as in 0016.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mercato.migrations.helpers import *

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('search_words',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('word', sa.Text(collation='C'), nullable=False),
    sa.Column('ndoc', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'word', name=op.f('pk_search_words'))
    )
    op.create_index('ix_search_words_trgm', 'search_words', ['word'], unique=False, postgresql_using='gin',
                    postgresql_ops={'word': 'gin_trgm_ops'})
    # Backfill before RLS is on for the new table (the owner is subject to forced RLS and has no tenant).
    op.execute("ALTER TABLE products NO FORCE ROW LEVEL SECURITY")
    op.execute(r"""
        INSERT INTO search_words (tenant_id, word, ndoc)
        SELECT p.tenant_id, w.lexeme, count(*)
        FROM products p, unnest(p.search_vector) AS w
        WHERE length(w.lexeme) BETWEEN 3 AND 40 AND w.lexeme ~ '^\w+$' AND w.lexeme !~ '[0-9_]'
        GROUP BY p.tenant_id, w.lexeme
    """)
    op.execute("ALTER TABLE products FORCE ROW LEVEL SECURITY")
    tenant_table("search_words", app_role, privileges="SELECT, INSERT, UPDATE, DELETE")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_index('ix_search_words_trgm', table_name='search_words', postgresql_using='gin',
                  postgresql_ops={'word': 'gin_trgm_ops'})
    op.drop_table('search_words')
