"""The planner map (规划版地图): service circles, coverage per village and per
grid, uncovered compounds by population, party-branch coverage of compounds
and proposed sites, with a legend and a layer control; the residents' side:
wishes per grid cell (open, unclaimed, overdue) and the centers' activities
per month of the year with those that missed the monthly rule (月月有活动).

Public, aggregate only: the page shows counts and shares per area and per
compound and the public attributes of positions — never grid workers, party
members or households (personal data stay behind the planner API).

Figures come from :mod:`geo.coverage` (``analyse`` + ``reach_coverage`` per
village and grid, per compound; ``branch_coverage``; the walk from every home
and 2SFCA supply per village from :mod:`geo.coverage.access`, with the
walking-time heatmap from the ``walktime`` tiles) and proposed sites from
:func:`geo.siting.site` (greedy, on request: ``sites=K``). A saved scenario
is shown beside today by the page's script (``?scenario=ID``): it reads the
scenario and its comparison from the token-protected API with the planner's
own token, so the cached page itself holds nothing private. Wishes per cell
come from :func:`geo.residents.planning.wish_grid_counts` (cells under 3
wishes: outline only), activities from :func:`geo.residents.activities.monthly`;
both read only what the web's reader role may read. Where the analysis
cannot run (a region without buildings, or no stored circles) the page falls
back to the display rule of the ``coverage`` tile layer (a compound counts as
reached when a stored circle contains its representative point) and says so.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage.results import ReachCoverage
from maps.basemap import choose_basemap
from maps.layers import source_sql
from maps.pages import AppScript, finish_html, local_map
from maps.resident import resident_points
from maps.scope import Scope, resolve_scope
from maps.settings import MapSettings
from maps.style import (
    BADGE_SYNTHETIC,
    CIRCLE,
    COMPOUND_UNCOVERED_RAMP,
    COVERAGE_RAMP,
    SUPPLY_RAMP,
    WALK_DELTA_RAMP,
    WALK_RAMP,
    WALK_UNREACHABLE,
    WISH_OPEN_RAMP,
    coverage_colour,
    kinds_json,
    ramp_colour,
)

__all__ = ["format_share", "planner_config", "planner_html", "planner_sites"]


def _ramp(ramp: list[tuple[Any, str, str]]) -> list[dict[str, Any]]:
    """A ``(lower bound, colour, label)`` ramp as the page's legend reads it."""
    return [{"min": a, "colour": c, "label": lab} for a, c, lab in ramp]


def format_share(part: int, whole: int) -> str:
    """A share as a percentage with two decimals, **rounded** half up
    (32/36 → "88.89%"; the Longteng article truncates to 88.88%)."""
    if whole <= 0:
        return "—"
    value = part * 10000 / whole
    return f"{int(value + 0.5) / 100:.2f}%"


def _share_props(name: str, code: str, compounds: int, covered_compounds: float,
                 population: int, covered_population: int, pct: float | None) -> dict[str, Any]:
    share = None if pct is None else pct / 100
    return {"code": code, "name": name, "compounds": compounds,
            "covered_compounds": covered_compounds, "population": population,
            "covered_population": covered_population,
            "share": None if share is None else round(share, 4),
            "share_label": "—" if pct is None else f"{pct:.2f}%",
            "colour": coverage_colour(share)}


def _analysis(conn: Connection, scope: Scope, minutes: float, profile: str):
    """geo.coverage's run for the region, or None with the reason."""
    from geo.coverage import CoverageParams, analyse, reach_coverage
    from geo.errors import Conflict, InvalidInput

    try:
        an = analyse(conn, scope.code, CoverageParams(minutes=minutes, profile=profile))
    except InvalidInput as exc:
        return None, None, exc.message
    except Conflict:  # circles not computed yet: the page says so, in Chinese
        mm = f"{minutes:g}"
        return None, None, (f"尚未计算步行{mm}分钟服务圈，请运行 servicemap isochrones "
                            f"--minutes {mm} --profile {profile}")
    return an, reach_coverage(an, by_point=False), None


