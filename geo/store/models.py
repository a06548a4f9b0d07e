"""ORM models: the store of record. Geometries are SRID 4326 with GiST indexes
and validity checks. The schema itself is created by the Alembic migrations in
``geo/store/migrations``; a test checks that these models and the migrated schema
agree."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.vocab import (
    INPUT_CRS,
    CircleMethod,
    GridKind,
    OrgKind,
    PointKind,
    RegionLevel,
    WishKind,
    WishState,
)


def _in(column: str, values) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geom(kind: str, *, nullable: bool = False) -> Mapped:
    return mapped_column(Geometry(kind, srid=4326, spatial_index=False), nullable=nullable)


def _gist(table: str, column: str = "geom") -> Index:
    return Index(f"ix_{table}_{column}", column, postgresql_using="gist")


def _valid(table: str, column: str = "geom") -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR ST_IsValid({column})",
                           name=f"{table}_{column}_valid")


class Base(DeclarativeBase):
    pass


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Region(Base, Timestamps):
    """Administrative division (county / town-street / village-community)."""

    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint(_in("level", [v.value for v in RegionLevel]), name="regions_level"),
        _valid("regions"),
        _gist("regions"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE"), index=True)
    geom = _geom("MULTIPOLYGON", nullable=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    properties: Mapped[dict] = mapped_column(JSONB, server_default="{}")


class ServicePoint(Base, Timestamps):
    """A service position (党群服务阵地)."""

    __tablename__ = "service_points"
    __table_args__ = (
        CheckConstraint(_in("kind", [v.value for v in PointKind]), name="service_points_kind"),
        CheckConstraint(_in("source_crs", INPUT_CRS), name="service_points_source_crs"),
        CheckConstraint("stars IS NULL OR stars BETWEEN 1 AND 5", name="service_points_stars"),
        CheckConstraint("rooms IS NULL OR rooms >= 0", name="service_points_rooms"),
        CheckConstraint("floor_area_m2 IS NULL OR floor_area_m2 >= 0",
                        name="service_points_floor_area"),
        _valid("service_points"),
        _gist("service_points"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE"), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    geom = _geom("POINT")
    hours: Mapped[dict | None] = mapped_column(JSONB)
    hours_text: Mapped[str | None] = mapped_column(Text)
    services: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    rooms: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    stars: Mapped[int | None] = mapped_column(SmallInteger)
    phone: Mapped[str | None] = mapped_column(Text)
    source_crs: Mapped[str] = mapped_column(String(16), server_default="wgs84")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    properties: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    #: bumped on every change of location; service circles record the version
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GridCell(Base, Timestamps):
    """A grid cell (网格) of the governance or party-building grid."""

    __tablename__ = "grid_cells"
    __table_args__ = (
        CheckConstraint(_in("kind", [v.value for v in GridKind]), name="grid_cells_kind"),
        CheckConstraint("workers >= 0", name="grid_cells_workers"),
        _valid("grid_cells"),
        _gist("grid_cells"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), server_default=GridKind.GOVERNANCE.value)
    workers: Mapped[int] = mapped_column(Integer, server_default="0")
    has_branch: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = _geom("MULTIPOLYGON")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    #: personal data (worker names, phones): never served publicly
    private: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Compound(Base, Timestamps):
    """A residential compound (住宅小区)."""

    __tablename__ = "compounds"
    __table_args__ = (
        CheckConstraint("households >= 0 AND population >= 0", name="compounds_counts"),
        _valid("compounds"),
        _gist("compounds"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE"), index=True)
    geom = _geom("MULTIPOLYGON")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Building(Base):
    """A residential building footprint."""

    __tablename__ = "buildings"
    __table_args__ = (
        CheckConstraint("households >= 0 AND population >= 0", name="buildings_counts"),
        CheckConstraint("population_source IS NULL OR population_source IN "
                        "('census', 'imported', 'sample')", name="buildings_population_source"),
        CheckConstraint("osm_type IS NULL OR osm_type IN ('w', 'r')", name="buildings_osm_type"),
        Index("ix_buildings_osm", "osm_type", "osm_id"),
        _valid("buildings"),
        _gist("buildings"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    compound_code: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("compounds.code", onupdate="CASCADE", ondelete="SET NULL"),
        index=True)
    geom = _geom("MULTIPOLYGON")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: OpenStreetMap's id of the way (``w``) or multipolygon relation (``r``)
    osm_type: Mapped[str | None] = mapped_column(String(1))
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    #: OSM ``building`` (house, apartments, residential, yes …)
    building_type: Mapped[str | None] = mapped_column(Text)
    #: ``building:levels`` and ``height`` (metres) when the source gives them
    levels: Mapped[float | None] = mapped_column(Float)
    height_m: Mapped[float | None] = mapped_column(Float)
    #: why the footprint was changed on the way in (made valid), else NULL
    repair: Mapped[str | None] = mapped_column(Text)
    #: census (village total spread by floor area), imported (per building), sample
    population_source: Mapped[str | None] = mapped_column(Text)


class Facility(Base):
    """A public facility read from OpenStreetMap (community centre, school, clinic,
    elder care, market …): a reference layer and siting candidates."""

    __tablename__ = "facilities"
    __table_args__ = (
        CheckConstraint("osm_type IN ('n', 'w', 'r')", name="facilities_osm_type"),
        UniqueConstraint("osm_type", "osm_id", name="facilities_osm"),
        _gist("facilities"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    osm_type: Mapped[str] = mapped_column(String(1))
    osm_id: Mapped[int] = mapped_column(BigInteger)
    #: the product's facility kind (see ``geo.io.osm.FACILITY_TAGS``)
    kind: Mapped[str] = mapped_column(Text)
    #: the OSM tag that made it one, ``amenity=community_centre``
    tag: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(Text, index=True)
    tags: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    geom = _geom("POINT")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VillagePopulation(Base):
    """A village's census population (七普 常住人口), spread over its buildings."""

    __tablename__ = "village_population"
    __table_args__ = (
        CheckConstraint("population >= 0", name="village_population_nonnegative"),
    )
    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE", ondelete="CASCADE"),
        primary_key=True)
    population: Mapped[int] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())


