"""Scenarios: a planner's named what-if, saved without touching today's data.

A scenario is a list of changes to one region (``scenarios.changes``)::

    {"positions": [
        {"op": "add", "code": "S-1", "name": "拟建站点", "kind": "station",
         "lng": 113.16, "lat": 23.2, "services": ["elderly"],
         "hours_text": "每天 9:00-21:00", "floor_area_m2": 300},
        {"op": "move", "code": "LS-0001", "lng": 113.161, "lat": 23.201},
        {"op": "close", "code": "LS-0002"},
        {"op": "hours", "code": "LS-0003", "hours_text": "工作日 9:00-17:00"}],
     "paths": [{"from": [113.15, 23.19], "to": [113.151, 23.1905],
                "name": "打通小区围墙"}]}

Coordinates are WGS-84 (``crs`` per item: ``gcj02``/``bd09`` converted on the
way in). Every analytic runs on a scenario by applying its changes in memory:
the walking network with the new paths (each joins the network nodes nearest
to its two ends, as a straight walk), the positions added, moved, closed or
with new hours; coverage (circles of the changed positions drawn on that
network, the others reused), walking time, tiers and 2SFCA. :func:`compare`
gives the difference with today per town, village and grid cell.

Checks (a clear 4xx, nothing saved): the region must be in the planner's
scope, and so must every edited position (by its stored region and by its
location) and every new location (inside the region's geometry); a path
needs two distinct valid ends within the snapping distance of the network
and at most :data:`MAX_PATH_M` long.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo import rules
from geo.circles import CircleParams, Networks, budget_for, circles_at
from geo.coverage import access as ac
from geo.coverage.arithmetic import CoverageParams
from geo.coverage.loading import load_town, resolve_region
from geo.coverage.reach import Analysis, analyse, circle_hits, compound_shares, covered_mask
from geo.crs import to_wgs84
from geo.errors import Forbidden, InvalidInput, NotFound, Problem
from geo.vocab import PointKind, Service
from geo.walk.network import Network

__all__ = ["MAX_PATH_M", "Scenario", "apply_network", "apply_positions", "compare",
           "delete_scenario", "get_scenario", "list_scenarios", "save_scenario",
           "scenario_access", "scenario_coverage", "validate_changes"]

#: Longest new path of a scenario (a gate or a passage through a wall), metres.
MAX_PATH_M = 500.0
MAX_CHANGES = 200
_OPS = ("add", "move", "close", "hours")


@dataclass(frozen=True)
class Scenario:
    id: int
    name: str
    region_code: str
    changes: dict[str, Any]
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "region_code": self.region_code,
                "changes": self.changes,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None}


# ====================================================================== checks
def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _lnglat(item: dict, where: str, problems: list[Problem], keys=("lng", "lat")
            ) -> tuple[float, float] | None:
    x, y = item.get(keys[0]), item.get(keys[1])
    if not (_finite(x) and _finite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        problems.append(Problem("坐标无效", column=where, value=f"{x},{y}",
                                expected="经度, 纬度（度）"))
        return None
    crs = item.get("crs", "wgs84")
    if crs not in ("wgs84", "gcj02", "bd09"):
        problems.append(Problem("未知的坐标系", column=f"{where}.crs", value=crs,
                                expected="wgs84, gcj02, bd09"))
        return None
    if crs != "wgs84":
        lx, ly = to_wgs84(np.array([x]), np.array([y]), crs)
        return float(lx[0]), float(ly[0])
    return float(x), float(y)


def validate_changes(conn: Connection, region: str, changes: Any, *,
                     can_edit: Callable[[str | None], bool] | None = None,
                     networks: Networks | None = None,
                     max_snap_m: float = 300.0) -> dict[str, Any]:
    """The changes checked and normalised (WGS-84, parsed hours); every
    problem at once as :class:`InvalidInput`, or :class:`Forbidden` for a
    position the planner may not edit (``can_edit`` of its stored region)."""
    if not isinstance(changes, dict) or set(changes) - {"positions", "paths"}:
        raise InvalidInput("方案内容格式不正确", [Problem(
            "应为含 positions 和/或 paths 的对象", column="changes",
            value=str(changes)[:80], expected='{"positions": [...], "paths": [...]}')])
    positions = changes.get("positions") or []
    paths = changes.get("paths") or []
    problems: list[Problem] = []
    if not isinstance(positions, list) or not isinstance(paths, list):
        raise InvalidInput("方案内容格式不正确", [Problem(
            "positions 和 paths 应为列表", column="changes", value=str(changes)[:80])])
    if len(positions) + len(paths) > MAX_CHANGES:
        raise InvalidInput("方案改动过多", [Problem(
            "一个方案最多 200 处改动", column="changes", value=len(positions) + len(paths),
            expected=f"≤ {MAX_CHANGES}")])
    rs = resolve_region(conn, region)
    region_geom = shapely.union_all(rs.leaf_geoms) if len(rs.leaf_geoms) else None
    codes = [p.get("code") for p in positions if isinstance(p, dict)]
    known = {r.code: r for r in conn.execute(text("""
        SELECT code, region_code, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points
        WHERE deleted_at IS NULL AND code = ANY(:c)"""), {"c": [c for c in codes if c]}).all()}
    kinds = {k.value for k in PointKind}
    services = {s.value for s in Service}
    out_pos: list[dict[str, Any]] = []
    seen: set[str] = set()
    outside: list[str] = []
    for i, item in enumerate(positions):
        where = f"changes.positions[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem("应为对象", column=where, value=str(item)[:60]))
            continue
        op, code = item.get("op"), item.get("code")
        if op not in _OPS:
            problems.append(Problem("未知的改动类型", column=f"{where}.op", value=op,
                                    expected=", ".join(_OPS)))
            continue
        if not isinstance(code, str) or not 1 <= len(code) <= 64:
            problems.append(Problem("缺少阵地编码", column=f"{where}.code", value=code,
                                    expected="1-64 个字符"))
            continue
        if code in seen:
            problems.append(Problem("同一阵地在方案中出现多次", column=f"{where}.code",
                                    value=code, expected="每个阵地只能有一处改动"))
            continue
        seen.add(code)
        norm: dict[str, Any] = {"op": op, "code": code}
        if op == "add":
            if code in known:
                problems.append(Problem("编码已存在，新增阵地需要新编码", column=f"{where}.code",
                                        value=code, expected="新的编码"))
                continue
            kind = item.get("kind", "station")
            if kind not in kinds:
                problems.append(Problem("未知的阵地类型", column=f"{where}.kind", value=kind,
                                        expected=", ".join(sorted(kinds))))
            svc = item.get("services") or []
            bad = [s for s in svc if s not in services] if isinstance(svc, list) else [svc]
            for s in bad:
                problems.append(Problem("未知的服务", column=f"{where}.services", value=s,
                                        expected=", ".join(sorted(services))))
            area = item.get("floor_area_m2")
            if area is not None and not (_finite(area) and 0 < area <= 100_000):
                problems.append(Problem("面积无效", column=f"{where}.floor_area_m2",
                                        value=area, expected="0 < m² ≤ 100000"))
            name = item.get("name") or "拟建站点"
            norm.update(kind=kind, services=list(svc) if isinstance(svc, list) else [],
                        floor_area_m2=area, name=str(name)[:100])
        elif code not in known:
            problems.append(Problem("没有这个阵地", column=f"{where}.code", value=code,
                                    expected="现有（未删除）阵地的编码"))
            continue
        else:
            r = known[code]
            if can_edit is not None and not can_edit(r.region_code):
                outside.append(code)
        if op in ("add", "move"):
            xy = _lnglat(item, where, problems)
            if xy is None:
                continue
            if region_geom is not None and not region_geom.intersects(shapely.Point(xy)):
                problems.append(Problem("位置不在方案区域内", column=where,
                                        value=f"{xy[0]:.6f},{xy[1]:.6f}",
                                        expected=f"{rs.region.name}（{rs.region.code}）范围内"))
                continue
            norm.update(lng=round(xy[0], 7), lat=round(xy[1], 7))
        if op in ("add", "hours") and item.get("hours_text") is not None or op == "hours":
            ht = item.get("hours_text")
            if not isinstance(ht, str) or not ht.strip():
                problems.append(Problem("缺少开放时间", column=f"{where}.hours_text", value=ht,
                                        expected="如 每天 9:00-21:00"))
                continue
            hours, _notes = rules.hours_from_text(ht)
            if not hours.get("parsed"):
                problems.append(Problem("开放时间无法解析", column=f"{where}.hours_text",
                                        value=ht[:60], expected="如 工作日 9:00-17:00"))
                continue
            norm.update(hours_text=ht, hours=hours)
        out_pos.append(norm)
    out_paths: list[dict[str, Any]] = []
    network = None
    if paths and networks:
        network = networks.for_location(*_center(rs.bounds), max_snap_m)
    for i, item in enumerate(paths):
        where = f"changes.paths[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("from"), list) \
                or not isinstance(item.get("to"), list) or len(item["from"]) != 2 \
                or len(item["to"]) != 2:
            problems.append(Problem("路径应有 from 和 to 两个端点", column=where,
                                    value=str(item)[:80], expected='{"from": [lng, lat], '
                                    '"to": [lng, lat]}'))
            continue
        ends = [_lnglat({"lng": item[k][0], "lat": item[k][1], "crs": item.get("crs", "wgs84")},
                        f"{where}.{k}", problems) for k in ("from", "to")]
        if None in ends:
            continue
        a, b = ends
        length = _metres(a, b)
        if length < 1.0:
            problems.append(Problem("路径两端重合", column=where, value=f"{length:.1f} m",
                                    expected="两个不同的端点"))
            continue
        if length > MAX_PATH_M:
            problems.append(Problem("路径过长", column=where, value=f"{length:.0f} m",
                                    expected=f"≤ {MAX_PATH_M:g} m"))
            continue
        if region_geom is not None and not all(region_geom.intersects(shapely.Point(e))
                                               for e in ends):
            problems.append(Problem("路径端点不在方案区域内", column=where,
                                    value=f"{a} → {b}", expected=f"{rs.region.code} 范围内"))
            continue
        if network is not None:
            far = [k for k, e in zip(("from", "to"), ends, strict=True)
                   if _node_near(network, e)[1] > max_snap_m]
            for k in far:
                problems.append(Problem("路径端点离路网太远", column=f"{where}.{k}",
                                        value=str(item[k]),
                                        expected=f"距街道不超过 {max_snap_m:g} 米"))
            if far:
                continue
        out_paths.append({"from": [round(a[0], 7), round(a[1], 7)],
                          "to": [round(b[0], 7), round(b[1], 7)],
                          "name": str(item.get("name") or "新增通道")[:100]})
    if outside:
        raise Forbidden(f"方案改动的阵地不在令牌的区域范围内：{', '.join(outside[:10])}")
    if problems:
        raise InvalidInput("方案内容不正确", problems)
    return {"positions": out_pos, "paths": out_paths}


def _center(bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    return (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    from geo.crs import haversine_m

    return float(haversine_m(a[0], a[1], np.array([b[0]]), np.array([b[1]]))[0])


def _node_near(network: Network, lnglat: tuple[float, float]) -> tuple[int, float]:
    x, y = network.project(lnglat[0], lnglat[1])
    d = np.hypot(network.x - x, network.y - y)
    i = int(np.argmin(d))
    return i, float(d[i])


# ====================================================================== storage
def save_scenario(conn: Connection, name: str, region: str, changes: dict[str, Any], *,
                  actor: str | None = None, actor_role: str | None = None,
                  scenario_id: int | None = None) -> int:
    """Insert (or replace, with ``scenario_id``) a checked scenario; its id."""
    import json

    payload = json.dumps(changes, ensure_ascii=False)
    if scenario_id is None:
        return int(conn.execute(text("""
            INSERT INTO scenarios (name, region_code, changes, actor, actor_role)
            VALUES (:n, :r, CAST(:c AS jsonb), :a, :ar) RETURNING id"""),
            {"n": name, "r": region, "c": payload, "a": actor, "ar": actor_role}).scalar_one())
    done = conn.execute(text("""
        UPDATE scenarios SET name = :n, region_code = :r, changes = CAST(:c AS jsonb),
               actor = :a, actor_role = :ar, updated_at = now() WHERE id = :id"""),
        {"n": name, "r": region, "c": payload, "a": actor, "ar": actor_role,
         "id": scenario_id}).rowcount
    if not done:
        raise NotFound(f"没有编号为 {scenario_id} 的方案")
    return scenario_id


def get_scenario(conn: Connection, scenario_id: int) -> Scenario:
    r = conn.execute(text("SELECT id, name, region_code, changes, created_at, updated_at "
                          "FROM scenarios WHERE id = :id"), {"id": scenario_id}).first()
    if r is None:
        raise NotFound(f"没有编号为 {scenario_id} 的方案")
    return Scenario(r.id, r.name, r.region_code, r.changes, r.created_at, r.updated_at)


def list_scenarios(conn: Connection, regions: frozenset[str] | None = None) -> list[Scenario]:
    rows = conn.execute(text("SELECT id, name, region_code, changes, created_at, updated_at "
                             "FROM scenarios ORDER BY id DESC")).all()
    return [Scenario(r.id, r.name, r.region_code, r.changes, r.created_at, r.updated_at)
            for r in rows if regions is None or r.region_code in regions]


def delete_scenario(conn: Connection, scenario_id: int) -> None:
    if not conn.execute(text("DELETE FROM scenarios WHERE id = :id"),
                        {"id": scenario_id}).rowcount:
        raise NotFound(f"没有编号为 {scenario_id} 的方案")


# ====================================================================== applying
def apply_positions(pos: ac.Positions, changes: dict[str, Any]) -> ac.Positions:
    """Today's positions with a scenario's changes (a new :class:`Positions`)."""
    rows = []
    for i in range(len(pos)):
        rows.append(SimpleNamespace(
            code=pos.code[i], name=pos.name[i], kind=pos.kind[i], lng=pos.lng[i],
            lat=pos.lat[i], floor_area_m2=None if pos.imputed[i] else pos.capacity_m2[i],
            services=pos.services[i], hours=pos.hours[i], hours_text=pos.hours_text[i]))
    by_code = {r.code: r for r in rows}
    closed: set[str] = set()
    for c in changes.get("positions", []):
        r = by_code.get(c["code"])
        if c["op"] == "add":
            rows.append(SimpleNamespace(
                code=c["code"], name=c.get("name", "拟建站点"), kind=c["kind"], lng=c["lng"],
                lat=c["lat"], floor_area_m2=c.get("floor_area_m2"),
                services=tuple(c.get("services") or ()), hours=c.get("hours"),
                hours_text=c.get("hours_text")))
        elif r is None:
            continue  # outside the positions loaded for this town
        elif c["op"] == "move":
            r.lng, r.lat = c["lng"], c["lat"]
        elif c["op"] == "close":
            closed.add(r.code)
        elif c["op"] == "hours":
            r.hours, r.hours_text = c["hours"], c["hours_text"]
    rows = [r for r in rows if r.code not in closed]
    rows.sort(key=lambda r: r.code)
    return ac.positions_from_rows(rows)


def apply_network(network: Network, changes: dict[str, Any]) -> Network:
    """The network with a scenario's new paths: each a straight edge between the
    nodes nearest to its two ends (today's network is not changed)."""
    paths = changes.get("paths") or []
    if not paths:
        return network
    key = ("scenario_paths", tuple((tuple(p["from"]), tuple(p["to"])) for p in paths))
    found = network.cache.get(key)
    if found is not None:
        return found
    import geopandas as gpd

    nodes = gpd.GeoDataFrame({"node_id": network.node_ids},
                             geometry=shapely.points(network.x, network.y), crs=network.crs)
    src_ids, dst_ids, geoms, highway = [network.node_ids[network.src].tolist(),
                                        network.node_ids[network.dst].tolist(),
                                        list(network.edge_geoms), list(network.highway)]
    for p in paths:
        a, _ = _node_near(network, tuple(p["from"]))
        b, _ = _node_near(network, tuple(p["to"]))
        if a == b:
            continue
        src_ids.append(int(network.node_ids[a]))
        dst_ids.append(int(network.node_ids[b]))
        geoms.append(shapely.LineString([(network.x[a], network.y[a]),
                                         (network.x[b], network.y[b])]))
        highway.append("scenario_path")
    edges = gpd.GeoDataFrame({"source": src_ids, "target": dst_ids, "highway": highway},
                             geometry=geoms, crs=network.crs)
    built = Network.from_frames(nodes, edges, crs=network.crs)
    network.cache[key] = built
    return built


def _scenario_inputs(conn: Connection, scenario: Scenario, networks: Networks,
                     params: ac.AccessParams, region: str | None):
    region = region or scenario.region_code
    town = load_town(conn, region)
    base = ac._town_network(networks, town, params.max_snap_m)
    lat = (town.scope.bounds[1] + town.scope.bounds[3]) / 2
    pad = (params.catchment_minutes * params.metres_per_minute + 500.0) / 111_320.0 \
        / max(math.cos(math.radians(lat)), 0.1)
    today = ac.load_positions(conn, town.scope.bounds, pad)
    positions = apply_positions(today, scenario.changes)
    network = apply_network(base, scenario.changes) if base is not None else None
    return region, town, positions, network


def scenario_access(conn: Connection, scenario_id: int, params: ac.AccessParams, *,
                    networks: Networks, region: str | None = None) -> ac.AccessRun:
    """The walk of a saved scenario (see :func:`geo.coverage.access.access_run`)."""
    sc = get_scenario(conn, scenario_id)
    region, town, positions, network = _scenario_inputs(conn, sc, networks, params.validated(),
                                                        region)
    return ac.access_run(conn, region, params, networks=networks, town=town,
                         positions=positions, network=network, label=f"{sc.id}:{sc.name}")


def _changed_codes(changes: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(codes whose circle goes, codes whose circle must be drawn)."""
    gone, drawn = set(), set()
    for c in changes.get("positions", []):
        if c["op"] in ("close", "move"):
            gone.add(c["code"])
        if c["op"] in ("add", "move"):
            drawn.add(c["code"])
    return gone, drawn


def scenario_coverage(conn: Connection, scenario: Scenario, params: CoverageParams, *,
                      networks: Networks, circle_params: CircleParams = CircleParams(),
                      today: Analysis | None = None) -> Analysis:
    """Coverage of a scenario: today's stored circles, without those of closed
    and moved positions, with circles drawn now for added and moved ones
    (on the scenario's network); with new paths, every circle within reach of
    a path is drawn again. Nothing is stored."""
    params = params.validated()
    an = today or analyse(conn, scenario.region_code, params)
    gone, drawn = _changed_codes(scenario.changes)
    budget = budget_for(params.profile, params.minutes, params.speed_kmh)
    adds = {c["code"]: c for c in scenario.changes.get("positions", [])
            if c["op"] in ("add", "move")}
    hours_closed = set()
    if params.at is not None:  # new hours decide whether the position counts then
        from geo.points import HoursMemo

        memo = HoursMemo(params.at)
        for c in scenario.changes.get("positions", []):
            if c["op"] == "hours" and memo(c["hours"], c["hours_text"])[0] is not True:
                hours_closed.add(c["code"])
    paths = scenario.changes.get("paths") or []
    scen_networks = networks
    if paths:
        base = ac._town_network(networks, an.town, circle_params.max_snap_m)
        if base is not None:
            new = apply_network(base, scenario.changes)
            scen_networks = _swap(networks, base, new)
            ends = np.array([p[k] for p in paths for k in ("from", "to")])
            from geo.crs import haversine_m

            for code, geom in zip(an.circles.point_code, an.circles.geoms, strict=True):
                c = shapely.centroid(geom)
                if (haversine_m(c.x, c.y, ends[:, 0], ends[:, 1]) <= budget.metres * 2).any():
                    drawn.add(str(code))
                    gone.add(str(code))
    keep = np.array([str(c) not in gone and str(c) not in hours_closed
                     for c in an.circles.point_code], dtype=bool)
    kept_geoms = an.circles.geoms[keep]
    kept_hits = [h for h, k in zip(an.hits, keep, strict=True) if k]
    redraw = sorted(drawn)
    xy = []
    for code in redraw:
        if code in adds:
            xy.append((adds[code]["lng"], adds[code]["lat"]))
        else:
            r = conn.execute(text("SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
                                  "WHERE code = :c"), {"c": code}).first()
            xy.append((r.x, r.y))
    new_geoms = []
    if xy:
        circles = circles_at(scen_networks, [p[0] for p in xy], [p[1] for p in xy], budget,
                             params=circle_params)
        new_geoms = [c.polygon for c in circles]
    new_hits = circle_hits(an.town, new_geoms, params.rule) if new_geoms else []
    geoms = np.concatenate([kept_geoms, np.asarray(new_geoms, dtype=object)]) \
        if new_geoms else kept_geoms
    hits = [*kept_hits, *new_hits]
    circle_set = replace(
        an.circles, geoms=geoms,
        point_code=np.concatenate([an.circles.point_code[keep], np.array(redraw, dtype=object)]),
        point_name=np.concatenate([an.circles.point_name[keep], np.array(redraw, dtype=object)]),
        point_kind=np.concatenate([an.circles.point_kind[keep],
                                   np.array(["scenario"] * len(redraw), dtype=object)]),
        input_version=np.concatenate([an.circles.input_version[keep],
                                      np.array(["scenario"] * len(redraw), dtype=object)]))
    covered = covered_mask(an.town, geoms, params.rule, hits)
    c_cov, c_tot = compound_shares(an.town, covered, geoms)
    return Analysis(an.town, circle_set, params, hits, covered, c_cov, c_tot)


def _swap(networks: Networks, old: Network, new: Network) -> Networks:
    """The networks with ``old`` replaced by ``new`` (a scenario's paths)."""
    by = {k: (new if v is old else v) for k, v in networks.by_dataset.items()}
    return Networks(by, networks.versions)


# ====================================================================== comparison


def compare(conn: Connection, scenario_id: int, *, networks: Networks,
            coverage: CoverageParams, access: ac.AccessParams,
            circle_params: CircleParams = CircleParams(),
            today_access: ac.AccessRun | None = None,
            today_coverage: Analysis | None = None) -> dict[str, Any]:
    """Today against a scenario per town, village and grid cell: people covered
    by the circles, people within 10 minutes' walk, the median walk and 2SFCA
    supply per 1000 residents, with the differences."""
    sc = get_scenario(conn, scenario_id)
    today_cov = today_coverage or analyse(conn, sc.region_code, coverage)
    scen_cov = scenario_coverage(conn, sc, coverage, networks=networks,
                                 circle_params=circle_params, today=today_cov)
    town = today_cov.town
    t_acc = today_access or ac.access_run(conn, sc.region_code, access, networks=networks,
                                          town=town)
    _, _, positions, network = _scenario_inputs(conn, sc, networks, access, sc.region_code)
    s_acc = ac.access_run(conn, sc.region_code, access, networks=networks, town=town,
                          positions=positions, network=network, label=f"{sc.id}:{sc.name}")
    t_sup, s_sup = ac.supply_scores(t_acc)[0], ac.supply_scores(s_acc)[0]
    rows = []
    for header, mask in ac._areas(t_acc):
        pop = town.b_pop[mask]
        total = int(pop.sum())
        tw, sw = ac._walk_row(t_acc, header, mask), ac._walk_row(s_acc, header, mask)
        cov_t = int(pop[today_cov.covered[mask]].sum())
        cov_s = int(pop[scen_cov.covered[mask]].sum())
        sup_t = float((t_sup[mask] * pop).sum() / total) * 1000 if total else 0.0
        sup_s = float((s_sup[mask] * pop).sum() / total) * 1000 if total else 0.0
        rows.append({
            **header, "population": total,
            "population_covered_today": cov_t, "population_covered_scenario": cov_s,
            "delta_population_covered": cov_s - cov_t,
            "within_10min_pct_today": tw["within_10min_pct"],
            "within_10min_pct_scenario": sw["within_10min_pct"],
            "delta_within_10min_pct": round(sw["within_10min_pct"] - tw["within_10min_pct"], 2),
            "median_minutes_today": tw["median_minutes"],
            "median_minutes_scenario": sw["median_minutes"],
            "delta_median_minutes": None if tw["median_minutes"] is None
            or sw["median_minutes"] is None
            else round(sw["median_minutes"] - tw["median_minutes"], 1),
            "m2_per_1000_today": round(sup_t, 1), "m2_per_1000_scenario": round(sup_s, 1),
            "delta_m2_per_1000": round(sup_s - sup_t, 1)})
    changed = [r for r in rows[1:] if r["delta_population_covered"]
               or r["delta_within_10min_pct"] or r["delta_m2_per_1000"]]
    b = budget_for(coverage.profile, coverage.minutes, coverage.speed_kmh)
    return {
        "region": {"code": town.region.code, "name": town.region.name,
                   "level": town.region.level},
        "scenario": sc.as_dict(),
        "parameters": {**access.as_dict(), "coverage_minutes": b.minutes,
                       "coverage_budget_m": round(b.metres, 1)},
        "totals": rows[0],
        "by_region": [r for r in rows[1:] if r["level"] != "grid"],
        "by_grid": [r for r in rows[1:] if r["level"] == "grid"],
        "areas_changed": len(changed),
        "changes": {"added": sum(c["op"] == "add" for c in sc.changes.get("positions", [])),
                    "moved": sum(c["op"] == "move" for c in sc.changes.get("positions", [])),
                    "closed": sum(c["op"] == "close" for c in sc.changes.get("positions", [])),
                    "hours": sum(c["op"] == "hours" for c in sc.changes.get("positions", [])),
                    "paths": len(sc.changes.get("paths") or [])},
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