def _access(conn: Connection, scope: Scope, profile: str, max_snap_m: float, networks: Any
            ) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Walking figures and 2SFCA supply per village and grid code (empty with
    no network or buildings), and the parameters they are at."""
    from geo.coverage import access as ac
    from geo.errors import Conflict, InvalidInput

    prof = "elderly" if profile == "standard" else profile
    try:
        run = ac.access_run(conn, scope.code, ac.AccessParams(profile=prof,
                                                              max_snap_m=max_snap_m),
                            networks=networks)
    except (InvalidInput, Conflict):
        return {}, None
    walk, supply = ac.walk_report(run), ac.supply_report(run)
    out: dict[str, dict[str, Any]] = {}
    for key in ("by_region", "by_grid"):
        for r in walk[key]:
            out[r["code"]] = {"within_10min_pct": r["within_10min_pct"],
                              "median_minutes": r["median_minutes"],
                              "p90_minutes": r["p90_minutes"]}
        for r in supply[key]:
            out.setdefault(r["code"], {}).update(
                m2_per_1000=r["m2_per_1000"],
                supply_colour=ramp_colour(r["m2_per_1000"], SUPPLY_RAMP))
    p = walk["parameters"]
    t = walk["totals"]
    return out, {"speed_kmh": p["speed_kmh"], "metres_per_minute": p["metres_per_minute"],
                 "profile": p["profile"], "catchment_minutes": p["catchment_minutes"],
                 "within_10min_pct": t["within_10min_pct"],
                 "median_minutes": t["median_minutes"], "p90_minutes": t["p90_minutes"],
                 "m2_per_1000": supply["totals"]["m2_per_1000"],
                 "imputed": supply["imputed"]}


def _label_points(conn: Connection, scope: Scope) -> dict[str, list[float]]:
    """Where each village's name goes (``[lat, lng]``): PostGIS's point on
    surface of the whole village, the anchor the offline basemap's own village
    label has, so the page's bold name covers the basemap's faint one."""
    rows = conn.execute(text(
        "SELECT code, ST_Y(ST_PointOnSurface(geom)) AS lat, ST_X(ST_PointOnSurface(geom)) AS lng "
        "FROM regions WHERE level = 'village' AND geom IS NOT NULL "
        "AND starts_with(code, :code)"), {"code": scope.code}).all()
    return {r.code: [round(r.lat, 6), round(r.lng, 6)] for r in rows}


def _area_geometries(conn: Connection, scope: Scope) -> dict[str, tuple[str, str, dict]]:
    rows = conn.execute(text(source_sql("coverage_areas")),
                        {"code": scope.code, "minutes": 0.0, "profile": ""}).all()
    return {f"{r.area}:{r.code}": (r.area, r.name, json.loads(r.geojson)) for r in rows}


def _areas(conn: Connection, scope: Scope, minutes: float, profile: str,
           reach: ReachCoverage | None) -> dict[str, Any]:
    out: dict[str, list[dict[str, Any]]] = {"village": [], "grid": []}
    if reach is not None:
        geoms = _area_geometries(conn, scope)
        for area, rows in (("village", reach.by_region), ("grid", reach.by_grid)):
            for r in rows:
                g = geoms.get(f"{area}:{r.code}")
                if g is None:
                    continue
                out[area].append({"type": "Feature", "geometry": g[2], "properties": _share_props(
                    r.name, r.code, r.compounds, r.compounds_covered, r.population,
                    r.population_covered, r.population_pct)})
    else:  # display rule of the coverage tile layer
        rows = conn.execute(text(source_sql("coverage_areas")),
                            {"code": scope.code, "minutes": minutes, "profile": profile}).all()
        for r in rows:
            pct = r.covered_population * 100 / r.population if r.population else None
            out[r.area].append({"type": "Feature", "geometry": json.loads(r.geojson),
                                "properties": _share_props(
                                    r.name, r.code, int(r.compounds), int(r.covered_compounds),
                                    int(r.population), int(r.covered_population), pct)})
    at = _label_points(conn, scope)
    for f in out["village"]:
        f["properties"]["label_at"] = at.get(f["properties"]["code"])
    return {k: {"type": "FeatureCollection", "features": v} for k, v in out.items()}


def _compounds(conn: Connection, scope: Scope, minutes: float, profile: str, an: Any
               ) -> tuple[dict[str, Any], dict[str, Any], Any]:
    from geo.coverage import branch_coverage

    rows = conn.execute(text(source_sql("planner_compounds")),
                        {"code": scope.code, "minutes": minutes, "profile": profile}).all()
    empty = {"type": "FeatureCollection", "features": []}
    if not rows:  # a town read from OSM has buildings but no compounds yet
        return empty, empty, None
    branch = branch_coverage(conn, scope.code, detail=True)
    without = {c.code for c in branch.compounds_without_branch or ()}
    shares: dict[str, tuple[int, int]] = {}
    if an is not None:
        shares = {str(c): (int(cov), int(tot)) for c, cov, tot in
                  zip(an.town.c_code, an.c_cov, an.c_tot, strict=True)}
    uncovered, branch_feats = [], []
    branch_regions = {r.region_code for r in rows if r.code not in without} \
        if branch.totals.with_branch else set()
    for r in rows:
        cov, tot = shares.get(r.code, (r.population if r.covered else 0, r.population))
        left = max(0, tot - cov)
        props = {"code": r.code, "name": r.name, "population": int(r.population),
                 "households": int(r.households), "population_uncovered": left,
                 "has_branch": r.code not in without}
        geom = json.loads(r.geojson)
        if left > 0:
            uncovered.append({"type": "Feature", "geometry": geom, "properties": {
                **props, "colour": ramp_colour(left, COMPOUND_UNCOVERED_RAMP)}})
        if r.region_code in branch_regions:
            branch_feats.append({"type": "Feature", "geometry": geom, "properties": props})
    # largest gaps last: drawn on top
    uncovered.sort(key=lambda f: f["properties"]["population_uncovered"])
    return ({"type": "FeatureCollection", "features": uncovered},
            {"type": "FeatureCollection", "features": branch_feats}, branch)


def _proposed_sites(conn: Connection, scope: Scope, k: int, minutes: float,
                    profile: str, networks: Any) -> dict[str, Any] | None:
    """``k`` proposed sites from :func:`geo.siting.site` (greedy) as GeoJSON."""
    if k <= 0:
        return None
    from geo.coverage import CoverageParams
    from geo.siting import site

    result = site(conn, scope.code, k, CoverageParams(minutes=minutes, profile=profile),
                  networks=networks, method="greedy", time_limit_s=20.0)
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [s["lng"],
                                                                               s["lat"]]},
              "properties": {"rank": s["rank"], "name": s.get("name"),
                             "population_new": s["population_new"],
                             "population_pct_after": s["population_pct_after"],
                             "label": f"新增覆盖 {s['population_new']:,} 人，覆盖率升至 "
                                      f"{s['population_pct_after']:.2f}%"}}
             for s in result["greedy"]["sites"]]
    return {"type": "FeatureCollection", "features": feats}


def planner_sites(conn: Connection, settings: MapSettings, *, region: str | None, k: int,
                  networks: Any = None) -> dict[str, Any]:
    """``k`` proposed sites for the planner page's button (GeoJSON, greedy,
    at the page's minutes and profile; public: locations and counts only).

    Raises
    ------
    geo.errors.NotFound
        Unknown region.
    """
    from geo.circles import Networks

    scope = resolve_scope(conn, region)
    fc = _proposed_sites(conn, scope, k, float(settings.default_minutes),
                         settings.default_profile, networks or Networks.load(conn))
    return fc or {"type": "FeatureCollection", "features": []}


def _wishes(conn: Connection, scope: Scope, settings: Any, now: datetime | None
            ) -> dict[str, Any] | None:
    """Wishes per grid cell as the page's choropleth (None: the region has none)."""
    from geo.residents.activities import SHANGHAI
    from geo.residents.planning import wish_grid_counts
    from geo.settings import ResidentSettings

    rules = settings if hasattr(settings, "wish_review_days") else ResidentSettings()
    got = wish_grid_counts(conn, scope.code, rules, now)
    if not got["totals"]["total"]:
        return None
    feats = []
    for c in got["cells"]:
        if c["geometry"] is None:
            continue
        props = {k: c[k] for k in ("code", "name", "village", "lng", "lat", "suppressed",
                                   "total", "open", "unclaimed", "overdue", "fulfilled",
                                   "closed")}
        props["colour"] = None if c["suppressed"] else ramp_colour(c["open"], WISH_OPEN_RAMP)
        feats.append({"type": "Feature", "geometry": c["geometry"], "properties": props})
    return {"cells": {"type": "FeatureCollection", "features": feats},
            "totals": got["totals"], "suppressed": got["suppressed"],
            "ungridded": got["ungridded"], "rules": got["rules"],
            "below": got["suppress_below"],
            # the day overdue is judged on, in Beijing time
            "asof": datetime.fromisoformat(got["now"]).astimezone(SHANGHAI).date().isoformat()}