class BatchResult(Base):
    """A town's stored batch result (coverage or walking times) and the inputs'
    fingerprint it was computed from (:mod:`geo.batch`)."""

    __tablename__ = "batch_results"
    __table_args__ = (
        CheckConstraint("analysis IN ('coverage', 'walk')", name="batch_results_analysis"),
    )
    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE", ondelete="CASCADE"),
        primary_key=True)
    analysis: Mapped[str] = mapped_column(Text, primary_key=True)
    params: Mapped[str] = mapped_column(Text, primary_key=True)
    input_version: Mapped[str] = mapped_column(Text)
    result: Mapped[dict] = mapped_column(JSONB)
    seconds: Mapped[float] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())


class PartyBranch(Base, Timestamps):
    """A party branch (党支部), e.g. a compound branch."""

    __tablename__ = "party_branches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", onupdate="CASCADE"), index=True)
    seat_compound_code: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("compounds.code", onupdate="CASCADE", ondelete="SET NULL"))
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    #: personal data (members, households): never served publicly
    private: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BranchCompound(Base):
    """Which compounds a party branch covers (many-to-many)."""

    __tablename__ = "branch_compounds"
    branch_code: Mapped[str] = mapped_column(
        String(64), ForeignKey("party_branches.code", onupdate="CASCADE", ondelete="CASCADE"),
        primary_key=True)
    compound_code: Mapped[str] = mapped_column(
        String(64), ForeignKey("compounds.code", onupdate="CASCADE", ondelete="CASCADE"),
        primary_key=True, index=True)


