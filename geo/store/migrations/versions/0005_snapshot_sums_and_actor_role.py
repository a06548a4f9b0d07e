"""coverage snapshots: 64-bit sums, and the role of who saved it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SUMS = ('buildings', 'buildings_covered', 'households', 'households_covered',
        'population', 'population_covered', 'compounds')


def upgrade() -> None:
    for c in SUMS:
        op.alter_column('coverage_snapshot_areas', c, type_=sa.BigInteger(),
                        existing_type=sa.Integer(), existing_nullable=False)
    op.add_column('coverage_snapshots', sa.Column('actor_role', sa.String(length=16), nullable=True))
    # what public answers show of snapshots saved before: never the token
    op.execute("UPDATE coverage_snapshots SET actor_role = CASE WHEN actor LIKE 'token:%' "
               "THEN 'token' ELSE 'cli' END WHERE actor IS NOT NULL")


def downgrade() -> None:
    op.drop_column('coverage_snapshots', 'actor_role')
    for c in SUMS:
        op.alter_column('coverage_snapshot_areas', c, type_=sa.Integer(),
                        existing_type=sa.BigInteger(), existing_nullable=False)
