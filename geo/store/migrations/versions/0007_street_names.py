"""street names on the walking network's edges (basemap labels)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 22:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('network_edges', sa.Column('name', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('network_edges', 'name')
