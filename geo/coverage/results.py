"""Typed results of the coverage analytics.

Every report is a frozen dataclass whose attributes are the figures, and whose
:meth:`Result.as_dict` gives the JSON-ready dict the API answers and snapshots
store: the keys are the attribute names, in the order of the fields (or of
``_keys`` where a subclass inserts fields in the middle), nested results become
dicts, tuples become lists, and a field declared with ``_omitted()`` is left
out while it is ``None`` (an optional part: ``by_point``, ``detail`` lists).

Units are those of the figures: counts, people, metres (``*_m``), square metres
(``*_m2``), percentages (``*_pct``, ``percent``: 0-100, rounded exactly, see
:func:`geo.coverage.arithmetic.percent`); coordinates are WGS-84 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "Area",
    "AreaCoverage",
    "AreaDelta",
    "AreaGap",
    "BranchCoverage",
    "BranchRow",
    "CircleSummary",
    "CompoundInGrid",
    "CompoundWithoutBranch",
    "GapAreas",
    "GapBuilding",
    "GapCompound",
    "GapReport",
    "GridCellFigures",
    "GridCoverage",
    "GridGap",
    "GridKindSummary",
    "GridOverlap",
    "GridView",
    "HexCell",
    "Hexagons",
    "ParametersUsed",
    "PointReach",
    "PopulationSourceUsed",
    "ReachCoverage",
    "RegionArea",
    "Result",
    "RoundingUsed",
    "RuleStatement",
    "Share",
    "SnapshotComparison",
    "SnapshotInfo",
    "SnapshotMeta",
    "StoredSnapshot",
    "SuppressedCells",
]


def _omitted() -> Any:
    """A field left out of :meth:`Result.as_dict` while it is ``None``."""
    return field(default=None, metadata={"omit_none": True})


def _plain(value: Any) -> Any:
    """The JSON-ready form of a field value (plain dicts are JSON-ready already)."""
    if isinstance(value, Result):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_LAYOUTS: dict[type, tuple[tuple[str, bool], ...]] = {}


class Result:
    """Base of the typed results: attributes, and :meth:`as_dict` for JSON."""

    __slots__ = ()
    #: output order of the keys when it differs from the field order
    _keys: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def _layout(cls) -> tuple[tuple[str, bool], ...]:
        layout = _LAYOUTS.get(cls)
        if layout is None:
            omit = {f.name: bool(f.metadata.get("omit_none")) for f in fields(cls)}
            names = cls._keys or tuple(omit)
            layout = _LAYOUTS[cls] = tuple((n, omit[n]) for n in names)
        return layout

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of this result (what the API answers)."""
        out: dict[str, Any] = {}
        for name, omit in self._layout():
            v = getattr(self, name)
            if v is None and omit:
                continue
            out[name] = _plain(v)
        return out


# ====================================================================== shared parts
@dataclass(frozen=True, kw_only=True)
class Share(Result):
    """A share as an exact fraction and a rounded percentage.

    ``fraction`` is not reduced (``"32/36"``); ``percent`` has ``decimals``
    digits (None when the denominator is 0) and ``percent_text`` is its text
    (``"88.89%"``, ``"—"``).
    """

    numerator: int | float
    denominator: int
    fraction: str
    percent: float | None
    percent_text: str
    rounding: str
    decimals: int


@dataclass(frozen=True, kw_only=True)
class RuleStatement(Result):
    """A counting rule as data and as sentences (English, Chinese); ``building``
    and ``compound`` name the coverage rules (reach and gaps only)."""

    building: str | None = _omitted()
    compound: str | None = _omitted()
    text: str
    text_zh: str


@dataclass(frozen=True, kw_only=True)
class RoundingUsed(Result):
    """How the percentages of a report are rounded (``mode_zh``: branch coverage)."""

    mode: str
    mode_zh: str | None = _omitted()
    decimals: int


@dataclass(frozen=True, kw_only=True)
class ParametersUsed(Result):
    """The parameters of a coverage run as measured.

    ``minutes`` of walking at ``speed_kmh`` km/h give ``budget_m`` metres;
    ``profile`` is the profile key of the circles (``custom:4.2`` for an
    explicit speed); ``kinds`` the point kinds whose circles count (all when
    none was chosen).
    """

    minutes: float
    profile: str
    speed_kmh: float
    budget_m: float
    kinds: tuple[str, ...]
    kinds_zh: tuple[str, ...]
    rule: RuleStatement
    rounding: str
    rounding_zh: str
    decimals: int
    #: only the circles of positions open at this instant (China time) count
    open_at: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class CircleSummary(Result):
    """The stored circles a run used: how many, which are stale (their point or
    network changed since), which points have none (first 50 of each),
    when the newest was computed (ISO 8601) and a fingerprint of them all."""

    count: int
    stale: int
    stale_points: tuple[str, ...]
    missing: int
    missing_points: tuple[str, ...]
    computed_at: str | None
    version: str


