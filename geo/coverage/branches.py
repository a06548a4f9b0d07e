"""Party branches: compounds with a branch / all compounds (the 88.88 % figure),
and the dual-grid view (双网融合) of governance and party-building grid cells.

Percentages are exact fractions rounded with the stated rule
(:func:`geo.coverage.arithmetic.percent`); overlaps of grid cells are computed
in metres in the UTM zone of the town.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage.arithmetic import _ROUNDING_TEXT, ROUNDINGS, _check_rounding, percent, share
from geo.coverage.loading import GRID_KIND_ZH, Town, _metric_crs, _to_metric, load_town
from geo.coverage.results import (
    Area,
    BranchCoverage,
    BranchRow,
    CompoundInGrid,
    CompoundWithoutBranch,
    GridCellFigures,
    GridKindSummary,
    GridOverlap,
    GridView,
    RoundingUsed,
    RuleStatement,
)
from geo.errors import InvalidInput, Problem
from geo.vocab import GridKind

__all__ = ["BRANCH_RULE", "branch_coverage", "grid_view"]


# ====================================================================== branches
def _branch_compounds(conn: Connection) -> tuple[set[str], dict[str, set[str]]]:
    rows = conn.execute(text("""
        SELECT bc.compound_code AS compound, b.code AS branch
        FROM branch_compounds bc JOIN party_branches b ON b.code = bc.branch_code
        WHERE b.deleted_at IS NULL
        UNION
        SELECT seat_compound_code, code FROM party_branches
        WHERE deleted_at IS NULL AND seat_compound_code IS NOT NULL""")).all()
    by_compound: dict[str, set[str]] = {}
    for r in rows:
        by_compound.setdefault(r.compound, set()).add(r.branch)
    return set(by_compound), by_compound


def _seats(conn: Connection) -> dict[str, list[str]]:
    rows = conn.execute(text(
        "SELECT seat_compound_code AS c, code FROM party_branches "
        "WHERE deleted_at IS NULL AND seat_compound_code IS NOT NULL ORDER BY code")).all()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r.c, []).append(r.code)
    return out


#: how branch coverage counts (stated in every result)
BRANCH_RULE = {
    "text": "a compound has a party branch when a party branch (not deleted) lists it among "
            "its compounds or is seated in it; coverage = compounds with a branch / all "
            "compounds",
    "text_zh": "小区被某个党支部（未撤销）覆盖或为其驻地即视为“有党支部”；"
               "覆盖率 = 有党支部的小区数 / 小区总数",
}


def branch_coverage(conn: Connection, region: str | None, *, rounding: str = "half_up",
                    decimals: int = 2, detail: bool = False, town: Town | None = None
                    ) -> BranchCoverage:
    """Compounds with a party branch / all compounds, overall and per community.

    Parameters
    ----------
    conn
        Connection.
    region
        Division code (``None``: the only town).
    rounding, decimals
        Percentage rounding (:func:`percent`): ``half_up`` gives 88.89 % for
        32/36, ``truncate`` the published 88.88 %.
    detail
        Include the compounds without a branch (names, population): for
        planners.
    town
        An already loaded town (compounds are enough).

    Returns
    -------
    BranchCoverage
        ``totals`` and ``by_region`` rows with ``compounds``, ``with_branch``,
        ``without_branch``, ``branches``, ``fraction`` (``"32/36"``),
        ``percent`` and ``percent_text``; ``percent_variants`` gives the
        figure under every rounding rule; ``compounds_without_branch`` is None
        unless ``detail``.
    """
    _check_rounding(rounding, decimals)
    if town is None:
        town = load_town(conn, region, buildings=False)
    if len(town.c_code) == 0:
        raise InvalidInput(
            f"区划 {town.region.code} {town.region.name} 没有住宅小区",
            [Problem("支部覆盖率以小区数为分母，这里没有小区数据",
                     column="region", value=town.region.code,
                     expected="有小区数据的区划")])
    with_branch, branches_of = _branch_compounds(conn)
    has = np.array([c in with_branch for c in town.c_code.tolist()], dtype=bool)

    def row(area: Area, sel: np.ndarray) -> BranchRow:
        n, k = int(sel.sum()), int((has & sel).sum())
        br = set().union(*[branches_of.get(c, set()) for c in town.c_code[sel & has].tolist()])
        s = share(k, n, rounding=rounding, decimals=decimals)
        return BranchRow(code=area.code, name=area.name, level=area.level, compounds=n,
                         with_branch=k, without_branch=n - k, branches=len(br),
                         fraction=s.fraction, percent=s.percent, percent_text=s.percent_text)

    all_sel = np.ones(len(town.c_code), dtype=bool)
    totals = row(town.region, all_sel)
    by_region = [row(a, town.c_leaf == i) for i, a in enumerate(town.leaves)] \
        if town.leaves[0].code != town.region.code else []
    n, k = totals.compounds, totals.with_branch
    without = None
    if detail:
        leaf_name = [a.name for a in town.leaves]
        missing = np.flatnonzero(~has)
        without = tuple(sorted(
            (CompoundWithoutBranch(code=str(town.c_code[i]), name=str(town.c_name[i]),
                                   region_code=town.leaves[int(town.c_leaf[i])].code,
                                   region_name=leaf_name[int(town.c_leaf[i])],
                                   population=int(town.c_pop[i])) for i in missing),
            key=lambda r: (-r.population, r.code)))
    return BranchCoverage(
        region=Area(town.region.code, town.region.name, town.region.level),
        rule=RuleStatement(**BRANCH_RULE),
        rounding=RoundingUsed(mode=rounding, mode_zh=_ROUNDING_TEXT[rounding],
                              decimals=decimals),
        totals=totals,
        percent_variants={m: f"{percent(k, n, rounding=m, decimals=decimals)}%"
                          for m in ROUNDINGS},
        by_region=tuple(by_region),
        computed_at=datetime.now(UTC).isoformat(),
        compounds_without_branch=without)


# ====================================================================== dual grid (双网融合)
_GRID_RULE = {
    "text": "a grid cell holds a branch when its stored has_branch flag is set "
            "(branch_seats counts the branch seat compounds found inside, as a "
            "check); compounds and buildings are placed in cells by point on "
            "surface and centroid",
    "text_zh": "网格“有党支部”以网格登记的 has_branch 为准"
               "（branch_seats 为落在网格内的支部驻地小区数，用于核对）；"
               "小区按内点、建筑按质心归入网格",
}


def grid_view(conn: Connection, region: str | None, *, rounding: str = "half_up",
              decimals: int = 2, detail: bool = False, min_overlap: float = 0.01,
              town: Town | None = None) -> GridView:
    """The dual-grid view: governance grid cells (治理网格) and party-building
    grid cells (党建网格) side by side.

    For each kind: how many cells hold a party branch (the stored
    ``has_branch``; for longteng 4 of 12), the compounds and people in cells
    without one; per cell: compounds, compounds with a branch, branch seats
    found inside, population. ``overlay`` lists, for each governance cell, the
    party cells overlapping it (share of area, computed in metres in the UTM
    zone), when both kinds exist.

    Parameters
    ----------
    conn
        Connection.
    region
        Division code (``None``: the only town).
    rounding, decimals
        Percentage rounding (:func:`geo.coverage.arithmetic.percent`).
    detail
        Include the compounds that sit in cells without a branch (planners).
    min_overlap
        Smallest share of a cell's area reported in ``overlay`` (0-1).
    town
        An already loaded town.

    Returns
    -------
    GridView
        ``kinds``, ``grids`` and ``overlay``; ``compounds_in_grids_without_branch``
        is None unless ``detail``.
    """
    _check_rounding(rounding, decimals)
    if town is None:
        town = load_town(conn, region)
    if len(town.g_code) == 0:
        raise InvalidInput(
            f"区划 {town.region.code} {town.region.name} 没有网格",
            [Problem("双网格视图需要治理网格或党建网格数据",
                     column="region", value=town.region.code,
                     expected="有网格数据的区划")])
    with_branch, _ = _branch_compounds(conn)
    seats = _seats(conn)
    has = np.array([c in with_branch for c in town.c_code.tolist()], dtype=bool)
    leaf_name = {a.code: a.name for a in town.leaves}
    cells: list[GridCellFigures] = []
    kinds: list[GridKindSummary] = []
    detail_rows: list[CompoundInGrid] = []
    for kind in sorted(set(town.g_kind.tolist())):
        idx = np.flatnonzero(town.g_kind == kind)
        bg, cg = town.b_grid[kind], town.c_grid[kind]
        for i in idx:
            in_c = cg == i
            cells.append(GridCellFigures(
                code=str(town.g_code[i]), name=str(town.g_name[i]), kind=kind,
                kind_zh=GRID_KIND_ZH.get(kind, kind), region_code=town.g_region[i],
                region_name=leaf_name.get(town.g_region[i]),
                workers=int(town.g_workers[i]), has_branch=bool(town.g_has_branch[i]),
                branch_seats=sum(len(seats.get(c, ())) for c in town.c_code[in_c].tolist()),
                compounds=int(in_c.sum()), compounds_with_branch=int((in_c & has).sum()),
                population=int(town.b_pop[bg == i].sum()) if len(bg) else 0,
            ))
        kc = [c for c in cells if c.kind == kind]
        n, k = len(kc), sum(c.has_branch for c in kc)
        no_branch = set(np.flatnonzero(~town.g_has_branch).tolist()) & set(idx.tolist())
        in_nb = np.isin(cg, list(no_branch)) if len(cg) else np.zeros(0, bool)
        s = share(k, n, rounding=rounding, decimals=decimals)
        kinds.append(GridKindSummary(
            kind=kind, kind_zh=GRID_KIND_ZH.get(kind, kind), grids=n,
            with_branch=k, without_branch=n - k, fraction=s.fraction,
            percent=s.percent, percent_text=s.percent_text,
            workers=sum(c.workers for c in kc),
            compounds=int((cg >= 0).sum()), compounds_outside_grids=int((cg < 0).sum()),
            compounds_in_grids_without_branch=int(in_nb.sum()),
            compounds_in_grids_without_branch_having_branch=int((in_nb & has).sum()),
            population_in_grids_without_branch=(
                int(town.b_pop[np.isin(bg, list(no_branch))].sum()) if len(bg) else 0),
            inconsistent=tuple(c.code for c in kc if c.has_branch != (c.branch_seats > 0)),
        ))
        if detail:
            for ci in np.flatnonzero(in_nb).tolist():
                g = int(cg[ci])
                detail_rows.append(CompoundInGrid(
                    code=str(town.c_code[ci]), name=str(town.c_name[ci]),
                    grid_kind=kind, grid_code=str(town.g_code[g]),
                    grid_name=str(town.g_name[g]), has_branch=bool(has[ci]),
                    population=int(town.c_pop[ci])))
    listed = None
    if detail:
        listed = tuple(sorted(detail_rows,
                              key=lambda r: (r.grid_kind, r.grid_code, -r.population)))
    return GridView(
        region=Area(town.region.code, town.region.name, town.region.level),
        rule=RuleStatement(**_GRID_RULE),
        rounding=RoundingUsed(mode=rounding, decimals=decimals),
        kinds=tuple(kinds), grids=tuple(cells), overlay=tuple(_overlay(town, min_overlap)),
        computed_at=datetime.now(UTC).isoformat(),
        population_source=town.population_source(),
        compounds_in_grids_without_branch=listed)


def _overlay(town: Town, min_overlap: float) -> list[GridOverlap]:
    gov = np.flatnonzero(town.g_kind == GridKind.GOVERNANCE.value)
    party = np.flatnonzero(town.g_kind == GridKind.PARTY.value)
    if not len(gov) or not len(party):
        return []
    crs = _metric_crs(town)
    gm = _to_metric(town.g_geom, crs)
    tree = shapely.STRtree(gm[party])
    gi, pi = tree.query(gm[gov], predicate="intersects")
    out = []
    for a, b in zip(gov[gi].tolist(), party[pi].tolist(), strict=True):
        inter = shapely.area(shapely.intersection(gm[a], gm[b]))
        sa, sb = inter / shapely.area(gm[a]), inter / shapely.area(gm[b])
        if max(sa, sb) >= min_overlap:
            out.append(GridOverlap(governance_code=str(town.g_code[a]),
                                   party_code=str(town.g_code[b]),
                                   overlap_m2=round(float(inter), 1),
                                   share_of_governance=round(float(sa), 4),
                                   share_of_party=round(float(sb), 4)))
    return out
