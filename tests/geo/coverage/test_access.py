"""Walking time from every home: agreement with networkx's multi-source
Dijkstra on a graph with every start and target spliced into its street (the
hand-worked network, the Helsinki extract, Lishui); 2SFCA on a hand-worked
case; tiers and opening times on Lishui."""

from __future__ import annotations

from datetime import datetime

import networkx as nx
import numpy as np
import pytest

from geo.circles import Networks
from geo.coverage import access as ac
from geo.coverage.loading import load_town
from geo.hours import CHINA_TZ, is_open
from geo.walk.network import Network
from tests.geo.networks import small_frames

LISHUI = "440605126"


def spliced_distances(net: Network, starts, targets) -> np.ndarray:
    """Walk from each start to its nearest target with networkx: every snapped
    point becomes a node on its edge, joined off the street by its offset."""
    g = nx.Graph()
    for e in range(net.n_edges):
        g.add_edge(("n", int(net.src[e])), ("n", int(net.dst[e])), weight=float(net.length[e]))
    on_edge: dict[int, list] = {}
    for tag, (edge, to_s, _to_t, off) in (("s", starts), ("t", targets)):
        for i in range(len(edge)):
            if edge[i] >= 0:
                on_edge.setdefault(int(edge[i]), []).append((float(to_s[i]), (tag, i)))
                g.add_edge((tag, i), (tag + "-off", i), weight=float(off[i]))
    for e, pts in on_edge.items():
        chain = [(0.0, ("n", int(net.src[e])))] + sorted(pts) + \
            [(float(net.length[e]), ("n", int(net.dst[e])))]
        for (a, u), (b, v) in zip(chain, chain[1:], strict=False):
            if u != v:
                w = b - a
                if g.has_edge(u, v):
                    w = min(w, g[u][v]["weight"])
                g.add_edge(u, v, weight=w)
    src = [("t-off", j) for j in range(len(targets[0])) if targets[0][j] >= 0]
    d = nx.multi_source_dijkstra_path_length(g, src, weight="weight")
    return np.array([d.get(("s-off", i), np.inf) for i in range(len(starts[0]))])


def product(net: Network, starts, targets) -> np.ndarray:
    node_d, node_n = ac.multi_source_walk(net, targets[0], targets[1], targets[2], targets[3])
    metres, _ = ac.walk_from(net, node_d, node_n, *starts, targets[0], targets[1], targets[3])
    return metres


def test_hand_worked_walk() -> None:
    #   D (0,100) | A (0,0) - B (100,0) - C (300,0); E-F elsewhere
    net = Network.from_frames(*small_frames())
    # a target 10 m off B-C, 50 m from B; a home 5 m off A-D, 50 m from A
    targets = ac.snap_arrays(net, np.array([150.0]), np.array([10.0]), 300)
    starts = ac.snap_arrays(net, np.array([5.0, 160.0, 1050.0]), np.array([50.0, -3.0, 1000.0]),
                            300)
    got = product(net, starts, targets)
    # 5 off + 50 to A + 100 to B + 50 along + 10 off; 3 + 10 along the same edge + 10;
    # E-F is another component: unreachable
    assert got[0] == pytest.approx(215.0)
    assert got[1] == pytest.approx(23.0)
    assert np.isinf(got[2])
    np.testing.assert_allclose(got[:2], spliced_distances(net, starts, targets)[:2])


def test_helsinki_agrees_with_networkx(helsinki) -> None:
    _, _, net = helsinki
    rng = np.random.default_rng(7)
    x0, x1, y0, y1 = net.x.min(), net.x.max(), net.y.min(), net.y.max()
    sx, sy = rng.uniform(x0, x1, 800), rng.uniform(y0, y1, 800)
    tx, ty = rng.uniform(x0, x1, 12), rng.uniform(y0, y1, 12)
    starts = ac.snap_arrays(net, sx, sy, 200)
    targets = ac.snap_arrays(net, tx, ty, 200)
    assert (starts[0] >= 0).sum() > 400 and (targets[0] >= 0).sum() >= 6
    got = product(net, starts, targets)
    want = spliced_distances(net, starts, targets)
    finite = np.isfinite(want)
    assert finite.sum() > 300
    np.testing.assert_array_equal(np.isfinite(got), finite)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, atol=1e-6)


@pytest.fixture(scope="module")
def lishui_run(samples_engine):
    with samples_engine.connect() as conn:
        nets = Networks.load(conn)
        town = load_town(conn, LISHUI)
        run = ac.access_run(conn, LISHUI, ac.AccessParams(), networks=nets, town=town)
    return nets, town, run


