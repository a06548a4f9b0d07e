"""coverage snapshots

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coverage_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('region_name', sa.Text(), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('profile', sa.String(length=32), nullable=False),
    sa.Column('kinds', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('totals', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('circles', sa.Integer(), nullable=False),
    sa.Column('circles_version', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('minutes > 0 AND minutes <= 60', name='coverage_snapshots_minutes'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_coverage_snapshots_created_at'), 'coverage_snapshots', ['created_at'], unique=False)
    op.create_index(op.f('ix_coverage_snapshots_region_code'), 'coverage_snapshots', ['region_code'], unique=False)
    op.create_table('coverage_snapshot_areas',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('buildings', sa.Integer(), nullable=False),
    sa.Column('buildings_covered', sa.Integer(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('households_covered', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('population_covered', sa.Integer(), nullable=False),
    sa.Column('compounds', sa.Integer(), nullable=False),
    sa.Column('compounds_covered', sa.Float(), nullable=False),
    sa.CheckConstraint('buildings_covered <= buildings AND population_covered <= population AND households_covered <= households AND compounds_covered <= compounds', name='coverage_snapshot_areas_counts'),
    sa.ForeignKeyConstraint(['snapshot_id'], ['coverage_snapshots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'level', 'code')
    )


def downgrade() -> None:
    op.drop_table('coverage_snapshot_areas')
    op.drop_index(op.f('ix_coverage_snapshots_region_code'), table_name='coverage_snapshots')
    op.drop_index(op.f('ix_coverage_snapshots_created_at'), table_name='coverage_snapshots')
    op.drop_table('coverage_snapshots')
