"""data versions: one row per table, bumped by a statement trigger on every write

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# the tables whose changes caches and derived results follow (frozen here;
# later migrations add their own tables with the same trigger)
TABLES = ('regions', 'service_points', 'grid_cells', 'compounds', 'buildings',
          'party_branches', 'branch_compounds', 'network_nodes', 'network_edges',
          'water_areas', 'service_circles', 'meta', 'coverage_snapshots')


def upgrade() -> None:
    op.create_table('data_versions',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.execute("""
        CREATE FUNCTION servicemap_bump_data_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO data_versions (name, version, changed_at)
            VALUES (TG_TABLE_NAME, 1, now())
            ON CONFLICT (name) DO UPDATE
                SET version = data_versions.version + 1, changed_at = now();
            RETURN NULL;
        END $$""")
    for t in TABLES:
        op.execute(f"INSERT INTO data_versions (name, version) VALUES ('{t}', 1)")
        op.execute(f'CREATE TRIGGER "{t}_data_version" AFTER INSERT OR UPDATE OR DELETE '
                   f'OR TRUNCATE ON "{t}" FOR EACH STATEMENT '
                   'EXECUTE FUNCTION servicemap_bump_data_version()')


def downgrade() -> None:
    for t in TABLES:
        op.execute(f'DROP TRIGGER IF EXISTS "{t}_data_version" ON "{t}"')
    op.execute("DROP FUNCTION IF EXISTS servicemap_bump_data_version()")
    op.drop_table('data_versions')