class NetworkNode(Base):
    """A node of the walking network (pgRouting vertex)."""

    __tablename__ = "network_nodes"
    __table_args__ = (_gist("network_nodes"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    dataset: Mapped[str] = mapped_column(Text, server_default="sample", index=True)
    geom = _geom("POINT")


class NetworkEdge(Base):
    """A walkable edge, pgRouting-compatible: ``cost``/``reverse_cost`` are metres."""

    __tablename__ = "network_edges"
    __table_args__ = (
        CheckConstraint("length_m > 0", name="network_edges_length"),
        _valid("network_edges"),
        _gist("network_edges"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[int] = mapped_column(BigInteger, ForeignKey("network_nodes.id"), index=True)
    target: Mapped[int] = mapped_column(BigInteger, ForeignKey("network_nodes.id"), index=True)
    cost: Mapped[float] = mapped_column(Float)
    reverse_cost: Mapped[float] = mapped_column(Float)
    length_m: Mapped[float] = mapped_column(Float)
    highway: Mapped[str | None] = mapped_column(Text)
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    #: the street's name (OSM ``name``; the sample's road names), for basemap labels
    name: Mapped[str | None] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(Text, server_default="sample", index=True)
    geom = _geom("LINESTRING")


class WaterArea(Base):
    """Rivers and lakes (basemap drawing; walking never crosses them except on bridges)."""

    __tablename__ = "water_areas"
    __table_args__ = (_valid("water_areas"), _gist("water_areas"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    geom = _geom("MULTIPOLYGON")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")


class ServiceCircle(Base):
    """A service circle (服务圈): the area reachable from a point within a walking budget."""

    __tablename__ = "service_circles"
    __table_args__ = (
        CheckConstraint(_in("method", [v.value for v in CircleMethod]),
                        name="service_circles_method"),
        CheckConstraint("minutes > 0 AND minutes <= 60", name="service_circles_minutes"),
        UniqueConstraint("point_code", "minutes", "profile", name="service_circles_key"),
        _valid("service_circles"),
        _gist("service_circles"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    point_code: Mapped[str] = mapped_column(
        String(64), ForeignKey("service_points.code", onupdate="CASCADE", ondelete="CASCADE"))
    minutes: Mapped[float] = mapped_column(Float)
    #: profile name ("standard", "adult", "elderly") or "speed:<km/h>"
    profile: Mapped[str] = mapped_column(String(32))
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    budget_m: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))
    walk_off_m: Mapped[float] = mapped_column(Float)
    snap_distance_m: Mapped[float | None] = mapped_column(Float)
    geom = _geom("MULTIPOLYGON")
    input_version: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())


class Meta(Base):
    """Key/value facts about the data (network version, loaded sample ...)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class DataVersion(Base):
    """The version of a table's data: bumped in the writing transaction by a
    statement trigger (``servicemap_bump_data_version``) on every insert, update,
    delete or truncate, whoever writes (see :mod:`geo.store.versions`)."""

    __tablename__ = "data_versions"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class AuditEntry(Base):
    """Who changed what and when (imports, API writes)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                         index=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(Text)
    entity_code: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


class ApiToken(Base):
    """An API token (``servicemap token create``): only a SHA-256 hash of the secret
    and a short prefix (for listing) are stored; the secret is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(_in("role", ("viewer", "member", "planner", "admin")),
                        name="api_tokens_role"),
        CheckConstraint("cardinality(regions) >= 1", name="api_tokens_regions"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    #: "viewer" < "member" < "planner" < "admin"
    role: Mapped[str] = mapped_column(String(16))
    #: a member token acts for one member or organisation: ``member:<code>`` / ``org:<code>``
    subject: Mapped[str | None] = mapped_column(Text)
    #: division codes the token may act on (each with everything below it)
    regions: Mapped[list[str]] = mapped_column(ARRAY(String(12)))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CoverageSnapshot(Base):
    """A stored coverage run (``servicemap coverage --save``): parameters, time and
    the full result. History: never invalidated when points or circles change."""

    __tablename__ = "coverage_snapshots"
    __table_args__ = (
        CheckConstraint("minutes > 0 AND minutes <= 60", name="coverage_snapshots_minutes"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str | None] = mapped_column(Text)
    #: not a foreign key: a snapshot outlives changes to the division table
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    region_name: Mapped[str] = mapped_column(Text)
    minutes: Mapped[float] = mapped_column(Float)
    profile: Mapped[str] = mapped_column(String(32))
    kinds: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    parameters: Mapped[dict] = mapped_column(JSONB)
    totals: Mapped[dict] = mapped_column(JSONB)
    result: Mapped[dict] = mapped_column(JSONB)
    circles: Mapped[int] = mapped_column(Integer)
    #: fingerprint of the circles used (point codes and their input versions)
    circles_version: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(Text)
    #: the saver's role (``planner``, ``cli`` ...): what a public answer shows of the actor
    actor_role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now(), index=True)


class Scenario(Base):
    """A planner's named what-if (:mod:`geo.scenarios`): changes to positions
    and paths, applied in memory by the analytics; today's tables are never
    touched."""

    __tablename__ = "scenarios"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    changes: Mapped[dict] = mapped_column(JSONB)
    actor: Mapped[str | None] = mapped_column(Text)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class CoverageSnapshotArea(Base):
    """One area row (town, village, grid cell) of a coverage snapshot."""

    __tablename__ = "coverage_snapshot_areas"
    __table_args__ = (
        CheckConstraint("buildings_covered <= buildings AND population_covered <= population "
                        "AND households_covered <= households AND compounds_covered <= compounds",
                        name="coverage_snapshot_areas_counts"),
    )
    snapshot_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("coverage_snapshots.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))
    buildings: Mapped[int] = mapped_column(BigInteger)
    buildings_covered: Mapped[int] = mapped_column(BigInteger)
    households: Mapped[int] = mapped_column(BigInteger)
    households_covered: Mapped[int] = mapped_column(BigInteger)
    population: Mapped[int] = mapped_column(BigInteger)
    population_covered: Mapped[int] = mapped_column(BigInteger)
    compounds: Mapped[int] = mapped_column(BigInteger)
    compounds_covered: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------
# the residents' side (geo.residents)
# --------------------------------------------------------------------------
def _ref(table: str, *, nullable: bool = True, length: int = 64,
         ondelete: str | None = None, index: bool = False) -> Mapped:
    return mapped_column(String(length), ForeignKey(f"{table}.code", onupdate="CASCADE",
                                                    ondelete=ondelete),
                         nullable=nullable, index=index)


class PartyOrg(Base, Timestamps):
    """A party organisation that claims wishes and projects: a branch (党支部)
    or a 双报到 organisation of a unit that reports to the community."""

    __tablename__ = "party_orgs"
    __table_args__ = (
        CheckConstraint(_in("kind", [v.value for v in OrgKind]), name="party_orgs_kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), server_default=OrgKind.BRANCH.value)
    region_code: Mapped[str] = _ref("regions", nullable=False, length=12, index=True)
    branch_code: Mapped[str | None] = _ref("party_branches", ondelete="SET NULL")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Member(Base, Timestamps):
    """A party member who claims wishes (党员); name and phone are personal data."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    region_code: Mapped[str] = _ref("regions", nullable=False, length=12, index=True)
    org_code: Mapped[str | None] = _ref("party_orgs", ondelete="SET NULL", index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    #: personal data (name, phone): never served publicly
    private: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Wish(Base, Timestamps):
    """A micro-wish (微心愿) or micro-project (微项目) and its workflow state."""

    __tablename__ = "wishes"
    __table_args__ = (
        CheckConstraint(_in("kind", [v.value for v in WishKind]), name="wishes_kind"),
        CheckConstraint(_in("state", [v.value for v in WishState]), name="wishes_state"),
        CheckConstraint("budget_yuan IS NULL OR budget_yuan >= 0", name="wishes_budget"),
        CheckConstraint("resident_score IS NULL OR resident_score BETWEEN 1 AND 5",
                        name="wishes_resident_score"),
        _valid("wishes"),
        _gist("wishes"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), server_default=WishKind.WISH.value)
    title: Mapped[str] = mapped_column(Text)
    #: the resident's own words (may name people): staff only
    text: Mapped[str | None] = mapped_column(Text)
    #: the moderated text shown on the public wish wall
    public_text: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16), server_default="other")
    region_code: Mapped[str] = _ref("regions", nullable=False, length=12, index=True)
    point_code: Mapped[str | None] = _ref("service_points", ondelete="SET NULL")
    grid_code: Mapped[str | None] = _ref("grid_cells", ondelete="SET NULL", index=True)
    compound_code: Mapped[str | None] = _ref("compounds", ondelete="SET NULL")
    #: the exact location (a home): staff only; public answers use the grid cell
    geom = _geom("POINT", nullable=True)
    budget_yuan: Mapped[float | None] = mapped_column(Numeric(12, 1))
    channel: Mapped[str] = mapped_column(String(16), server_default="online")
    state: Mapped[str] = mapped_column(String(16), server_default=WishState.POSTED.value,
                                       index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    resident_score: Mapped[int | None] = mapped_column(SmallInteger)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    #: personal data (resident's name, phone, address): erased on withdrawal
    private: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    entered_by: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")


class WishClaim(Base):
    """A claim of a wish by a member (and the member's organisation) or by an
    organisation; a wish may have several."""

    __tablename__ = "wish_claims"
    __table_args__ = (
        CheckConstraint("member_code IS NOT NULL OR org_code IS NOT NULL",
                        name="wish_claims_claimant"),
        CheckConstraint("points >= 0", name="wish_claims_points"),
        Index("wish_claims_once", "wish_code", text("COALESCE(member_code, '')"),
              text("COALESCE(org_code, '')"), unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wish_code: Mapped[str] = _ref("wishes", nullable=False, ondelete="CASCADE", index=True)
    member_code: Mapped[str | None] = _ref("members", ondelete="SET NULL")
    org_code: Mapped[str | None] = _ref("party_orgs", ondelete="SET NULL")
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    #: the resident accepted this claimant: from now on it sees the contact
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: 积分 earned when the wish is fulfilled
    points: Mapped[int] = mapped_column(Integer, server_default="0")
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")


class WishEvent(Base):
    """One step of a wish's workflow: who moved it from which state to which."""

    __tablename__ = "wish_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wish_code: Mapped[str] = _ref("wishes", nullable=False, ondelete="CASCADE", index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(Text)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


class Activity(Base, Timestamps):
    """An activity held at a position (月月有活动)."""

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="activities_span"),
        CheckConstraint("(capacity IS NULL OR capacity >= 0) AND signups >= 0 AND "
                        "(attendance IS NULL OR attendance >= 0)", name="activities_counts"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    point_code: Mapped[str] = _ref("service_points", nullable=False, ondelete="CASCADE",
                                   index=True)
    title: Mapped[str] = mapped_column(Text)
    theme: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int | None] = mapped_column(Integer)
    signups: Mapped[int] = mapped_column(Integer, server_default="0")
    #: person-times (人次) who came
    attendance: Mapped[int | None] = mapped_column(Integer)
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Rating(Base):
    """A resident's rating of a position: one per phone, position and period."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="ratings_score"),
        UniqueConstraint("point_code", "period", "phone_hash", name="ratings_once"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    point_code: Mapped[str] = _ref("service_points", nullable=False, ondelete="CASCADE",
                                   index=True)
    #: the rating period (``2026Q4``)
    period: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    #: keyed hash of the phone (the phone itself is never stored for a rating)
    phone_hash: Mapped[str] = mapped_column(String(64))
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class OtpCode(Base):
    """A one-time code sent to a phone (only hashes are stored)."""

    __tablename__ = "otp_codes"
    __table_args__ = (Index("ix_otp_codes_phone_hash", "phone_hash", "created_at"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppSecret(Base):
    """Keys that never leave the database (the key of the phone hashes)."""

    __tablename__ = "app_secrets"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
