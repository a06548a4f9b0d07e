"""real towns from public data: OSM buildings' attributes, OSM facilities, village
census totals, the population source of every building

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 18:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

VERSIONED = ('facilities', 'village_population')
POPULATION_SOURCES = ('census', 'imported', 'sample')


def upgrade() -> None:
    # buildings read from OpenStreetMap keep what OSM says about them
    op.add_column('buildings', sa.Column('osm_id', sa.BigInteger(), nullable=True))
    op.add_column('buildings', sa.Column('osm_type', sa.String(1), nullable=True))
    op.add_column('buildings', sa.Column('building_type', sa.Text(), nullable=True))
    op.add_column('buildings', sa.Column('levels', sa.Float(), nullable=True))
    op.add_column('buildings', sa.Column('height_m', sa.Float(), nullable=True))
    # why a footprint was changed on the way in (e.g. "Self-intersection" → made valid)
    op.add_column('buildings', sa.Column('repair', sa.Text(), nullable=True))
    # where the building's population came from: census (a village total spread by
    # floor area), imported (a planner's file per building), sample (generated)
    op.add_column('buildings', sa.Column('population_source', sa.Text(), nullable=True))
    op.create_check_constraint(
        'buildings_population_source', 'buildings',
        "population_source IS NULL OR population_source IN ("
        + ", ".join(f"'{s}'" for s in POPULATION_SOURCES) + ")")
    op.create_check_constraint('buildings_osm_type', 'buildings',
                               "osm_type IS NULL OR osm_type IN ('w', 'r')")
    op.create_index('ix_buildings_osm', 'buildings', ['osm_type', 'osm_id'])
    op.execute("UPDATE buildings SET population_source = 'sample' WHERE synthetic")

    # public facilities of the extract (community centres, schools, clinics …):
    # a reference layer and siting candidates
    op.create_table(
        'facilities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('osm_type', sa.String(1), nullable=False),
        sa.Column('osm_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('tag', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=True),
        sa.Column('dataset', sa.Text(), nullable=False),
        sa.Column('tags', JSONB(), server_default='{}', nullable=False),
        sa.Column('geom', Geometry('POINT', srid=4326, spatial_index=False), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("osm_type IN ('n', 'w', 'r')", name='facilities_osm_type'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('osm_type', 'osm_id', name='facilities_osm'),
    )
    op.create_index('ix_facilities_geom', 'facilities', ['geom'], postgresql_using='gist')
    op.create_index('ix_facilities_dataset', 'facilities', ['dataset'])

    # census population per village (七普 常住人口), the totals spread over buildings
    op.create_table(
        'village_population',
        sa.Column('region_code', sa.String(12), nullable=False),
        sa.Column('population', sa.Integer(), nullable=False),
        sa.Column('year', sa.SmallInteger(), nullable=True),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint('population >= 0', name='village_population_nonnegative'),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], onupdate='CASCADE',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('region_code'),
    )

    for table in VERSIONED:
        op.execute(f"INSERT INTO data_versions (name, version) VALUES ('{table}', 1) "
                   "ON CONFLICT (name) DO NOTHING")
        op.execute(f'CREATE TRIGGER "{table}_data_version" AFTER INSERT OR UPDATE OR DELETE '
                   f'OR TRUNCATE ON "{table}" FOR EACH STATEMENT '
                   'EXECUTE FUNCTION servicemap_bump_data_version()')


def downgrade() -> None:
    for table in VERSIONED:
        op.execute(f'DROP TRIGGER IF EXISTS "{table}_data_version" ON "{table}"')
        op.execute(f"DELETE FROM data_versions WHERE name = '{table}'")
    op.drop_table('village_population')
    op.drop_index('ix_facilities_dataset', table_name='facilities')
    op.drop_index('ix_facilities_geom', table_name='facilities')
    op.drop_table('facilities')
    op.drop_index('ix_buildings_osm', table_name='buildings')
    op.drop_constraint('buildings_osm_type', 'buildings', type_='check')
    op.drop_constraint('buildings_population_source', 'buildings', type_='check')
    for col in ('population_source', 'repair', 'height_m', 'levels', 'building_type',
                'osm_type', 'osm_id'):
        op.drop_column('buildings', col)