@dataclass(frozen=True, kw_only=True)
class PopulationSourceUsed(Result):
    """Where the people a run counts came from (``buildings.population_source``).

    ``source`` is the one source of every person counted — ``census`` (village
    census totals spread over the buildings by floor area), ``imported`` (a
    planner's file per building), ``sample`` (generated), ``unknown`` (no source
    recorded, or nobody lives in the region) — or ``mixed`` when the people come
    from several; ``people`` counts them per source (sources with people only).
    ``source_zh`` is its Chinese name and ``label_zh`` the line for tables
    (``人口来源：普查分摊``).
    """

    source: str
    source_zh: str
    label_zh: str
    people: dict[str, int]


@dataclass(frozen=True)
class Area(Result):
    """A region (or grid cell) results are reported for."""

    code: str
    name: str
    level: str


@dataclass(frozen=True)
class RegionArea(Area):
    """The requested region of a run, with the code of the region above it."""

    parent_code: str | None


# ====================================================================== reach
@dataclass(frozen=True, kw_only=True)
class AreaCoverage(Result):
    """What the circles reach in one area (the region, a village/community).

    Counts of buildings, households, people and compounds, each with the part
    covered; ``*_fraction`` exact (``"230/500"``) and ``*_pct`` rounded from it.
    ``compounds_covered`` follows the compound rule (a fraction of compounds
    under ``population_share``, rounded like the percentages);
    ``compounds_full``/``_partial``/``_uncovered`` count compounds whose
    population is wholly, partly or not at all covered.
    """

    code: str
    name: str
    level: str
    buildings: int
    buildings_covered: int
    buildings_fraction: str
    buildings_pct: float | None
    households: int
    households_covered: int
    population: int
    population_covered: int
    population_uncovered: int
    population_fraction: str
    population_pct: float | None
    compounds: int
    compounds_covered: float
    compounds_full: int
    compounds_partial: int
    compounds_uncovered: int
    compounds_pct: float | None


_AREA_FIGURES = tuple(f.name for f in fields(AreaCoverage))[3:]


@dataclass(frozen=True, kw_only=True)
class GridCoverage(AreaCoverage):
    """What the circles reach in one grid cell (``kind``: governance or party),
    with the village it belongs to and its stored branch flag."""

    kind: str
    region_code: str | None
    region_name: str | None
    has_branch: bool
    _keys: ClassVar[tuple[str, ...]] = ("code", "name", "level", "kind", "region_code",
                                        "region_name", "has_branch", *_AREA_FIGURES)


@dataclass(frozen=True, kw_only=True)
class PointReach(Result):
    """What one point's circle reaches in the region: buildings, people, and the
    people no other circle reaches."""

    code: str
    name: str
    kind: str
    buildings: int
    population: int
    population_only_here: int


@dataclass(frozen=True, kw_only=True)
class _RunHeader(Result):
    """What every coverage run states: region, parameters, rule, circles, time
    (ISO 8601, UTC), the CRS of its coordinates and where its population came
    from."""

    region: RegionArea
    parameters: ParametersUsed
    rule: RuleStatement
    circles: CircleSummary
    computed_at: str
    crs: str
    population_source: PopulationSourceUsed


@dataclass(frozen=True, kw_only=True)
class ReachCoverage(_RunHeader):
    """Who the circles reach: the region's ``totals``, each village/community
    (``by_region``; empty for a village), each grid cell of every kind
    (``by_grid``) and each point (``by_point``, most people first; None when
    not asked for). Aggregates only."""

    totals: AreaCoverage
    by_region: tuple[AreaCoverage, ...]
    by_grid: tuple[GridCoverage, ...]
    by_point: tuple[PointReach, ...] | None = _omitted()

    @property
    def areas(self) -> tuple[AreaCoverage, ...]:
        """Every area row: the region, its villages, its grid cells."""
        return (self.totals, *self.by_region, *self.by_grid)


# ====================================================================== branches, dual grid
@dataclass(frozen=True, kw_only=True)
class BranchRow(Result):
    """Compounds with a party branch in one area, and how many branches."""

    code: str
    name: str
    level: str
    compounds: int
    with_branch: int
    without_branch: int
    branches: int
    fraction: str
    percent: float | None
    percent_text: str


