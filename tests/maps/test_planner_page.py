"""The planner map as a planner at a desk uses it, in headless Chromium: what
the figures depend on, the published (truncated) branch share beside the
rounded one, why the villages' branch counts add up to more than the street's,
village names that stay legible, positions above every area layer, a legend
that folds and does not cover the town, the on-screen figures as files, and
proposed sites from a button. Checked against the database, geo.siting's
what-if and hand arithmetic; axe-core at 1440 × 900 and 390 × 844."""

from __future__ import annotations

import csv
import io
import re

import pytest
from shapely import wkb
from shapely.geometry import Point
from sqlalchemy import text

from geo.profiles import SPEEDS_KMH
from tests.maps.conftest import LONGTENG, axe_violations
from tests.maps.test_browser import Watched


@pytest.fixture
def watched(browser_context):
    w = Watched(browser_context)
    yield w
    w.close()


def _desk(watched, live_server, region: str = LONGTENG):
    page = watched.page
    page.set_viewport_size({"width": 1440, "height": 900})
    watched.open(f"{live_server}/maps/planner?region={region}")
    page.wait_for_timeout(400)  # the first fit has settled
    return page


def test_planner_explains_its_figures(watched, live_server, samples_engine, artifacts):
    page = _desk(watched, live_server)
    legend = page.locator("#sm-plegend").inner_text()
    # the published figure (truncated) beside the rounded one, by hand: 32/36
    assert f"32 / 36（{32 * 100 / 36:.2f}%，四舍五入；截尾为 {int(32 * 10000 / 36) / 100:.2f}%）" \
        in legend
    assert "88.88%" in legend and "88.89%" in legend
    page.click("#sm-method summary")
    method = page.locator("#sm-method").inner_text()
    speed = SPEEDS_KMH["elderly"]
    metres = round(10 * speed * 1000 / 60)
    assert f"步行 10 分钟，按老年人步速 {speed:g} 公里/小时，约 {metres} 米" in method
    assert "按圈内人口比例折算" in method and "质心" in method
    # branches per village: a branch counts in every village it has compounds in
    with samples_engine.connect() as c:
        per_village = c.execute(text("""
            SELECT v.code, count(DISTINCT b.code) FROM regions v
            JOIN compounds m ON starts_with(m.region_code, v.code) AND m.deleted_at IS NULL
            JOIN party_branches b ON b.deleted_at IS NULL AND (b.seat_compound_code = m.code
              OR EXISTS (SELECT 1 FROM branch_compounds bc WHERE bc.branch_code = b.code
                         AND bc.compound_code = m.code))
            WHERE v.level = 'village' AND starts_with(v.code, :r) GROUP BY v.code"""),
                               {"r": LONGTENG}).all()
        total = c.execute(text("SELECT count(*) FROM party_branches WHERE deleted_at IS NULL "
                               "AND starts_with(region_code, :r)"), {"r": LONGTENG}).scalar_one()
    summed = sum(n for _, n in per_village)
    assert summed > total  # the sample has branches across village lines
    assert f"各村居党支部数相加（{summed} 个）多于全街道党支部数（{total} 个）" in method
    # a village popup names its own count
    counts = dict(per_village)
    props = page.evaluate("smApp.config.villages.features.map(f => f.properties)")
    assert {p["code"]: p["branches"] for p in props} == counts
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts / "planner-method-1440x900.png"))
    watched.check_clean()


def test_planner_names_layers_and_legend_are_legible(watched, live_server, samples_engine,
                                                    artifacts):
    page = _desk(watched, live_server)
    labels = page.evaluate("""() => smApp.names.getLayers().map(l => {
        const s = l.getElement().firstChild, r = s.getBoundingClientRect();
        return {name: s.textContent, lat: l.getLatLng().lat, lng: l.getLatLng().lng,
                shown: s.style.visibility !== 'hidden', font: getComputedStyle(s).fontSize,
                box: [r.left, r.top, r.right, r.bottom]};
    })""")
    with samples_engine.connect() as c:
        villages = {r.name: wkb.loads(bytes(r.g)) for r in c.execute(text(
            "SELECT name, ST_AsBinary(geom) AS g FROM regions WHERE level = 'village' "
            "AND starts_with(code, :r)"), {"r": LONGTENG})}
    assert sorted(lab["name"] for lab in labels) == sorted(villages)
    for lab in labels:  # each name on its own village, at least 14 px
        assert villages[lab["name"]].contains(Point(lab["lng"], lab["lat"])), lab["name"]
        assert float(lab["font"].rstrip("px")) >= 14
    shown = [lab["box"] for lab in labels if lab["shown"]]
    assert len(shown) == len(villages)  # at this zoom every name fits
    for i, a in enumerate(shown):  # and none overlaps another
        for b in shown[i + 1:]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]
    # the legend is beside the town, not over it, and under the layer control
    geo = page.evaluate("""() => {
        const b = smApp.config.bounds, m = smApp.map;
        const east = m.latLngToContainerPoint([b[0][0], b[1][1]]).x;
        const box = document.querySelector('.sm-plegend-box').getBoundingClientRect();
        const ctl = document.querySelector('.leaflet-control-layers').getBoundingClientRect();
        return {east: east, legendLeft: box.left, legendTop: box.top, ctlBottom: ctl.bottom};
    }""")
    assert geo["east"] < geo["legendLeft"]
    assert geo["legendTop"] >= geo["ctlBottom"]
    # the grid layer switched on later stays under the positions
    page.locator(".leaflet-control-layers label", has_text="网格覆盖率").click()
    page.wait_for_selector("path.sm-area-grid", state="attached")
    hits = page.evaluate("""() => [...document.querySelectorAll('path.sm-point')].slice(0, 12)
        .map(p => { const r = p.getBoundingClientRect();
                    const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return e && e.classList.contains('sm-point'); })""")
    assert hits and all(hits), hits
    # no red in the coverage ramp: the circles are red over it
    ramp = page.evaluate("smApp.config.ramps.coverage.map(r => r.colour)")
    for colour in ramp:
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert not (r > 150 and g < 90 and b < 90), colour
    # the legend folds away and comes back
    page.click(".sm-ptoggle")
    assert page.locator("#sm-pbody").is_hidden()
    assert page.get_attribute(".sm-ptoggle", "aria-expanded") == "false"
    page.click(".sm-ptoggle")
    assert page.locator("#sm-pbody").is_visible()
    page.screenshot(path=str(artifacts / "planner-legible-1440x900.png"))
    # on a phone it starts folded and the page passes axe
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open(f"{live_server}/maps/planner?region={LONGTENG}")
    assert page.locator("#sm-pbody").is_hidden()
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts / "planner-390x844.png"))
    watched.check_clean()