_CENTER_SUFFIX = re.compile(r"(党群服务中心|党群服务站|服务中心)$")


def _activities(conn: Connection, scope: Scope, year: int, now: datetime | None,
                points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Activities per center and month of ``year`` and the centers that missed
    the monthly rule (None: the region has never recorded an activity)."""
    from geo.residents.activities import monthly

    recorded = conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM activities a JOIN service_points p "
        "ON p.code = a.point_code WHERE a.deleted_at IS NULL AND p.deleted_at IS NULL "
        "AND starts_with(p.region_code, :r))"), {"r": scope.code}).scalar_one()
    if not recorded:
        return None
    got = monthly(conn, scope.code, year, now=now)
    at = {p["code"]: (p["lng"], p["lat"]) for p in points}
    centers = []
    # the street's (town's) own center first, then the villages' in code order
    for c in sorted(got["centers"], key=lambda c: c["kind"] != "town_center"):
        lng, lat = at.get(c["code"], (None, None))
        centers.append({
            "code": c["code"], "name": c["name"],
            "short": _CENTER_SUFFIX.sub("", c["name"]) or c["name"], "kind": c["kind"],
            "months": c["months"], "activities": c["activities"],
            "person_times": c["person_times"], "missed_months": c["missed_months"],
            "meets_rule": c["meets_rule"], "lng": lng, "lat": lat})
    return {"year": got["year"], "months_closed": got["months_closed"], "centers": centers,
            "activities": got["activities"], "person_times": got["person_times"],
            "missing": [c["code"] for c in centers if not c["meets_rule"]]}


def _facilities(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The public facilities read from OSM inside the region (a reference layer)."""
    from geo.vocab import FACILITY_KINDS_ZH

    if scope.bbox is None:
        return []
    rows = conn.execute(text("""
        SELECT f.name, f.kind, ST_X(f.geom) AS lng, ST_Y(f.geom) AS lat
        FROM facilities f
        WHERE f.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
          AND EXISTS (SELECT 1 FROM regions r WHERE r.code = :code
                      AND (r.geom IS NULL OR ST_Covers(r.geom, f.geom)))
        ORDER BY f.kind, f.name NULLS LAST, f.osm_id"""),
        {"x0": scope.bbox[0], "y0": scope.bbox[1], "x1": scope.bbox[2], "y1": scope.bbox[3],
         "code": scope.code}).all()
    return [{"name": r.name or FACILITY_KINDS_ZH.get(r.kind, r.kind), "kind": r.kind,
             "kind_zh": FACILITY_KINDS_ZH.get(r.kind, r.kind), "lng": round(r.lng, 6),
             "lat": round(r.lat, 6)} for r in rows]


def _mm_q(minutes: float) -> str:
    """Minutes as a query value (``10``, ``7.5``)."""
    return f"{minutes:g}"


def planner_config(conn: Connection, scope: Scope, *, minutes: float, profile: str,
                   prefix: str = "", tile_version: str | None = None,
                   walk_version: str | None = None, sites: int = 0,
                   max_snap_m: float = 300.0, year: int | None = None,
                   residents: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Everything the planner page's script needs (JSON-serialisable).

    ``year`` (default: this year in Beijing time) is the year of the activity
    table; ``residents`` holds the wishes' clocks (``wish_review_days`` …;
    default :class:`geo.settings.ResidentSettings`); ``now`` is when wishes
    are overdue and months are over (default: now)."""
    from geo.residents.activities import SHANGHAI

    an, reach, why = _analysis(conn, scope, minutes, profile)
    areas = _areas(conn, scope, minutes, profile, reach)
    from geo.circles import Networks

    networks = Networks.load(conn)  # once, for the walk and the proposed sites
    access, access_totals = _access(conn, scope, profile, max_snap_m, networks)
    for fc in areas.values():
        for f in fc["features"]:
            f["properties"].update(access.get(f["properties"]["code"], {}))
    uncovered, branch, bcov = _compounds(conn, scope, minutes, profile, an)
    btotals = bcov.totals if bcov is not None else None
    with_branch = btotals.with_branch if btotals is not None else 0
    by_village = {r.code: r for r in bcov.by_region} if bcov is not None else {}
    for f in areas["village"]["features"]:
        r = by_village.get(f["properties"]["code"])
        if r is not None and with_branch:
            f["properties"].update(branch_compounds=r.compounds, with_branch=r.with_branch,
                                   branch_share=r.percent_text, branches=r.branches)
    totals = reach.totals if reach else None
    par = reach.parameters if reach else None
    q = f"region={scope.code}&minutes={_mm_q(minutes)}&profile={profile}"
    api = f"{prefix}/api/v1"
    v = f"?v={tile_version}" if tile_version else ""
    mm = int(minutes) if float(minutes).is_integer() else minutes
    points = [{k: p[k] for k in ("code", "name", "kind", "kind_label", "lng", "lat")}
              for p in resident_points(conn, scope.code)]
    if year is None:
        year = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).year
    return {
        # what every figure depends on, in the planner's words
        "method": None if par is None else {
            "minutes": mm, "profile": par.profile, "speed_kmh": par.speed_kmh,
            "budget_m": round(par.budget_m), "rule_zh": par.rule.text_zh,
            "rounding_zh": par.rounding_zh,
            "branch_rule_zh": bcov.rule.text_zh if bcov is not None else None},
        # the figures on screen as files (public, aggregate: the API's exports)
        "exports": [
            {"label": "村居、网格覆盖（Excel）", "href": f"{api}/coverage?{q}&format=xlsx"},
            {"label": "服务圈外小区与人口（Excel）", "href": f"{api}/gaps?{q}&format=xlsx"},
            {"label": "小区党支部覆盖（Excel）",
             "href": f"{api}/coverage/branches?region={scope.code}&format=xlsx"},
            {"label": "村居、网格覆盖（CSV）", "href": f"{api}/coverage?{q}&format=csv"},
        ],
        "sites_url": f"{prefix}/maps/planner/sites.json?region={scope.code}",
        "title": f"{scope.name}党群服务规划图",
        "region": scope.code,
        "minutes": mm,
        "points": points,
        # the residents' side: wishes per grid cell, activities per center and month
        "wishes": _wishes(conn, scope, residents, now),
        "activities": _activities(conn, scope, year, now, points),
        "kinds": kinds_json(),
        "villages": areas["village"],
        "grids": areas["grid"],
        "uncovered": uncovered,
        "branch": branch,
        "sites": _proposed_sites(conn, scope, sites, minutes, profile, networks),
        # public facilities from OpenStreetMap: a reference layer, off by default
        "facilities": _facilities(conn, scope),
        "analysis_note": None if reach else
        f"覆盖分析未能运行（{why}）；图中比例按已有服务圈与小区代表点估算",
        "tiles": {"circles": f"{prefix}/tiles/circles/{{z}}/{{x}}/{{y}}.png{v}",
                  "walktime": f"{prefix}/tiles/walktime/{{z}}/{{x}}/{{y}}.png"
                              + (f"?v={walk_version}" if walk_version else "")},
        "access": access_totals,
        "api": api,
        "circle": CIRCLE,
        "ramps": {"coverage": _ramp(COVERAGE_RAMP),
                  "uncovered": _ramp(COMPOUND_UNCOVERED_RAMP),
                  "walk": _ramp(WALK_RAMP)
                  + [{"min": None, "colour": WALK_UNREACHABLE[0],
                      "label": WALK_UNREACHABLE[1]}],
                  "supply": _ramp(SUPPLY_RAMP),
                  "wishes": _ramp(WISH_OPEN_RAMP),
                  "walk_delta": _ramp(WALK_DELTA_RAMP)},
        "summary": {
            "points": scope.points,
            "compounds": totals.compounds if totals else None,
            "compounds_covered": totals.compounds_covered if totals else None,
            "compound_share": f"{totals.compounds_pct:.2f}%" if totals else "—",
            "population": totals.population if totals else None,
            "population_covered": totals.population_covered if totals else None,
            "population_share": f"{totals.population_pct:.2f}%" if totals else "—",
            "branch_compounds": btotals.compounds if with_branch else 0,
            "with_branch": with_branch,
            "branch_share": (btotals.percent_text if btotals is not None else None) or "—",
            # the published figure is truncated (32/36 → 88.88%)
            "branch_share_truncated": bcov.percent_variants.get("truncate", "—")
            if bcov is not None else "—",
            "branches": btotals.branches if btotals is not None else 0,
            "branches_by_village": sum(r.branches for r in by_village.values()),
        },
        "synthetic": scope.synthetic,
        "badge": BADGE_SYNTHETIC,
        "bounds": [[scope.bbox[1], scope.bbox[0]], [scope.bbox[3], scope.bbox[2]]]
        if scope.bbox else None,
    }


def planner_html(conn: Connection, settings: MapSettings, *, region: str | None = None,
                 basemap: str | None = None, prefix: str = "",
                 basemap_version: str | None = None, tile_version: str | None = None,
                 walk_version: str | None = None, sites: int = 0,
                 year: int | None = None, now: datetime | None = None) -> str:
    """The planner map page of ``region`` (default: the town with most points).

    The planner map is drawn in WGS-84; a GCJ-02 basemap (Amap/Tencent) is
    refused here (the resident map converts, the planner map keeps data exact).

    ``sites`` > 0 adds that many proposed sites (:func:`geo.siting.site`,
    greedy; seconds for a town). ``year`` is the year of the activity table
    (default this year); ``now``, when wishes are overdue (default now).

    Raises
    ------
    geo.errors.NotFound
        Unknown region.
    geo.errors.InvalidInput
        Unknown or GCJ-02 basemap.
    """
    from geo.errors import InvalidInput, Problem

    scope = resolve_scope(conn, region)
    chosen, others = choose_basemap(basemap, synthetic=scope.synthetic, settings=settings,
                                    prefix=prefix, version=basemap_version)
    if chosen.crs != "wgs84":
        raise InvalidInput("规划版地图只能使用 WGS-84 底图", [Problem(
            "GCJ-02 底图仅用于居民版地图", column="basemap",
            value=basemap, expected="offline, osm, tianditu")])
    minutes = float(settings.default_minutes)
    profile = settings.default_profile
    cfg = planner_config(conn, scope, minutes=minutes, profile=profile, prefix=prefix,
                         tile_version=tile_version, walk_version=walk_version, sites=sites,
                         max_snap_m=settings.max_snap_m, year=year, residents=settings,
                         now=now)
    cfg["basemaps"] = [{"key": b.key, "title": b.title, "url": b.url,
                        "attribution": b.attribution, "subdomains": b.subdomains or "abc",
                        "max_zoom": b.max_zoom, "labels_url": b.labels_url,
                        "online": b.online}
                       for b in [chosen, *others]]
    center = ((scope.bbox[1] + scope.bbox[3]) / 2, (scope.bbox[0] + scope.bbox[2]) / 2) \
        if scope.bbox else (23.19, 113.15)
    fig, m = local_map(cfg["title"], center=center, prefix=prefix)
    AppScript("planner", cfg, prefix=prefix, js=["scenario.js", "planner.js"],
              css=["servicemap.css", "planner.css"]).add_to(m)
    return finish_html(fig)
