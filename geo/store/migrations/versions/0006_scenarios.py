"""scenarios: a planner's named what-if (positions added, moved, closed, hours
changed, paths opened), kept apart from today's data

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scenarios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('actor', sa.Text(), nullable=True),
    sa.Column('actor_role', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_scenarios_region_code'), 'scenarios', ['region_code'], unique=False)
    op.execute("INSERT INTO data_versions (name, version) VALUES ('scenarios', 1)")
    op.execute('CREATE TRIGGER "scenarios_data_version" AFTER INSERT OR UPDATE OR DELETE '
               'OR TRUNCATE ON "scenarios" FOR EACH STATEMENT '
               'EXECUTE FUNCTION servicemap_bump_data_version()')


def downgrade() -> None:
    op.execute('DROP TRIGGER IF EXISTS "scenarios_data_version" ON "scenarios"')
    op.execute("DELETE FROM data_versions WHERE name = 'scenarios'")
    op.drop_index(op.f('ix_scenarios_region_code'), table_name='scenarios')
    op.drop_table('scenarios')