def test_planner_exports_what_is_on_screen(watched, live_server):
    page = _desk(watched, live_server)
    links = page.evaluate("[...document.querySelectorAll('a.sm-pexport')]"
                          ".map(a => [a.textContent, a.href])")
    assert len(links) == 4
    for label, href in links:
        r = page.request.get(href)
        assert r.status == 200, (label, r.status)
        want = "text/csv" if "CSV" in label else "spreadsheetml"
        assert want in r.headers["content-type"], (label, r.headers["content-type"])
    csv_href = next(h for lab, h in links if "CSV" in lab)
    rows = list(csv.DictReader(io.StringIO(page.request.get(csv_href).text().lstrip("\ufeff"))))
    on_map = {p["code"]: p for p in page.evaluate(
        "smApp.config.villages.features.map(f => f.properties)")}
    got = {r["编码"]: r for r in rows if r["编码"] in on_map}
    assert set(got) == set(on_map)
    for code, p in on_map.items():  # the file says what the map says
        assert int(got[code]["覆盖人口"]) == p["covered_population"]
        assert float(got[code]["覆盖小区数(按人口占比)"]) == pytest.approx(p["covered_compounds"])
    watched.check_clean()


def test_planner_proposed_sites_from_a_button(watched, live_server, samples_engine, artifacts):
    from geo.circles import Networks
    from geo.coverage import CoverageParams
    from geo.siting import what_if

    page = _desk(watched, live_server)
    assert page.locator("path.sm-site").count() == 0
    page.select_option("#sm-sites-k", "2")
    page.click("#sm-sites-go")
    page.wait_for_selector("path.sm-site", state="attached", timeout=60000)
    assert page.locator("path.sm-site").count() == 2
    sites = page.evaluate("smApp.overlays['建议新增站点'].toGeoJSON().features"
                          ".map(f => [f.geometry.coordinates, f.properties])")
    status = page.locator("#sm-sites-status").inner_text()
    gain = sum(p["population_new"] for _, p in sites)
    assert f"合计新增覆盖 {gain:,} 人" in status
    assert f"覆盖率升至 {sites[-1][1]['population_pct_after']:.2f}%" in status
    # the first site's gain is what geo.siting's what-if finds for one station there
    (lng, lat), first = sites[0]
    assert first["rank"] == 1
    with samples_engine.connect() as c:
        w = what_if(c, LONGTENG, lng, lat, CoverageParams(minutes=10, profile="elderly"),
                    networks=Networks.load(c))
    assert w["delta"]["population_covered"] == first["population_new"]
    assert w["after"]["population_pct"] == pytest.approx(first["population_pct_after"])
    assert re.search(r"已标出 2 个建议站点", status)
    page.screenshot(path=str(artifacts / "planner-sites-1440x900.png"))
    watched.check_clean()


def test_planner_shows_the_osm_facilities_as_a_reference_layer(watched, live_server,
                                                               samples_engine, artifacts):
    """Two facilities, one in 龙腾 and one 20 km away: the layer (off by default)
    holds the first only, its popup names it and its kind, the legend counts it."""
    with samples_engine.begin() as c:
        lng, lat = c.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM regions, ST_PointOnSurface(geom) p "
            "WHERE code = :r"), {"r": LONGTENG}).one()
        for i, (x, y) in enumerate([(lng, lat), (lng + 0.2, lat)]):
            c.execute(text(
                "INSERT INTO facilities (osm_type, osm_id, kind, tag, name, dataset, geom) "
                "VALUES ('n', :i, 'elder_care', 'amenity=nursing_home', :n, 'test-planner', "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                {"i": 7700 + i, "n": f"颐养院{i}", "x": x, "y": y})
    try:
        # a URL of its own: the browser keeps the page the tests above opened for 60 s
        # (Cache-Control), and that one was built before these facilities existed
        page = watched.page
        page.set_viewport_size({"width": 1440, "height": 900})
        watched.open(f"{live_server}/maps/planner?region={LONGTENG}&year=2026")
        page.wait_for_timeout(400)
        assert page.locator(".sm-facility").count() == 0  # off by default
        page.locator(".leaflet-control-layers").hover()
        page.locator("label", has_text="公共设施（OSM）").click()
        assert page.locator(".sm-facility").count() == 1
        page.locator(".sm-facility").first.click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert "颐养院0" in popup.inner_text() and "养老服务" in popup.inner_text()
        legend = page.locator("#sm-plegend").inner_text()
        assert "公共设施（OpenStreetMap，仅供参考，1 处）" in legend
        page.screenshot(path=str(artifacts / "planner-facilities-1440.png"))
        assert axe_violations(page) == []
    finally:
        with samples_engine.begin() as c:
            c.execute(text("DELETE FROM facilities WHERE dataset = 'test-planner'"))
