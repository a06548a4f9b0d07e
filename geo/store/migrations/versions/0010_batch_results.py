"""province batch: each town's stored results (coverage, walking times) with the
inputs they were computed from, so a rerun skips what has not changed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'batch_results',
        # the town (or any region) the result is for
        sa.Column('region_code', sa.String(12), nullable=False),
        # 'coverage' (who the circles reach) or 'walk' (walking time from every home)
        sa.Column('analysis', sa.Text(), nullable=False),
        # the parameters' tag (minutes, profile, rule), one row per set
        sa.Column('params', sa.Text(), nullable=False),
        # fingerprint of the inputs (circles used, buildings, network, halo)
        sa.Column('input_version', sa.Text(), nullable=False),
        sa.Column('result', JSONB(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('worker', sa.Text(), nullable=True),
        sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("analysis IN ('coverage', 'walk')", name='batch_results_analysis'),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], onupdate='CASCADE',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('region_code', 'analysis', 'params'),
    )
    op.execute("INSERT INTO data_versions (name, version) VALUES ('batch_results', 1) "
               "ON CONFLICT (name) DO NOTHING")
    op.execute('CREATE TRIGGER "batch_results_data_version" AFTER INSERT OR UPDATE OR DELETE '
               'OR TRUNCATE ON "batch_results" FOR EACH STATEMENT '
               'EXECUTE FUNCTION servicemap_bump_data_version()')


def downgrade() -> None:
    op.execute('DROP TRIGGER IF EXISTS "batch_results_data_version" ON "batch_results"')
    op.execute("DELETE FROM data_versions WHERE name = 'batch_results'")
    op.drop_table('batch_results')
