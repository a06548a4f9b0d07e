"""The residents' side of the planner map in headless Chromium: wishes per grid
cell of 梅花村街道 (open, unclaimed, overdue; small cells outline only) checked
against plain SQL, and the activities of 龙腾街道's centers per month of a
pinned year with the centers that missed the monthly rule (月月有活动) ringed on
the map and listed, equal to geo.residents.activities.monthly; axe-core at a
desk's 1440 × 900 and a phone's 390 × 844, screenshots in test-artifacts/.

A database of its own (both towns, 10-minute circles): the tests add wishes
with hand-made timestamps and take a few activities away."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from api.settings import Settings
from geo.circles import compute_circles
from geo.residents.activities import monthly
from geo.store.migrate import upgrade
from tests.conftest import make_app, serve_in_thread
from tests.maps.conftest import LONGTENG, axe_violations
from tests.maps.test_browser import Watched

MEIHUACUN = "440104013"
YEAR = 2026
#: 龙腾街道's centers that lose activities here: (center, months of YEAR)
TAKEN = {"LT-0003": (3,), "LT-0005": (6, 7)}
#: the same counts as geo.residents.planning, written out again in plain SQL
#: (3, 7 and 30 days: the settings' defaults)
CELLS_SQL = """
SELECT g.code, g.name, count(w.code) AS total,
       count(w.code) FILTER (WHERE w.state IN ('posted', 'published', 'claimed')) AS open,
       count(w.code) FILTER (WHERE w.state = 'published' AND NOT EXISTS (
           SELECT 1 FROM wish_claims c WHERE c.wish_code = w.code
           AND c.withdrawn_at IS NULL)) AS unclaimed,
       count(w.code) FILTER (WHERE (w.state = 'posted' AND w.posted_at + interval '3 days' < now())
           OR (w.state = 'published' AND w.published_at + interval '7 days' < now())
           OR (w.state = 'claimed' AND w.claimed_at + interval '30 days' < now())) AS overdue,
       count(w.code) FILTER (WHERE w.state IN ('fulfilled', 'confirmed')) AS fulfilled
