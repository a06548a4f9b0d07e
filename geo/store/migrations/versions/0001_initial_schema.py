"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 18:00:13.270420
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Extensions the schema relies on (an external server may not have them yet).
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('entity', sa.Text(), nullable=False),
    sa.Column('entity_code', sa.Text(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_table('meta',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('network_nodes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('dataset', sa.Text(), server_default='sample', nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_network_nodes_dataset'), 'network_nodes', ['dataset'], unique=False)
    op.create_index('ix_network_nodes_geom', 'network_nodes', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("level IN ('county', 'town', 'village')", name='regions_level'),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='regions_geom_valid'),
    sa.ForeignKeyConstraint(['parent_code'], ['regions.code'], onupdate='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_regions_geom', 'regions', ['geom'], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_regions_parent_code'), 'regions', ['parent_code'], unique=False)
    op.create_table('water_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='water_areas_geom_valid'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_water_areas_geom', 'water_areas', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('compounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('households', sa.Integer(), server_default='0', nullable=False),
    sa.Column('population', sa.Integer(), server_default='0', nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='compounds_geom_valid'),
    sa.CheckConstraint('households >= 0 AND population >= 0', name='compounds_counts'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], onupdate='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_compounds_geom', 'compounds', ['geom'], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_compounds_region_code'), 'compounds', ['region_code'], unique=False)
    op.create_table('grid_cells',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('kind', sa.String(length=16), server_default='governance', nullable=False),
    sa.Column('workers', sa.Integer(), server_default='0', nullable=False),
    sa.Column('has_branch', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('private', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('governance', 'party')", name='grid_cells_kind'),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='grid_cells_geom_valid'),
    sa.CheckConstraint('workers >= 0', name='grid_cells_workers'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], onupdate='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_grid_cells_geom', 'grid_cells', ['geom'], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_grid_cells_region_code'), 'grid_cells', ['region_code'], unique=False)
    op.create_table('network_edges',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.BigInteger(), nullable=False),
    sa.Column('target', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('reverse_cost', sa.Float(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('highway', sa.Text(), nullable=True),
    sa.Column('osm_id', sa.BigInteger(), nullable=True),
    sa.Column('dataset', sa.Text(), server_default='sample', nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='network_edges_geom_valid'),
    sa.CheckConstraint('length_m > 0', name='network_edges_length'),
    sa.ForeignKeyConstraint(['source'], ['network_nodes.id'], ),
    sa.ForeignKeyConstraint(['target'], ['network_nodes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_network_edges_dataset'), 'network_edges', ['dataset'], unique=False)
    op.create_index('ix_network_edges_geom', 'network_edges', ['geom'], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_network_edges_source'), 'network_edges', ['source'], unique=False)
    op.create_index(op.f('ix_network_edges_target'), 'network_edges', ['target'], unique=False)
    op.create_table('service_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('hours', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('hours_text', sa.Text(), nullable=True),
    sa.Column('services', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('rooms', sa.Integer(), nullable=True),
    sa.Column('floor_area_m2', sa.Float(), nullable=True),
    sa.Column('stars', sa.SmallInteger(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('source_crs', sa.String(length=16), server_default='wgs84', nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('town_center', 'village_center', 'station', 'admin_service', 'civilization', 'red_education', 'other')", name='service_points_kind'),
    sa.CheckConstraint("source_crs IN ('wgs84', 'gcj02', 'bd09', 'cgcs2000')", name='service_points_source_crs'),
    sa.CheckConstraint('floor_area_m2 IS NULL OR floor_area_m2 >= 0', name='service_points_floor_area'),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='service_points_geom_valid'),
    sa.CheckConstraint('rooms IS NULL OR rooms >= 0', name='service_points_rooms'),
    sa.CheckConstraint('stars IS NULL OR stars BETWEEN 1 AND 5', name='service_points_stars'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], onupdate='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_service_points_geom', 'service_points', ['geom'], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_service_points_kind'), 'service_points', ['kind'], unique=False)
    op.create_index(op.f('ix_service_points_region_code'), 'service_points', ['region_code'], unique=False)
    op.create_table('buildings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('compound_code', sa.String(length=64), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('households', sa.Integer(), server_default='0', nullable=False),
    sa.Column('population', sa.Integer(), server_default='0', nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='buildings_geom_valid'),
    sa.CheckConstraint('households >= 0 AND population >= 0', name='buildings_counts'),
    sa.ForeignKeyConstraint(['compound_code'], ['compounds.code'], onupdate='CASCADE', ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_buildings_compound_code'), 'buildings', ['compound_code'], unique=False)
    op.create_index('ix_buildings_geom', 'buildings', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('party_branches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('seat_compound_code', sa.String(length=64), nullable=True),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('private', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], onupdate='CASCADE'),
    sa.ForeignKeyConstraint(['seat_compound_code'], ['compounds.code'], onupdate='CASCADE', ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_party_branches_region_code'), 'party_branches', ['region_code'], unique=False)
    op.create_table('service_circles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_code', sa.String(length=64), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('profile', sa.String(length=32), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('budget_m', sa.Float(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('walk_off_m', sa.Float(), nullable=False),
    sa.Column('snap_distance_m', sa.Float(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('input_version', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("method IN ('network', 'straight_line')", name='service_circles_method'),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name='service_circles_geom_valid'),
    sa.CheckConstraint('minutes > 0 AND minutes <= 60', name='service_circles_minutes'),
    sa.ForeignKeyConstraint(['point_code'], ['service_points.code'], onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_code', 'minutes', 'profile', name='service_circles_key')
    )
    op.create_index('ix_service_circles_geom', 'service_circles', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('branch_compounds',
    sa.Column('branch_code', sa.String(length=64), nullable=False),
    sa.Column('compound_code', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['branch_code'], ['party_branches.code'], onupdate='CASCADE', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['compound_code'], ['compounds.code'], onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('branch_code', 'compound_code')
    )
    op.create_index(op.f('ix_branch_compounds_compound_code'), 'branch_compounds', ['compound_code'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_branch_compounds_compound_code'), table_name='branch_compounds')
    op.drop_table('branch_compounds')
    op.drop_index('ix_service_circles_geom', table_name='service_circles', postgresql_using='gist')
    op.drop_table('service_circles')
    op.drop_index(op.f('ix_party_branches_region_code'), table_name='party_branches')
    op.drop_table('party_branches')
    op.drop_index('ix_buildings_geom', table_name='buildings', postgresql_using='gist')
    op.drop_index(op.f('ix_buildings_compound_code'), table_name='buildings')
    op.drop_table('buildings')
    op.drop_index(op.f('ix_service_points_region_code'), table_name='service_points')
    op.drop_index(op.f('ix_service_points_kind'), table_name='service_points')
    op.drop_index('ix_service_points_geom', table_name='service_points', postgresql_using='gist')
    op.drop_table('service_points')
    op.drop_index(op.f('ix_network_edges_target'), table_name='network_edges')
    op.drop_index(op.f('ix_network_edges_source'), table_name='network_edges')
    op.drop_index('ix_network_edges_geom', table_name='network_edges', postgresql_using='gist')
    op.drop_index(op.f('ix_network_edges_dataset'), table_name='network_edges')
    op.drop_table('network_edges')
    op.drop_index(op.f('ix_grid_cells_region_code'), table_name='grid_cells')
    op.drop_index('ix_grid_cells_geom', table_name='grid_cells', postgresql_using='gist')
    op.drop_table('grid_cells')
    op.drop_index(op.f('ix_compounds_region_code'), table_name='compounds')
    op.drop_index('ix_compounds_geom', table_name='compounds', postgresql_using='gist')
    op.drop_table('compounds')
    op.drop_index('ix_water_areas_geom', table_name='water_areas', postgresql_using='gist')
    op.drop_table('water_areas')
    op.drop_index(op.f('ix_regions_parent_code'), table_name='regions')
    op.drop_index('ix_regions_geom', table_name='regions', postgresql_using='gist')
    op.drop_table('regions')
    op.drop_index('ix_network_nodes_geom', table_name='network_nodes', postgresql_using='gist')
    op.drop_index(op.f('ix_network_nodes_dataset'), table_name='network_nodes')
    op.drop_table('network_nodes')
    op.drop_table('meta')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