def test_lishui_agrees_with_networkx(lishui_run) -> None:
    _, town, run = lishui_run
    net = run.network
    b_snap, t_snap = run._pair
    pick = np.random.default_rng(3).choice(len(town.b_id), 600, replace=False)
    starts = tuple(a[pick] for a in b_snap)
    want = spliced_distances(net, starts, t_snap)
    np.testing.assert_allclose(run.b_m[pick], want, rtol=1e-9, atol=1e-6)
    # every building reaches some position; minutes are at the elderly 60 m per minute
    assert np.isfinite(run.b_m).all()
    np.testing.assert_allclose(run.b_minutes * 60.0, run.b_m)


def test_walk_report_figures(lishui_run) -> None:
    _, town, run = lishui_run
    rep = ac.walk_report(run, detail=True, farthest=5)
    t = rep["totals"]
    assert t["population"] == int(town.b_pop.sum())
    assert t["population_within_5min"] <= t["population_within_10min"] \
        <= t["population_within_15min"] <= t["population"]
    assert rep["parameters"]["speed_kmh"] == 3.6
    # villages partition the town
    assert sum(r["population"] for r in rep["by_region"]) == t["population"]
    # the farthest building is as far as the largest walk
    assert rep["farthest_buildings"][0]["walk_m"] == pytest.approx(run.b_m.max(), abs=0.05)
    # weighted median: at least half the people within it, less than half strictly below
    med = t["median_minutes"]
    pop = town.b_pop
    assert pop[run.b_minutes <= med + 0.05].sum() >= pop.sum() / 2
    assert pop[run.b_minutes < med - 0.05].sum() < pop.sum() / 2
    # public cells hold at least three buildings
    assert all(c["buildings"] >= 3 for c in rep["farthest_cells"])


def test_tiers(lishui_run) -> None:
    _, _, run = lishui_run
    rep = ac.tiers_report(run)
    t = rep["totals"]
    # elderly 3.6 km/h: 5 minutes is 300 m, exactly the standard's distance
    assert t["profile_5min"] == t["standard_5min"]
    # 10 minutes: 600 m at 3.6 km/h against the standard's 500 m
    assert t["profile_10min"] >= t["standard_10min"]
    # 15 minutes: 900 m against the standard's 1000 m
    assert t["profile_15min"] <= t["standard_15min"]
    assert [x["standard_m"] for x in rep["tiers"]] == [300.0, 500.0, 1000.0]


def test_two_step_fca_by_hand() -> None:
    # buildings of 100, 200, 300 people; position 0 (600 m²) reaches buildings
    # 0 and 1, position 1 (300 m²) buildings 1 and 2:
    # R0 = 600 / 300 = 2, R1 = 300 / 500 = 0.6; A = 2, 2.6, 0.6
    score, demand, ratio = ac.two_step_fca(
        np.array([100, 200, 300]), np.array([600.0, 300.0]),
        np.array([0, 1, 1, 2]), np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(demand, [300, 500])
    np.testing.assert_allclose(ratio, [2.0, 0.6])
    np.testing.assert_allclose(score, [2.0, 2.6, 0.6])
    # the space is shared out: Σ A_i P_i = Σ S_j
    assert (score * np.array([100, 200, 300])).sum() == pytest.approx(900.0)


def test_supply_on_lishui(lishui_run) -> None:
    _, town, run = lishui_run
    rep = ac.supply_report(run)
    score, demand, _ = ac.supply_scores(run)
    # the nearest pair of each building is its walk (when inside the catchment)
    bi, pj, dm = ac.pair_metres(run, 900.0)
    nearest = np.full(len(town.b_id), np.inf)
    np.minimum.at(nearest, bi, dm)
    inside = run.b_m <= 900.0
    np.testing.assert_allclose(nearest[inside], run.b_m[inside], rtol=1e-9)
    assert np.isinf(nearest[~inside]).all()
    # served space adds up to the capacity of positions someone reaches
    served = run.positions.capacity_m2[demand > 0].sum()
    assert (score * town.b_pop).sum() == pytest.approx(served, rel=1e-9)
    assert rep["totals"]["population_unserved"] == int(town.b_pop[score <= 0].sum())


def test_open_at_national_day(samples_engine, lishui_run) -> None:
    nets, town, run = lishui_run
    at = datetime(2026, 10, 1, 10, 0, tzinfo=CHINA_TZ)
    with samples_engine.connect() as conn:
        holiday = ac.access_run(conn, LISHUI, ac.AccessParams(at=at), networks=nets, town=town)
    open_codes = {str(c) for c, h in zip(run.positions.code, run.positions.hours, strict=True)
                  if h and is_open(h, at)}
    assert set(holiday.positions.code.tolist()) == open_codes
    assert len(open_codes) < len(run.positions)
    # fewer positions: no home walks less far
    assert (holiday.b_m >= run.b_m - 1e-6).all()


def test_bad_parameters() -> None:
    with pytest.raises(Exception, match="步行可达性参数不正确") as e:
        ac.AccessParams(profile="standard", kinds=("nope",)).validated()
    assert {p.column for p in e.value.problems} == {"profile", "kinds"}