@dataclass(frozen=True, kw_only=True)
class CompoundWithoutBranch(Result):
    """A compound no branch covers (planners' detail)."""

    code: str
    name: str
    region_code: str
    region_name: str
    population: int


@dataclass(frozen=True, kw_only=True)
class BranchCoverage(Result):
    """Compounds with a party branch / all compounds, for the region and per
    community; ``percent_variants`` gives the figure under every rounding
    rule (``{"truncate": "88.88%", ...}``)."""

    region: Area
    rule: RuleStatement
    rounding: RoundingUsed
    totals: BranchRow
    percent_variants: dict[str, str]
    by_region: tuple[BranchRow, ...]
    computed_at: str
    compounds_without_branch: tuple[CompoundWithoutBranch, ...] | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class GridKindSummary(Result):
    """One kind of grid cell (治理网格 or 党建网格): cells holding a branch, grid
    workers, compounds and people in cells without one, and the cells whose
    stored flag disagrees with the branch seats found inside
    (``inconsistent``)."""

    kind: str
    kind_zh: str
    grids: int
    with_branch: int
    without_branch: int
    fraction: str
    percent: float | None
    percent_text: str
    workers: int
    compounds: int
    compounds_outside_grids: int
    compounds_in_grids_without_branch: int
    compounds_in_grids_without_branch_having_branch: int
    population_in_grids_without_branch: int
    inconsistent: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class GridCellFigures(Result):
    """One grid cell: workers, stored branch flag, branch seats found inside,
    compounds (with a branch) and people."""

    code: str
    name: str
    kind: str
    kind_zh: str
    region_code: str | None
    region_name: str | None
    workers: int
    has_branch: bool
    branch_seats: int
    compounds: int
    compounds_with_branch: int
    population: int


@dataclass(frozen=True, kw_only=True)
class GridOverlap(Result):
    """A governance cell and a party cell overlapping by ``overlap_m2`` square
    metres (UTM zone of the town), as shares of each cell's area."""

    governance_code: str
    party_code: str
    overlap_m2: float
    share_of_governance: float
    share_of_party: float


@dataclass(frozen=True, kw_only=True)
class CompoundInGrid(Result):
    """A compound in a grid cell without a branch (planners' detail)."""

    code: str
    name: str
    grid_kind: str
    grid_code: str
    grid_name: str
    has_branch: bool
    population: int


@dataclass(frozen=True, kw_only=True)
class GridView(Result):
    """The dual-grid view (双网融合): per kind, per cell, and the overlay of
    governance and party cells."""

    region: Area
    rule: RuleStatement
    rounding: RoundingUsed
    kinds: tuple[GridKindSummary, ...]
    grids: tuple[GridCellFigures, ...]
    overlay: tuple[GridOverlap, ...]
    computed_at: str
    population_source: PopulationSourceUsed
    compounds_in_grids_without_branch: tuple[CompoundInGrid, ...] | None = _omitted()


# ====================================================================== gaps
@dataclass(frozen=True, kw_only=True)
class AreaGap(Result):
    """Who is left out in one area: uncovered people, buildings and compounds."""

    code: str
    name: str
    level: str
    population: int
    population_covered: int
    population_uncovered: int
    population_pct: float | None
    buildings: int
    buildings_covered: int
    compounds: int
    compounds_uncovered: int
    compounds_partial: int
    buildings_uncovered: int


_GAP_FIGURES = tuple(f.name for f in fields(AreaGap))[3:]


@dataclass(frozen=True, kw_only=True)
class GridGap(AreaGap):
    """Who is left out in one grid cell."""

    kind: str
    region_code: str | None
    region_name: str | None
    _keys: ClassVar[tuple[str, ...]] = ("code", "name", "level", "kind", "region_code",
                                        "region_name", *_GAP_FIGURES)


@dataclass(frozen=True, kw_only=True)
class HexCell(Result):
    """An H3 cell with uncovered residents: centre (degrees) and boundary
    (GeoJSON polygon coordinates, lon/lat, closed)."""

    h3: str
    lng: float
    lat: float
    population_uncovered: int
    buildings_uncovered: int
    boundary: list[list[list[float]]]


@dataclass(frozen=True, kw_only=True)
class SuppressedCells(Result):
    """H3 cells not listed (too few uncovered buildings), summed."""

    cells: int
    population_uncovered: int
    buildings_uncovered: int
    rule: str


@dataclass(frozen=True, kw_only=True)
class Hexagons(Result):
    """Uncovered residents on H3 cells of ``resolution`` (average edge ``edge_m``
    metres, area ``area_km2`` km²), most uncovered first."""

    resolution: int
    edge_m: float
    area_km2: float
    cells: tuple[HexCell, ...]
    suppressed: SuppressedCells


