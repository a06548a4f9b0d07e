"""Coverage analytics for planners: who the service circles reach, branch
coverage, the dual-grid view (双网融合), gaps, and snapshots.

Everything is computed on demand from the current rows (buildings, compounds,
grid cells, party branches) and the current stored service circles: there is
no cache of "current coverage", so a moved point or a rebuilt network shows
up as soon as its circles are recomputed. Snapshots (:func:`save_snapshot`)
are the historical record and are never invalidated.

Coordinates
    Rows are read in EPSG:4326 (WGS-84 lon/lat, degrees). Point-in-polygon
    tests run in lon/lat, exactly like PostGIS ``ST_Intersects`` on the stored
    geometries; areas and distances are computed in the UTM zone of the town
    (:func:`geo.crs.metric_crs_for`), in metres.

Rules (explicit in every result)
    ``building``: ``centroid`` (default: a building is covered when its
    footprint centroid lies in a circle, boundary included), ``intersects``
    (any part of the footprint touches a circle) or ``within`` (the whole
    footprint lies inside the union of the circles).
    ``compound``: ``population_share`` (default: a compound counts as covered by
    the share of its population living in covered buildings, so 3 compounds
    half covered count 1.5), ``any`` (counts 1 when any of its buildings is
    covered), ``majority`` (1 when at least half its population is covered) or
    ``all`` (1 when all of it is). A compound without buildings counts as
    covered when its point on surface lies in a circle.
    Population and households are always counted by building.

Percentages
    Exact: numerators and denominators are integers (or exact fractions for
    compound shares), and the percentage is rounded from the exact value with
    the stated rule (:func:`percent`) — ``half_up`` to two decimals by default
    (32/36 → 88.89 %), or ``truncate`` (32/36 → 88.88 %, the published figure).

The hot path (:func:`covered_mask`) tests building centroids held as NumPy
arrays against prepared circle polygons with ``shapely.intersects_xy`` after
a bounding-box cut; ``bench/coverage.py`` compares it with a GeoPandas
``sjoin`` and a PostGIS join.

Modules (everything public is importable from ``geo.coverage`` itself)
    ``arithmetic``  rules, exact percentages and shares, :class:`CoverageParams`
    ``loading``     regions (:func:`resolve_region`), the town in memory
                    (:class:`Town`, :func:`load_town`), stored circles
                    (:class:`CircleSet`, :func:`load_circles`)
    ``reach``       the kernels, :func:`analyse` and :func:`reach_coverage`
    ``branches``    :func:`branch_coverage` and the dual-grid :func:`grid_view`
    ``gaps``        :func:`gap_report`, H3 hexagons, gap areas
    ``snapshots``   :func:`save_snapshot`, :func:`list_snapshots`,
                    :func:`get_snapshot`, :func:`compare_snapshots`
    ``tables``      Chinese table views and their CSV/XLSX/text exports
                    (through :mod:`geo.io.sheets`)
    ``results``     the typed results; ``as_dict()`` gives their JSON
"""

from geo.coverage.arithmetic import (
    BUILDING_RULES,
    COMPOUND_RULES,
    ROUNDINGS,
    CoverageParams,
    CoverageRule,
    percent,
    share,
)
from geo.coverage.branches import BRANCH_RULE, branch_coverage, grid_view
from geo.coverage.demand import UNMET_STATES, wish_shares, wishes_outside
from geo.coverage.gaps import gap_report, h3_resolution_for
from geo.coverage.loading import (
    GRID_KIND_ZH,
    LEVEL_ZH,
    CircleSet,
    RegionScope,
    Town,
    _index_xy,  # noqa: F401  (read by geo.siting)
    building_codes,
    load_circles,
    load_town,
    population_source,
    resolve_region,
)
from geo.coverage.reach import (
    Analysis,
    analyse,
    circle_hits,
    compound_shares,
    covered_mask,
    points_in_polygons,
    reach_coverage,
)
from geo.coverage.results import (
    Area,
    AreaCoverage,
    AreaDelta,
    AreaGap,
    BranchCoverage,
    BranchRow,
    CircleSummary,
    CompoundInGrid,
    CompoundWithoutBranch,
    GapAreas,
    GapBuilding,
    GapCompound,
    GapReport,
    GridCellFigures,
    GridCoverage,
    GridGap,
    GridKindSummary,
    GridOverlap,
    GridView,
    Hexagons,
    HexCell,
    ParametersUsed,
    PointReach,
    PopulationSourceUsed,
    ReachCoverage,
    RegionArea,
    Result,
    RoundingUsed,
    RuleStatement,
    Share,
    SnapshotComparison,
    SnapshotInfo,
    SnapshotMeta,
    StoredSnapshot,
    SuppressedCells,
)
from geo.coverage.snapshots import (
    compare_snapshots,
    get_snapshot,
    list_snapshots,
    save_snapshot,
)
from geo.coverage.tables import (
    COLUMNS_ZH,
    export_csv,
    export_xlsx,
    format_table,
    parameter_rows,
    table_rows,
)

__all__ = [
    "UNMET_STATES",
    "wish_shares",
    "wishes_outside",
    "BRANCH_RULE",
    "BUILDING_RULES",
    "COLUMNS_ZH",
    "COMPOUND_RULES",
    "GRID_KIND_ZH",
    "LEVEL_ZH",
    "ROUNDINGS",
    "Analysis",
    "Area",
    "AreaCoverage",
    "AreaDelta",
    "AreaGap",
    "BranchCoverage",
    "BranchRow",
    "CircleSet",
    "CircleSummary",
    "CompoundInGrid",
    "CompoundWithoutBranch",
    "CoverageParams",
    "CoverageRule",
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
    "RegionScope",
    "Result",
    "RoundingUsed",
    "RuleStatement",
    "Share",
    "SnapshotComparison",
    "SnapshotInfo",
    "SnapshotMeta",
    "StoredSnapshot",
    "SuppressedCells",
    "Town",
    "analyse",
    "branch_coverage",
    "building_codes",
    "circle_hits",
    "compare_snapshots",
    "compound_shares",
    "covered_mask",
    "export_csv",
    "export_xlsx",
    "format_table",
    "gap_report",
    "get_snapshot",
    "grid_view",
    "h3_resolution_for",
    "list_snapshots",
    "load_circles",
    "load_town",
    "parameter_rows",
    "percent",
    "points_in_polygons",
    "population_source",
    "reach_coverage",
    "resolve_region",
    "save_snapshot",
    "share",
    "table_rows",
]
