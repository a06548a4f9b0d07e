"""The resident, embed and planner pages in a real browser: headless Debian
Chromium loads them from the running app at 360 × 640 (a phone) and checks
what a resident would see. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from geo.hours import CHINA_TZ
from tests.maps.conftest import LISHUI, LONGTENG

LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


class Watched:
    """A page with its console errors, page errors and requested hosts recorded."""

    def __init__(self, ctx):
        self.page = ctx.new_page()
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.failed: list[str] = []
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)
        # a blob: URL (ReDoc's search worker) is counted by the origin that made it
        self.page.on("request", lambda r: self.hosts.add(
            urlparse(r.url.removeprefix("blob:")).hostname or r.url)
            if not r.url.startswith("data:") else None)

    def open(self, url: str) -> None:
        self.page.goto(url)
        try:
            self.page.wait_for_selector("[data-ready='1']", state="attached", timeout=45000)
        except Exception as e:  # say what the page saw, not only that it timed out
            raise AssertionError(f"{url} never ready; page errors: {self.errors}; "
                                 f"failed requests: {self.failed}") from e
        self.page.wait_for_load_state("networkidle")

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.hosts <= LOOPBACK, f"requests left the machine: {self.hosts - LOOPBACK}"

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(browser_context):
    w = Watched(browser_context)
    yield w
    w.close()


def _pin_time(page, when: datetime) -> None:
    """The page evaluates "open now" at this instant (window.SM_NOW)."""
    page.add_init_script(f"window.SM_NOW = '{when.isoformat()}'")


def _rendered_count(page) -> int:
    """Points shown: single markers plus the counts written on the clusters."""
    return page.evaluate("""() => {
        const single = document.querySelectorAll('.sm-pin-i').length;
        const clustered = [...document.querySelectorAll('.marker-cluster span')]
            .reduce((a, e) => a + parseInt(e.textContent, 10), 0);
        return single + clustered;
    }""")


def test_resident_map_on_a_phone(watched, live_server, samples_engine, center, artifacts):
    page = watched.page
    # 10:00 on a Monday, China time: a daily 09:00-21:00 center is open (the page
    # reads the instant from window.SM_NOW when set)
    _pin_time(page, datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ))
    watched.open(f"{live_server}/maps/resident?region={LISHUI}")
    with samples_engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM service_points WHERE deleted_at IS NULL "
                           "AND starts_with(region_code, :r)"), {"r": LISHUI}).scalar_one()
    assert n == 170
    assert page.evaluate("smApp.points.length") == n
    assert _rendered_count(page) == n          # every point is a marker or in a cluster
    assert page.title() == "里水镇党群服务地图"
    assert page.locator("#sm-badge").inner_text() == "示例数据"
    # fits a 360 px wide screen: no horizontal scrolling, the bar inside the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    bar = page.locator(".sm-bar").bounding_box()
    assert bar["x"] >= 0 and bar["x"] + bar["width"] <= 360
    page.screenshot(path=str(artifacts / "resident-360x640.png"))

    # search by name, open the card
    page.fill("#sm-search", "里水镇党群")
    page.click(f".sm-result[data-code='{center.code}']")
    card = page.locator(".leaflet-popup .sm-card")
    card.wait_for()
    body = card.inner_text()
    assert center.name in body and "镇街党群服务中心" in body
    assert page.locator(".sm-card .sm-state").inner_text() == "开放中"
    assert "每天 09:00-21:00" in body
    assert card.locator("a[href^='tel:']").count() == 1
    amap = card.locator("a.sm-nav-amap").get_attribute("href")
    tencent = card.locator("a.sm-nav-tencent").get_attribute("href")
    assert "mode=walk" in amap and "type=walk" in tencent
    # navigation links carry GCJ-02 (offset from the WGS-84 position)
    with samples_engine.connect() as c:
        lng, lat = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM service_points "
                                  "WHERE code = :c"), {"c": center.code}).one()
    from geo.crs import wgs84_to_gcj02

    glng, glat = wgs84_to_gcj02(lng, lat)
    m = re.search(r"to=([\d.]+),([\d.]+),", amap)
    assert abs(float(m.group(1)) - glng) < 2e-6 and abs(float(m.group(2)) - glat) < 2e-6
    assert f"tocoord={glat:.6f},{glng:.6f}" in tencent
    # the 10-minute circle of the selected point is drawn
    page.wait_for_selector("path.sm-circle", state="attached")
    page.screenshot(path=str(artifacts / "resident-card-360x640.png"))
    watched.check_clean()


def test_closed_at_night_and_filter_by_service(watched, live_server):
    page = watched.page
    _pin_time(page, datetime(2026, 11, 23, 22, 30, tzinfo=CHINA_TZ))
    watched.open(f"{live_server}/maps/resident?region={LISHUI}&point=LS-0001")
    page.locator(".leaflet-popup .sm-card").wait_for()
    assert page.locator(".sm-card .sm-state").inner_text() == "已关闭"
    expected = page.evaluate(
        "smApp.points.filter(p => (p.services || []).includes('think_tank')).length")
    assert 0 < expected < 170
    page.select_option("#sm-service", "think_tank")
    page.keyboard.press("Escape")
    page.wait_for_function(f"""() => {{
        const s = document.querySelectorAll('.sm-pin-i').length +
          [...document.querySelectorAll('.marker-cluster span')]
            .reduce((a, e) => a + parseInt(e.textContent, 10), 0);
        return s === {expected};
    }}""")
    watched.check_clean()


def test_nearest_to_me_uses_walking_distance(watched, live_server, browser_context,
                                             center, artifacts):
    lng, lat = center.lng, center.lat
    browser_context.set_geolocation({"latitude": lat, "longitude": lng + 0.0005})
    page = watched.page
    watched.open(f"{live_server}/maps/resident?region={LISHUI}")
    page.click("#sm-locate")
    page.wait_for_selector(".sm-nearest")
    items = page.locator(".sm-nearest").all_inner_texts()
    assert len(items) == 3
    assert "里水镇党群服务中心" in items[0]
    assert all("步行约" in t for t in items)
    page.screenshot(path=str(artifacts / "resident-nearest-360x640.png"))
    watched.check_clean()


def test_embed_page_is_minimal(watched, live_server, artifacts):
    watched.open(f"{live_server}/embed/resident?region={LONGTENG}")
    page = watched.page
    assert page.locator(".sm-title").count() == 0
    assert page.locator("#sm-search").count() == 1
    assert _rendered_count(page) == 33
    page.screenshot(path=str(artifacts / "embed-360x640.png"))
    watched.check_clean()


def test_planner_map(watched, live_server, samples_engine, artifacts):
    page = watched.page
    page.set_viewport_size({"width": 1280, "height": 800})
    watched.open(f"{live_server}/maps/planner?region={LONGTENG}")
    with samples_engine.connect() as c:
        villages = c.execute(text("SELECT count(*) FROM regions WHERE level = 'village' "
                                  "AND starts_with(code, :r)"), {"r": LONGTENG}).scalar_one()
    assert page.locator("path.sm-area-village").count() == villages == 5
    assert page.locator("path.sm-point").count() == 33
    legend = page.locator("#sm-plegend").inner_text()
    assert "小区党支部覆盖 32 / 36（88.89%" in legend
    assert page.locator(".leaflet-control-layers").count() == 1
    # the circles come as raster tiles from the app
    page.wait_for_selector(".sm-circles-tiles img", state="attached")
    page.screenshot(path=str(artifacts / "planner-1280x800.png"))
    page.set_viewport_size({"width": 360, "height": 640})
    page.screenshot(path=str(artifacts / "planner-360x640.png"))
    watched.check_clean()


def test_open_state_in_the_page_follows_the_holiday_calendar(watched, live_server,
                                                            samples_engine):
    """The page's isOpen (with the page's calendar) equals geo.hours.is_open for
    every point of Lishui on National Day, a make-up Saturday, an ordinary
    Sunday and a weekday evening."""
    from sqlalchemy import text as sql

    from geo.hours import is_open, parse_hours

    page = watched.page
    watched.open(f"{live_server}/maps/resident?region={LISHUI}")
    with samples_engine.connect() as c:
        hours = [r[0] for r in c.execute(sql(
            "SELECT hours FROM service_points WHERE hours IS NOT NULL ORDER BY code"))]
    hours += [parse_hours(t)[0] for t in ("工作日 9:00-17:00", "周一至周六 9:00-17:00",
                                          "每天 9:00-21:00 节假日休息")]
    instants = [datetime(2026, 10, 1, 10, 0, tzinfo=CHINA_TZ),
                datetime(2026, 2, 14, 10, 0, tzinfo=CHINA_TZ),
                datetime(2026, 11, 29, 10, 0, tzinfo=CHINA_TZ),
                datetime(2026, 12, 2, 19, 30, tzinfo=CHINA_TZ)]
    for at in instants:
        want = [is_open(h, at) for h in hours]
        got = page.evaluate(
            "([hs, iso]) => hs.map(h => ServiceMap.isOpen(h, new Date(iso), smApp.cfg.calendar))",
            [hours, at.isoformat()])
        assert got == want, at
    # the holiday changes some answers: the test is not vacuous
    assert [is_open(h, instants[0]) for h in hours] != \
        [is_open(h, instants[0], calendar=False) for h in hours]
    watched.check_clean()


def test_planner_walking_time_heatmap(watched, live_server, artifacts):
    """#walk opens the planner map on the walking-time tiles (from the app) with
    their legend in minutes and the speed the minutes are at."""
    from tests.maps.conftest import axe_violations

    page = watched.page
    page.set_viewport_size({"width": 1440, "height": 900})
    watched.open(f"{live_server}/maps/planner?region={LISHUI}#walk")
    page.wait_for_selector(".sm-walk-tiles img", state="attached")
    srcs = page.eval_on_selector_all(".sm-walk-tiles img", "els => els.map(e => e.src)")
    assert srcs and all("/tiles/walktime/" in s and s.endswith(".png") or "?v=" in s
                        for s in srcs)
    sec = page.locator('.sm-lsec[data-layer="walk"]')
    assert sec.is_visible()
    text = sec.inner_text()
    for label in ("5 分钟以内", "5–10 分钟", "10–15 分钟", "15–20 分钟", "20 分钟以上",
                  "步行不可达"):
        assert label in text
    assert "老年人 3.6 公里/小时（每分钟 60 米）" in page.locator("#sm-walk-sum").inner_text()
    # the supply legend stays hidden while its layer is off
    assert not page.locator('.sm-lsec[data-layer="supply"]').is_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / "planner-walk-1440x900.png"))
    assert axe_violations(page) == []
    watched.check_clean()


def test_planner_scenario_beside_today(watched, live_server, samples_engine, artifacts):
    """A planner opens a saved scenario beside today with their own token: the
    two maps keep one view, the differences shown are the API's, the changed
    walking cells are drawn, a wrong token is told plainly, and axe finds no
    WCAG A/AA violation at 1440 and 390 px."""
    import httpx

    from geo.tokens import create_token, revoke_token
    from tests.maps.conftest import axe_violations

    with samples_engine.begin() as c:
        secret, info = create_token(c, name="browser-planner", role="planner",
                                    regions=[LISHUI])
        closed = c.execute(text("SELECT code FROM service_points WHERE code LIKE 'LS-%' "
                                "ORDER BY code OFFSET 2 LIMIT 1")).scalar_one()
    auth = {"Authorization": f"Bearer {secret}"}
    # a new station where the walk is longest today
    far = httpx.get(f"{live_server}/api/v1/access?region={LISHUI}&farthest=1",
                    timeout=60).json()["farthest_cells"][0]
    body = {"name": "北部新站与一处关闭", "region": LISHUI, "changes": {"positions": [
        {"op": "add", "code": "SCN-B1", "name": "北部新社区服务站", "kind": "station",
         "lng": far["lng"], "lat": far["lat"]}, {"op": "close", "code": closed}]}}
    r = httpx.post(f"{live_server}/api/v1/scenarios", json=body, headers=auth)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        cmp = httpx.get(f"{live_server}/api/v1/scenarios/{sid}/compare", headers=auth,
                        timeout=60).json()
        cells = httpx.get(f"{live_server}/api/v1/scenarios/{sid}/cells", headers=auth,
                          timeout=60).json()
        assert cells["cells_changed"] > 0
        page = watched.page
        sent: list[str | None] = []
        page.on("request", lambda q: sent.append(q.headers.get("authorization"))
                if "/api/v1/scenarios" in q.url else None)
        page.set_viewport_size({"width": 1440, "height": 900})
        watched.open(f"{live_server}/maps/planner?region={LISHUI}&scenario={sid}")
        status = page.locator(".sm-scn-status")
        assert f"输入规划令牌以打开方案 {sid}" in status.inner_text()
        # a wrong token: said plainly, nothing opens
        page.fill("#sm-scn-token", "sm_not_a_real_token")
        page.click(".sm-scn-load")
        page.wait_for_selector(".sm-scn-status.sm-scn-bad")
        assert "令牌无效" in status.inner_text()
        assert page.locator("#sm-scn-map").count() == 0
        # the right one: the scenario opens beside today
        page.fill("#sm-scn-token", secret)
        page.click(".sm-scn-load")
        page.wait_for_selector("#sm-scn-map[data-ready='1']", state="attached", timeout=60000)
        assert sent and all(h == f"Bearer {secret}" for h in sent[1:])
        assert secret not in page.url
        t = cmp["totals"]
        table = page.locator(".sm-scn-table").inner_text()
        assert f"{t['population_covered_today']:,}" in table
        assert f"{t['population_covered_scenario']:,}" in table
        assert f"{t['within_10min_pct_scenario']:.2f}%" in table
        diff = page.locator("#sm-scn-diff").inner_text()
        assert f"{cells['cells_changed']:,} / {cells['cells']:,}" in diff
        assert "新增 1" in diff and "关闭 1" in diff
        assert page.locator("#sm-scn-map path.sm-walk-delta").count() == cells["cells_changed"]
        assert page.locator("#sm-scn-map .sm-chg-add").count() == 1
        assert page.locator("#sm-scn-map .sm-chg-close").count() == 1
        # the closed position is not drawn as open on the scenario's side
        villages = page.locator("#sm-scn-map path.sm-area-scenario").count()
        assert villages == len(cmp["by_region"]) - sum(r["level"] == "town"
                                                       for r in cmp["by_region"])
        # one view for both maps
        page.evaluate("smApp.map.panBy([120, 80], {animate: false})")
        a, b, za, zb = page.evaluate(
            "[smApp.map.getCenter(), smApp.scenario.state.other.getCenter(), "
            "smApp.map.getZoom(), smApp.scenario.state.other.getZoom()]")
        assert za == zb
        one_px = 360 / (256 * 2 ** za)  # degrees of longitude per pixel
        assert a["lng"] == pytest.approx(b["lng"], abs=1.5 * one_px)
        assert a["lat"] == pytest.approx(b["lat"], abs=1.5 * one_px)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(artifacts / "planner-scenario-1440x900.png"))
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / "planner-scenario-390x844.png"))
        assert axe_violations(page) == []
        page.click(".sm-scn-close")
        assert page.locator("#sm-scn-map").count() == 0
        watched.errors = [e for e in watched.errors if "401" not in e]  # the wrong token
        watched.check_clean()
    finally:
        httpx.delete(f"{live_server}/api/v1/scenarios/{sid}", headers=auth)
        with samples_engine.begin() as c:
            revoke_token(c, info.prefix)


# ------------------------------------------------ the resident map, as residents use it
def _boxes_overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_filtered_nearest_opens_its_card(watched, live_server, browser_context,
                                         samples_engine, center):
    """附近 with the legal-service filter lists only positions offering it, each
    with its state, and tapping one opens its card (no script error)."""
    browser_context.set_geolocation({"latitude": center.lat, "longitude": center.lng + 0.001})
    page = watched.page
    watched.open(f"{live_server}/maps/resident?region={LISHUI}&service=legal")
    page.click("#sm-locate")
    page.wait_for_selector(".sm-nearest")
    codes = page.eval_on_selector_all(".sm-nearest", "els => els.map(e => e.dataset.code)")
    with samples_engine.connect() as c:
        legal = set(c.execute(text("SELECT code FROM service_points "
                                   "WHERE 'legal' = ANY(services)")).scalars())
    assert codes and set(codes) <= legal
    assert all(page.locator(".sm-nearest .sm-state").all_inner_texts())
    page.locator(".sm-nearest").first.click()
    page.locator(f".leaflet-popup .sm-card[data-code='{codes[0]}']").wait_for()
    watched.check_clean()


def test_open_now_filter_and_next_opening(watched, live_server, samples_engine):
    """On National Day at 10:00 "只看开放中" shows exactly the positions open by
    geo.hours (holiday calendar); the page's next opening equals the server's
    for every Lishui position at four instants; a closed card says when it opens."""
    from geo.hours import is_open, next_opening

    page = watched.page
    at = datetime(2026, 10, 1, 10, 0, tzinfo=CHINA_TZ)
    _pin_time(page, at)
    watched.open(f"{live_server}/maps/resident?region={LISHUI}")
    with samples_engine.connect() as c:
        rows = c.execute(text("SELECT code, hours FROM service_points WHERE deleted_at IS NULL "
                              "AND starts_with(region_code, :r) ORDER BY code"),
                         {"r": LISHUI}).all()
    want_open = sum(bool(is_open(h, at)) for _, h in rows if h)
    assert 0 < want_open < len(rows)
    page.click("#sm-open-now")
    assert page.get_attribute("#sm-open-now", "aria-pressed") == "true"
    page.wait_for_function(f"""() => {{
        const s = document.querySelectorAll('.sm-pin-i').length +
          [...document.querySelectorAll('.marker-cluster span')]
            .reduce((a, e) => a + parseInt(e.textContent, 10), 0);
        return s === {want_open};
    }}""")
    hours = [h for _, h in rows if h]
    for when in (at, datetime(2026, 2, 14, 7, 0, tzinfo=CHINA_TZ),
                 datetime(2026, 11, 29, 21, 30, tzinfo=CHINA_TZ),
                 datetime(2026, 12, 2, 12, 10, tzinfo=CHINA_TZ)):
        want = [None if (n := next_opening(h, when)) is None else n.timestamp() * 1000
                for h in hours]
        got = page.evaluate("([hs, iso]) => hs.map(h => { const d = ServiceMap.nextOpening("
                            "h, new Date(iso), smApp.cfg.calendar); return d && d.getTime(); })",
                            [hours, when.isoformat()])
        assert got == want, when
    # a card of a closed position (the filter off) says when it opens next
    page.click("#sm-open-now")
    closed = next(code for code, h in rows if h and is_open(h, at) is False)
    page.evaluate(f"smApp.select(smApp.points.find(p => p.code === '{closed}'))")
    page.locator(f".sm-card[data-code='{closed}'] .sm-next").wait_for()
    nxt = next_opening(dict(rows)[closed], at)
    assert page.locator(".sm-card .sm-next").inner_text() == \
        f"{nxt.month}月{nxt.day}日 {nxt:%H:%M} 开放"
    watched.check_clean()


def test_search_finds_services_and_places(watched, live_server, samples_engine):
    """Search reads service words (养老 → 居家养老 positions), shows kind,
    address and state, pages past eight with 显示更多, and offers compounds as
    "my place" for the walking search."""
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open(f"{live_server}/maps/resident?region={LISHUI}")
    with samples_engine.connect() as c:
        elderly = set(c.execute(text(
            "SELECT code FROM service_points WHERE 'elderly_care' = ANY(services) "
            "AND starts_with(region_code, :r)"), {"r": LISHUI}).scalars())
        compound = c.execute(text("SELECT name FROM compounds WHERE starts_with(region_code, :r) "
                                  "ORDER BY code LIMIT 1"), {"r": LISHUI}).scalar_one()
    assert len(elderly) > 8
    page.fill("#sm-search", "养老")
    shown = page.eval_on_selector_all("#sm-results .sm-result[data-code]",
                                      "els => els.map(e => e.dataset.code)")
    assert len(shown) == 8 and set(shown) <= elderly
    first = page.locator("#sm-results .sm-result[data-code]").first.inner_text()
    assert "·" in first and ("开放中" in first or "已关闭" in first)
    page.click(".sm-more")
    shown = page.eval_on_selector_all("#sm-results .sm-result[data-code]",
                                      "els => els.map(e => e.dataset.code)")
    assert len(shown) == min(len(elderly), 28) and set(shown) <= elderly
    page.fill("#sm-search", compound)
    page.locator(".sm-place").first.click()
    page.wait_for_selector(".sm-nearest")
    assert f"离{compound}最近" in page.locator("#sm-panel").inner_text()
    watched.check_clean()


def test_resident_map_accessibility(watched, live_server, samples_engine, artifacts):
    """For elderly residents: zoomable page, search first in the keyboard order,
    readable sizes, 44 px targets, named clusters, the badge clear of the card,
    the scale bar in 米/公里, names on pins from zoom 16, the card's stars, rooms
    and area, and no axe-core WCAG 2.1 A/AA violation at 390 and 1440 px."""
    from tests.maps.conftest import axe_violations

    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open(f"{live_server}/maps/resident?region={LISHUI}")
    viewport = page.get_attribute("meta[name=viewport]", "content")
    assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "sm-search"
    labels = page.eval_on_selector_all(".marker-cluster", "els => els.map(e => "
                                       "e.getAttribute('aria-label'))")
    assert labels and all(lab and lab.endswith("个服务阵地，点按放大") for lab in labels)
    assert any(u in page.locator(".leaflet-control-scale-line").inner_text()
               for u in ("米", "公里"))
    assert axe_violations(page) == []
    with samples_engine.connect() as c:
        code, stars, rooms, area = c.execute(text(
            "SELECT code, stars, rooms, floor_area_m2 FROM service_points WHERE stars > 0 "
            "AND rooms > 0 AND floor_area_m2 > 0 AND phone IS NOT NULL "
            "AND starts_with(region_code, :r) ORDER BY code LIMIT 1"), {"r": LISHUI}).one()
    page.evaluate(f"smApp.select(smApp.points.find(p => p.code === '{code}'))")
    card = page.locator(f".sm-card[data-code='{code}']")
    card.wait_for()
    page.wait_for_timeout(400)
    facts = card.locator(".sm-card-facts").inner_text()
    assert "★" * stars in facts and f"功能室 {rooms} 间" in facts
    assert f"面积 {round(area)} 平方米" in facts
    for sel in (".leaflet-popup-close-button", ".sm-card-nav a", ".sm-card-phone",
                "#sm-search", "#sm-locate", "#sm-open-now"):
        for box in [e.bounding_box() for e in page.locator(sel).all()]:
            assert box["height"] >= 44 - 0.5, (sel, box)
    for sel in (".sm-card-hours", ".sm-card-addr", ".sm-card-kind", ".sm-chip"):
        px = page.eval_on_selector(sel, "e => parseFloat(getComputedStyle(e).fontSize)")
        assert px >= 15, (sel, px)
    badge = page.locator("#sm-badge").bounding_box()
    close = page.locator(".leaflet-popup-close-button").bounding_box()
    assert not _boxes_overlap(badge, close)
    # the pin's name shows from zoom 16
    assert page.locator(f".sm-pin-i[data-code='{code}'] + .sm-pin-name").is_visible()
    page.screenshot(path=str(artifacts / "resident-card-390x844.png"))
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "resident-card-1440x900.png"))
    assert axe_violations(page) == []
    watched.check_clean()


def test_embed_page_accessibility(watched, live_server):
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    watched.open(f"{live_server}/embed/resident?region={LONGTENG}")
    from tests.maps.conftest import axe_violations

    assert axe_violations(page) == []
    watched.check_clean()


def test_without_a_secure_context_tap_the_map(playwright_instance, live_server, center,
                                              artifacts):
    """On a plain-HTTP intranet address the browser gives no location: 附近 says
    why (not "allow location") and lets the resident tap the map instead."""
    from tests.maps.conftest import CHROMIUM, CHROMIUM_ARGS

    port = urlparse(live_server).port
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP intranet.test 127.0.0.1"])
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://intranet.test:{port}/maps/resident?region={LISHUI}")
        page.wait_for_selector("[data-ready='1']", state="attached")
        assert page.evaluate("window.isSecureContext") is False
        page.click("#sm-locate")
        panel = page.locator("#sm-panel")
        assert "不是安全连接" in panel.inner_text() and "请允许" not in panel.inner_text()
        page.click(".sm-pick")
        page.wait_for_function("() => smApp.state.picking === true")
        # a street point 220 m north of the town center: clear of the center's pin
        lat, lng = center.lat + 0.002, center.lng
        # a tap on a pin opens its card instead: this test taps the street itself
        page.eval_on_selector(".leaflet-marker-pane", "e => e.style.pointerEvents = 'none'")
        page.evaluate(f"(() => {{ const m = smApp.cluster._map; m.stop(); m.setView("
                      f"[{lat}, {lng}], 15, {{animate: false}}); }})()")
        page.wait_for_timeout(800)  # the page's own first fit has finished
        x, y = page.evaluate(f"(() => {{ const p = smApp.cluster._map.latLngToContainerPoint("
                             f"[{lat}, {lng}]); return [p.x, p.y]; }})()")
        box = page.locator(".sm-resident").bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_selector(".sm-nearest", timeout=60000)
        me = page.evaluate("smApp.state.meXY")
        assert me[0] == pytest.approx(lng, abs=3e-5) and me[1] == pytest.approx(lat, abs=3e-5)
        items = page.locator(".sm-nearest").all_inner_texts()
        assert items and all("步行约" in t for t in items)
        page.screenshot(path=str(artifacts / "resident-no-https-390x844.png"))
        assert errors == []
    finally:
        browser.close()