@dataclass(frozen=True, kw_only=True)
class GapAreas(Result):
    """Residential land outside every circle on a ``cell_m`` metre raster,
    merged into polygons: ``features`` is GeoJSON (EPSG:4326) with each
    polygon's area (m²) and uncovered people. When there is no gap,
    ``by_region_m2``, ``rule`` and ``type`` are None (and left out)."""

    cell_m: float
    count: int
    area_m2: float
    by_region_m2: dict[str, float] | None = _omitted()
    rule: str | None = _omitted()
    type: str | None = _omitted()
    features: tuple[dict[str, Any], ...]


@dataclass(frozen=True, kw_only=True)
class GapCompound(Result):
    """A compound ranked by uncovered population (planners' detail); ranked by
    uncovered population plus ``wish_weight`` per unmet wish in its uncovered
    buildings when the report is weighted by wishes (``wishes_unmet`` then)."""

    rank: int
    code: str
    name: str
    region_code: str
    region_name: str
    population: int
    population_uncovered: int
    covered_pct: float | None
    wishes_unmet: float | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class GapBuilding(Result):
    """An uncovered building ranked by population (planners' detail);
    ``lng``/``lat``: its centroid, degrees."""

    rank: int
    code: str | None
    id: int
    compound_code: str | None
    region_code: str
    region_name: str
    population: int
    households: int
    lng: float
    lat: float


@dataclass(frozen=True, kw_only=True)
class GapReport(_RunHeader):
    """Who and where is left out: per area (most uncovered first), H3 cells,
    gap areas (None when not computed) and, for planners, the ranked compounds
    and buildings (None without ``detail``)."""

    totals: AreaGap
    by_region: tuple[AreaGap, ...]
    by_grid: tuple[GridGap, ...]
    hexagons: Hexagons
    areas: GapAreas | None = _omitted()
    compounds: tuple[GapCompound, ...] | None = _omitted()
    buildings: tuple[GapBuilding, ...] | None = _omitted()


# ====================================================================== snapshots
@dataclass(frozen=True, kw_only=True)
class SnapshotInfo(Result):
    """A stored coverage run in a listing, with its covered population."""

    id: int
    label: str | None
    region_code: str
    region_name: str
    minutes: float
    profile: str
    kinds: tuple[str, ...]
    circles: int
    circles_version: str | None
    actor: str | None
    created_at: str
    population_covered: int | None
    population_pct: float | None


@dataclass(frozen=True, kw_only=True)
class StoredSnapshot(Result):
    """A stored coverage run: its metadata and ``result``, the stored JSON of the
    :class:`ReachCoverage` it recorded (history: kept as stored)."""

    id: int
    label: str | None
    actor: str | None
    created_at: str
    result: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "actor": self.actor,
                "created_at": self.created_at, **self.result}


@dataclass(frozen=True, kw_only=True)
class SnapshotMeta(Result):
    """One side of a comparison."""

    id: int
    label: str | None
    region_code: str
    created_at: str
    circles: int
    circles_version: str | None


@dataclass(frozen=True, kw_only=True)
class AreaDelta(Result):
    """One area in two snapshots: each figure before, after and the change (None
    where the area is in one snapshot only); population percentages recomputed
    exactly from the counts."""

    level: str
    code: str
    name: str
    kind: str | None
    buildings_before: int | None
    buildings_after: int | None
    buildings_delta: int | None
    buildings_covered_before: int | None
    buildings_covered_after: int | None
    buildings_covered_delta: int | None
    households_before: int | None
    households_after: int | None
    households_delta: int | None
    households_covered_before: int | None
    households_covered_after: int | None
    households_covered_delta: int | None
    population_before: int | None
    population_after: int | None
    population_delta: int | None
    population_covered_before: int | None
    population_covered_after: int | None
    population_covered_delta: int | None
    compounds_before: int | None
    compounds_after: int | None
    compounds_delta: int | None
    compounds_covered_before: float | None
    compounds_covered_after: float | None
    compounds_covered_delta: float | None
    population_pct_before: float | None
    population_pct_after: float | None


@dataclass(frozen=True, kw_only=True)
class SnapshotComparison(Result):
    """Two snapshots compared: which parameters differ (then the figures are not
    like for like), the region's row (None when the regions differ) and every
    area's."""

    before: SnapshotMeta
    after: SnapshotMeta
    parameters_differ: tuple[str, ...]
    same_region: bool
    totals: AreaDelta | None
    areas: tuple[AreaDelta, ...]
