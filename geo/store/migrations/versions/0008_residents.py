"""the residents' side: party organisations, members, micro-wishes and
micro-projects with their claims and workflow events, activities, ratings,
one-time codes; member tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:30:00.000000
"""
from alembic import op
import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

VERSIONED = ('party_orgs', 'members', 'wishes', 'wish_claims', 'wish_events', 'activities',
             'ratings')


def _ts():
    return (sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                      nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                      nullable=False))


def _fk(column, table, *, nullable=True, length=64, ondelete=None):
    return sa.Column(column, sa.String(length=length),
                     sa.ForeignKey(f'{table}.code', onupdate='CASCADE', ondelete=ondelete),
                     nullable=nullable)


def upgrade() -> None:
    op.create_table('party_orgs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), server_default='branch', nullable=False),
    _fk('region_code', 'regions', nullable=False, length=12),
    _fk('branch_code', 'party_branches', ondelete='SET NULL'),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    *_ts(),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('branch', 'dual_report', 'committee')", name='party_orgs_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    )
    op.create_index('ix_party_orgs_region_code', 'party_orgs', ['region_code'])

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    _fk('region_code', 'regions', nullable=False, length=12),
    _fk('org_code', 'party_orgs', ondelete='SET NULL'),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('private', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
              nullable=False),
    *_ts(),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    )
    op.create_index('ix_members_region_code', 'members', ['region_code'])
    op.create_index('ix_members_org_code', 'members', ['org_code'])

    op.create_table('wishes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), server_default='wish', nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('public_text', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=16), server_default='other', nullable=False),
    _fk('region_code', 'regions', nullable=False, length=12),
    _fk('point_code', 'service_points', ondelete='SET NULL'),
    _fk('grid_code', 'grid_cells', ondelete='SET NULL'),
    _fk('compound_code', 'compounds', ondelete='SET NULL'),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2,
              spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'),
              nullable=True),
    sa.Column('budget_yuan', sa.Numeric(12, 1), nullable=True),
    sa.Column('channel', sa.String(length=16), server_default='online', nullable=False),
    sa.Column('state', sa.String(length=16), server_default='posted', nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.Column('resident_score', sa.SmallInteger(), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('private', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
              nullable=False),
    sa.Column('entered_by', sa.Text(), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    *_ts(),
    sa.CheckConstraint("kind IN ('wish', 'project')", name='wishes_kind'),
    sa.CheckConstraint("state IN ('posted', 'published', 'rejected', 'claimed', 'fulfilled', "
                       "'confirmed', 'withdrawn', 'expired')", name='wishes_state'),
    sa.CheckConstraint("budget_yuan IS NULL OR budget_yuan >= 0", name='wishes_budget'),
    sa.CheckConstraint("resident_score IS NULL OR resident_score BETWEEN 1 AND 5",
                       name='wishes_resident_score'),
    sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name='wishes_geom_valid'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    )
    op.create_index('ix_wishes_region_code', 'wishes', ['region_code'])
    op.create_index('ix_wishes_state', 'wishes', ['state'])
    op.create_index('ix_wishes_grid_code', 'wishes', ['grid_code'])
    op.create_index('ix_wishes_geom', 'wishes', ['geom'], postgresql_using='gist')

    op.create_table('wish_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    _fk('wish_code', 'wishes', nullable=False, ondelete='CASCADE'),
    _fk('member_code', 'members', ondelete='SET NULL'),
    _fk('org_code', 'party_orgs', ondelete='SET NULL'),
    sa.Column('claimed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('points', sa.Integer(), server_default='0', nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.CheckConstraint('member_code IS NOT NULL OR org_code IS NOT NULL',
                       name='wish_claims_claimant'),
    sa.CheckConstraint('points >= 0', name='wish_claims_points'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_wish_claims_wish_code', 'wish_claims', ['wish_code'])
    op.execute("CREATE UNIQUE INDEX wish_claims_once ON wish_claims "
               "(wish_code, COALESCE(member_code, ''), COALESCE(org_code, ''))")

    op.create_table('wish_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    _fk('wish_code', 'wishes', nullable=False, ondelete='CASCADE'),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.Text(), nullable=True),
    sa.Column('actor_role', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_wish_events_wish_code', 'wish_events', ['wish_code'])

    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    _fk('point_code', 'service_points', nullable=False, ondelete='CASCADE'),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('theme', sa.Text(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('signups', sa.Integer(), server_default='0', nullable=False),
    sa.Column('attendance', sa.Integer(), nullable=True),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    *_ts(),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name='activities_span'),
    sa.CheckConstraint('(capacity IS NULL OR capacity >= 0) AND signups >= 0 AND '
                       '(attendance IS NULL OR attendance >= 0)', name='activities_counts'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    )
    op.create_index('ix_activities_point_code', 'activities', ['point_code'])
    op.create_index('ix_activities_starts_at', 'activities', ['starts_at'])

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    _fk('point_code', 'service_points', nullable=False, ondelete='CASCADE'),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('score', sa.SmallInteger(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name='ratings_score'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_code', 'period', 'phone_hash', name='ratings_once'),
    )
    op.create_index('ix_ratings_point_code', 'ratings', ['point_code'])

    op.create_table('otp_codes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_otp_codes_phone_hash', 'otp_codes', ['phone_hash', 'created_at'])

    op.create_table('app_secrets',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name'),
    )
    # the key of the phone hashes: random per database, never leaves it
    op.execute("INSERT INTO app_secrets (name, value) VALUES "
               "('phone_key', encode(sha256(gen_random_uuid()::text::bytea || "
               "clock_timestamp()::text::bytea), 'hex'))")

    op.drop_constraint('api_tokens_role', 'api_tokens', type_='check')
    op.create_check_constraint('api_tokens_role', 'api_tokens',
                               "role IN ('viewer', 'member', 'planner', 'admin')")
    op.add_column('api_tokens', sa.Column('subject', sa.Text(), nullable=True))

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
    op.drop_column('api_tokens', 'subject')
    op.execute("DELETE FROM api_tokens WHERE role = 'member'")
    op.drop_constraint('api_tokens_role', 'api_tokens', type_='check')
    op.create_check_constraint('api_tokens_role', 'api_tokens',
                               "role IN ('viewer', 'planner', 'admin')")
    for table in ('app_secrets', 'otp_codes', 'ratings', 'activities', 'wish_events',
                  'wish_claims', 'wishes', 'members', 'party_orgs'):
        op.drop_table(table)