FROM grid_cells g LEFT JOIN wishes w ON w.grid_code = g.code
WHERE starts_with(g.region_code, :r) AND g.deleted_at IS NULL
GROUP BY g.code, g.name ORDER BY g.code"""


@pytest.fixture(scope="module")
def plan_db(pg_cluster):
    import data
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_planner_residents")
    upgrade(url)
    eng = create_engine(url)
    for name in ("longteng", "meihuacun"):
        load_sample(eng, data.generate(name), log=lambda m: None)
    with eng.begin() as c:
        compute_circles(c, [10], profile="elderly")
        for center, months in TAKEN.items():  # these months pass without an activity
            c.execute(text(
                "UPDATE activities SET deleted_at = now() WHERE point_code = :p "
                "AND extract(year FROM starts_at AT TIME ZONE 'Asia/Shanghai') = :y "
                "AND extract(month FROM starts_at AT TIME ZONE 'Asia/Shanghai') = ANY(:m)"),
                {"p": center, "y": YEAR, "m": list(months)})
        # wishes waiting in 梅花村: the sample's are all claimed
        grid = "MH-G03"
        village = c.execute(text("SELECT region_code FROM grid_cells WHERE code = :g"),
                            {"g": grid}).scalar_one()
        for code, state, posted, published in (
                ("PR-W1", "posted", "5 days", None),  # not reviewed in 3 days
                ("PR-W2", "published", "12 days", "10 days"),  # not claimed in 7 days
                ("PR-W3", "published", "2 days", "1 day"),  # waiting, not yet overdue
                ("PR-W4", "posted", "1 day", None)):
            c.execute(text(
                "INSERT INTO wishes (code, title, public_text, region_code, grid_code, state, "
                "posted_at, published_at) VALUES (:c, '测试心愿', '测试心愿', :r, :g, :s, "
                "now() - CAST(:p AS interval), now() - CAST(:b AS interval))"),
                {"c": code, "r": village, "g": grid, "s": state, "p": posted, "b": published})
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def server(plan_db):
    with serve_in_thread(make_app(Settings(cache_ttl_s=0), plan_db)) as url:
        yield url


@pytest.fixture
def watched(browser_context):
    w = Watched(browser_context)
    yield w
    w.close()


def _open_legend(page) -> None:
    if page.locator("#sm-pbody").is_hidden():
        page.click(".sm-ptoggle")


def test_wishes_per_grid_cell_match_sql(watched, server, plan_db, artifacts):
    """#wishes opens the layer: every grid cell drawn, the cells' counts (popup
    and tooltip) equal plain SQL, cells under 3 wishes have no figures, the
    legend's totals are the street's."""
    page = watched.page
    page.set_viewport_size({"width": 1440, "height": 900})
    # off at first: the page has many layers
    watched.open(f"{server}/maps/planner?region={MEIHUACUN}")
    assert page.evaluate("smApp.map.hasLayer(smApp.wishes)") is False
    assert page.locator(".leaflet-control-layers label", has_text="居民心愿（按网格）").count() == 1
    assert not page.locator('.sm-lsec[data-layer="wishes"]').is_visible()
    page.goto("about:blank")  # a new page, not a jump to the anchor
    watched.open(f"{server}/maps/planner?region={MEIHUACUN}#wishes")
    with plan_db.connect() as c:
        rows = c.execute(text(CELLS_SQL), {"r": MEIHUACUN}).mappings().all()
    assert page.locator("path.sm-wish").count() == len(rows) == 45
    cells = page.evaluate("""() => smApp.wishes.getLayers().map(l => ({
        p: l.feature.properties, tip: l.getTooltip().getContent(),
        pop: l.getPopup().getContent()}))""")
    got = {x["p"]["code"]: x for x in cells}
    assert set(got) == {r["code"] for r in rows}
    small = [r for r in rows if r["total"] < 3]
    assert small and len(small) < len(rows)
    for r in rows:
        x = got[r["code"]]
        if r["total"] < 3:  # outline only, no figures
            assert x["p"]["suppressed"] and x["p"]["open"] is None
            assert "心愿不足 3 个" in x["tip"] and "在办" not in x["pop"]
            continue
        line = f"在办心愿 {r['open']}，待认领 {r['unclaimed']}，超期 {r['overdue']}"
        assert x["tip"] == f"{r['name']}：{line}", r["code"]
        assert line in x["pop"] and f"已完成 {r['fulfilled']}" in x["pop"]
        assert f"共 {r['total']} 个" in x["pop"]
    # the open wishes as numbers in their cells, the overdue ones in red below
    labels = page.eval_on_selector_all(".sm-wlabel span", "els => els.map(e => e.textContent)")
    assert sorted(labels) == sorted(
        f"{r['open']}" + (f"超期 {r['overdue']}" if r["overdue"] else "")
        for r in rows if r["total"] >= 3 and r["open"] > 0)
    # the hand-made wishes of MH-G03: 4 waiting more, 2 unclaimed, 2 overdue
    g03 = next(r for r in rows if r["code"] == "MH-G03")
    assert (g03["unclaimed"], g03["overdue"]) == (2, 2) and g03["open"] >= 4
    # darker is more waiting: the cell with the hand-made wishes is the darkest
    assert got["MH-G03"]["p"]["colour"] == max(
        (x["p"]["colour"] for x in cells if x["p"]["colour"]), key=lambda h: -int(h[1:3], 16))
    with plan_db.connect() as c:
        tot = c.execute(text("""
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE state IN ('posted', 'published', 'claimed')) AS open,
                   count(*) FILTER (WHERE state IN ('fulfilled', 'confirmed')) AS fulfilled
            FROM wishes WHERE starts_with(region_code, :r)"""), {"r": MEIHUACUN}).one()
    assert tot.total == 271 + 25 + 4
    summary = page.locator("#sm-wish-sum").inner_text()
    assert summary == (f"居民心愿（含微项目）{tot.total} 个：在办 {tot.open}，待认领 "
                       f"{sum(r['unclaimed'] for r in rows)}，超期 "
                       f"{sum(r['overdue'] for r in rows)}，已完成 {tot.fulfilled}")
    sec = page.locator('.sm-lsec[data-layer="wishes"]')
    assert sec.is_visible()
    assert (f"{len(small)} 个网格心愿不足 3 个，合计 {sum(r['total'] for r in small)} 个"
            in sec.inner_text())
    # the page has no activities in 梅花村: no activity section, no rings
    assert page.locator("#sm-acts").count() == 0 and page.evaluate("smApp.missed") is None
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "planner-wishes-1440x900.png"))
    assert axe_violations(page) == []
    # a resident on a phone taps a cell: the popup names the figures
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("about:blank")
    watched.open(f"{server}/maps/planner?region={MEIHUACUN}#wishes")
    assert page.locator("#sm-pbody").is_hidden()  # folded at first on a phone
    page.evaluate("smApp.wishes.getLayers().find(l => l.feature.properties.code === 'MH-G03')"
                  ".openPopup()")
    page.wait_for_timeout(300)
    assert "待认领 2，超期 2" in page.locator(".leaflet-popup-content").inner_text()
    page.screenshot(path=str(artifacts / "planner-wishes-390x844.png"))
    assert axe_violations(page) == []
    page.evaluate("smApp.map.closePopup()")
    _open_legend(page)
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / "planner-wishes-legend-390x844.png"))
    assert axe_violations(page) == []
    watched.check_clean()


def test_activities_per_month_and_centers_that_missed(watched, server, plan_db, artifacts):
    """龙腾街道 in the pinned year: the table is activities.monthly's, the
    ringed and listed centers are its ``missing``, and the rings sit under the
    markers (a position stays clickable)."""
    with plan_db.connect() as c:
        want = monthly(c, LONGTENG, YEAR)
        where = {r.code: (r.lng, r.lat) for r in c.execute(text(
            "SELECT code, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points "
            "WHERE code = ANY(:c)"), {"c": want["missing"]})}
    assert sorted(want["missing"]) == sorted(TAKEN)  # the sample itself keeps the rule
    page = watched.page
    page.set_viewport_size({"width": 1440, "height": 900})
    watched.open(f"{server}/maps/planner?region={LONGTENG}&year={YEAR}")
    cfg = page.evaluate("smApp.config.activities")
    assert cfg["year"] == YEAR and sorted(cfg["missing"]) == sorted(want["missing"])
    assert cfg["months_closed"] == want["months_closed"]
    # the ring layer: one ring per center that missed, on that center
    rings = page.evaluate("smApp.missed.getLayers().map(l => [l.getLatLng().lng, "
                          "l.getLatLng().lat])")
    assert len(rings) == len(want["missing"])
    for (lng, lat), code in zip(sorted(rings), sorted(want["missing"], key=where.get),
                                strict=True):
        assert (lng, lat) == pytest.approx(where[code], abs=1e-6), code
    assert page.locator("path.sm-missed").count() == len(want["missing"])
    listed = page.eval_on_selector_all("#sm-missed-list li", "els => els.map(e => e.dataset.code)")
    assert sorted(listed) == sorted(want["missing"])
    items = page.locator("#sm-missed-list").inner_text()
    for code, months in TAKEN.items():
        name = next(x["name"] for x in want["centers"] if x["code"] == code)
        assert f"{name}：{'、'.join(map(str, months))} 月没有活动" in items
    legend = page.locator("#sm-acts").inner_text()
    assert f"{len(want['centers'])} 个党群服务中心共 {want['activities']} 场活动" in legend
    assert f"未做到月月有活动（截至 {want['months_closed']} 月）：2 个" in legend
    # the table: one row per center, its twelve months, the missed months marked
    page.click("#sm-acts-table summary")
    table = page.evaluate("""() => [...document.querySelectorAll('.sm-acts-tbl tbody tr')]
        .map(tr => ({code: tr.dataset.code,
                     months: [...tr.querySelectorAll('td')].map(td => Number(td.textContent)),
                     missed: [...tr.querySelectorAll('td')].flatMap((td, i) =>
                         td.classList.contains('sm-miss') ? [i + 1] : [])}))""")
    # the street's own center first
    town = next(x["code"] for x in want["centers"] if x["kind"] == "town_center")
    assert table[0]["code"] == town and len(table) == len(want["centers"]) == 6
    assert sorted(table, key=lambda r: r["code"]) == sorted(
        ({"code": x["code"], "months": x["months"], "missed": x["missed_months"]}
         for x in want["centers"]), key=lambda r: r["code"])
    # the rings are under the positions: the marker's middle is the marker
    hits = page.evaluate("""() => smApp.missed.getLayers().map(l => {
        const p = smApp.map.latLngToContainerPoint(l.getLatLng());
        const r = smApp.map.getContainer().getBoundingClientRect();
        const e = document.elementFromPoint(r.left + p.x, r.top + p.y);
        return e && e.classList.contains('sm-point'); })""")
    assert hits and all(hits), hits
    assert page.locator("path.sm-point").count() == 33
    # a center's popup says it too
    code = want["missing"][0]
    page.evaluate(f"""smApp.map.eachLayer(l => {{ if (l.getPopup && l.getPopup() &&
        l.getPopup().getContent().indexOf('{next(x['name'] for x in want['centers']
                                                 if x['code'] == code)}') >= 0
        && l.options.className === 'sm-point') l.openPopup(); }})""")
    page.wait_for_timeout(200)
    pop = page.locator(".leaflet-popup-content").inner_text()
    assert f"{YEAR} 年活动" in pop and "月没有活动" in pop
    page.evaluate("smApp.map.closePopup()")
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / "planner-activities-1440x900.png"))
    assert axe_violations(page) == []
    # on a phone: folded at first; unfolded, the table scrolls inside the legend
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open(f"{server}/maps/planner?region={LONGTENG}&year={YEAR}")
    assert page.locator("#sm-pbody").is_hidden()
    page.screenshot(path=str(artifacts / "planner-activities-390x844.png"))
    assert axe_violations(page) == []
    _open_legend(page)
    page.locator("#sm-acts").scroll_into_view_if_needed()
    page.click("#sm-acts-table summary")
    page.locator("#sm-acts-table").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / "planner-activities-table-390x844.png"))
    assert axe_violations(page) == []
    watched.check_clean()


def test_page_follows_new_wishes_and_this_year(watched, server, plan_db):
    """The cached page changes when a wish is posted; without ``year`` the
    activity table is this year's (Beijing time); a town without wishes has no
    wish layer."""
    from datetime import datetime

    import httpx

    from geo.residents.activities import SHANGHAI

    page = watched.page
    page.set_viewport_size({"width": 1440, "height": 900})
    watched.open(f"{server}/maps/planner?region={LONGTENG}")
    assert page.evaluate("smApp.config.activities.year") == datetime.now(SHANGHAI).year
    assert page.evaluate("smApp.config.wishes") is None and page.evaluate("smApp.wishes") is None
    watched.open(f"{server}/maps/planner?region={MEIHUACUN}")
    before = page.evaluate("smApp.config.wishes.totals")
    url = f"{server}/maps/planner?region={MEIHUACUN}"
    etag = httpx.get(url, timeout=60).headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}, timeout=60).status_code == 304
    with plan_db.begin() as c:
        c.execute(text("INSERT INTO wishes (code, title, region_code, grid_code, state, "
                       "published_at) SELECT 'PR-W9', '新心愿', region_code, code, 'published', "
                       "now() FROM grid_cells WHERE code = 'MH-G03'"))
    try:
        r = httpx.get(url, headers={"If-None-Match": etag}, timeout=60)
        assert r.status_code == 200 and r.headers["etag"] != etag
        page.goto("about:blank")
        watched.open(url + "&year=" + str(datetime.now(SHANGHAI).year))  # not the browser's copy
        after = page.evaluate("smApp.config.wishes.totals")
        assert after["total"] == before["total"] + 1
        assert after["unclaimed"] == before["unclaimed"] + 1
    finally:
        with plan_db.begin() as c:
            c.execute(text("DELETE FROM wishes WHERE code = 'PR-W9'"))
    watched.check_clean()
