"""The residents' side in a real browser (headless Debian Chromium, a phone's
390 × 844): posting a wish and rating a position from the resident map with the
one-time code read from the console sender, this week's activities near me and
on a card with an iCalendar link, and the wish wall page; axe-core on each.
A database of its own: these tests write."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from api.settings import Settings
from geo.hours import CHINA_TZ
from geo.store.migrate import upgrade
from tests.conftest import make_app, serve_in_thread
from tests.maps.conftest import LONGTENG, axe_violations
from tests.maps.test_browser import Watched

PHONE = "13812345678"


@pytest.fixture(scope="module")
def res_db(pg_cluster, samples):
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_residents_pages")
    upgrade(url)
    eng = create_engine(url)
    load_sample(eng, samples["longteng"], log=lambda m: None)
    start = datetime.now(CHINA_TZ).replace(hour=9, minute=30, second=0, microsecond=0) \
        + timedelta(days=1)
    with eng.begin() as c:
        c.execute(text("DELETE FROM activities"))
        center = c.execute(text("SELECT code FROM service_points WHERE region_code LIKE "
                                "'440507013%' AND kind = 'town_center'")).scalar_one()
        c.execute(text(
            "INSERT INTO activities (code, point_code, title, theme, starts_at, ends_at, "
            "capacity, signups) "
            "VALUES ('PG-A1', :p, '长者智能手机课堂', '长者关爱', :s, :e, 40, 23)"),
            {"p": center, "s": start, "e": start + timedelta(hours=1, minutes=30)})
    yield eng, center, start
    eng.dispose()


@pytest.fixture(scope="module")
def server(res_db):
    eng, _, _ = res_db
    app = make_app(Settings(cache_ttl_s=0, otp_resend_s=0, otp_per_phone_hour=100,
                            rate_limit_submissions="1000/hour"), eng)
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture
def page(browser_context):
    w = Watched(browser_context)
    w.page.set_viewport_size({"width": 390, "height": 844})
    yield w
    w.close()


def _code(app) -> str:
    code = app.state.otp_sender.last_code(PHONE)
    assert code and len(code) == 6
    return code


def test_post_a_wish_and_rate_a_position_on_a_phone(page, server, res_db, artifacts):
    url, app = server
    eng, center, start = res_db
    p = page.page
    page.open(f"{url}/maps/resident?region={LONGTENG}")
    p.screenshot(path=str(artifacts / "resident-bar-390x844.png"))
    # open the street center's card: its activity of tomorrow and the two buttons
    p.evaluate(f"smApp.select(smApp.points.find(x => x.code === '{center}'))")
    card = p.locator(f".sm-card[data-code='{center}']")
    card.wait_for()
    p.locator(".sm-card .sm-act[data-code='PG-A1']").wait_for()
    acts = card.locator(".sm-card-acts").inner_text()
    assert "长者智能手机课堂" in acts and "已报名 23/40" in acts
    assert f"{start.month}月{start.day}日" in acts and "09:30–11:00" in acts
    assert card.locator("a.sm-ics").get_attribute("href").endswith("/api/v1/activities/PG-A1.ics")
    assert "暂无居民评价" in card.inner_text()
    p.wait_for_timeout(300)
    p.screenshot(path=str(artifacts / "resident-card-activities-390x844.png"))
    assert axe_violations(p) == []

    # 我要许愿 from the card: the form, a code from the console sender, the answer
    card.locator(".sm-wish-open").click()
    form = p.locator(".sm-wish-form")
    form.wait_for()
    form.locator("[name=title]").fill("希望有人教我用智能手机")
    form.locator("[name=category]").select_option("elderly")
    form.locator("[name=phone]").fill(PHONE)
    form.locator(".sm-send-code").click()
    p.locator(".sm-wish-form .sm-status", has_text="验证码已发送").wait_for()
    p.screenshot(path=str(artifacts / "resident-wish-form-390x844.png"))
    assert axe_violations(p) == []
    # a wrong code first: a Chinese message, nothing stored
    code = _code(app)
    form.locator("[name=code]").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    form.locator(".sm-submit").click()
    p.locator(".sm-wish-form .sm-status", has_text="验证码不正确").wait_for()
    assert form.locator("[name=code][aria-invalid=true]").count() == 1
    with eng.connect() as c:
        assert c.execute(text("SELECT count(*) FROM wishes")).scalar_one() == 0
    form.locator("[name=code]").fill(code)
    form.locator(".sm-submit").click()
    done = p.locator(".sm-panel .sm-done")
    done.wait_for()
    wish_code = done.inner_text().split("：")[1].strip()
    with eng.connect() as c:
        row = c.execute(text("SELECT title, category, point_code, state, private FROM wishes "
                             "WHERE code = :c"), {"c": wish_code}).one()
    assert tuple(row[:4]) == ("希望有人教我用智能手机", "elderly", center, "posted")
    assert row.private == {"phone": PHONE}
    p.screenshot(path=str(artifacts / "resident-wish-done-390x844.png"))

    # rate the center: five stars, a code, the new count on the card
    p.evaluate(f"smApp.rateForm(smApp.points.find(x => x.code === '{center}'))")
    rate = p.locator(".sm-rate-form")
    rate.wait_for()
    rate.locator(".sm-star[data-score='4']").click()
    assert rate.locator(".sm-star.on").count() == 4
    rate.locator("[name=phone]").fill(PHONE)
    rate.locator(".sm-send-code").click()
    p.locator(".sm-rate-form .sm-status", has_text="验证码已发送").wait_for()
    rate.locator("[name=code]").fill(_code(app))
    p.screenshot(path=str(artifacts / "resident-rate-form-390x844.png"))
    assert axe_violations(p) == []
    rate.locator(".sm-submit").click()
    p.locator(".sm-panel .sm-done").wait_for()
    assert "4 星" in p.locator(".sm-panel").inner_text()
    with eng.connect() as c:
        assert c.execute(text("SELECT score FROM ratings WHERE point_code = :p"),
                         {"p": center}).scalars().all() == [4]
    # a second rating this period: refused in Chinese, nothing stored
    p.evaluate(f"smApp.rateForm(smApp.points.find(x => x.code === '{center}'))")
    rate = p.locator(".sm-rate-form")
    rate.locator(".sm-star[data-score='1']").click()
    rate.locator("[name=phone]").fill(PHONE)
    rate.locator(".sm-send-code").click()
    p.locator(".sm-rate-form .sm-status", has_text="验证码已发送").wait_for()
    rate.locator("[name=code]").fill(_code(app))
    rate.locator(".sm-submit").click()
    p.locator(".sm-rate-form .sm-status", has_text="已评价过").wait_for()
    with eng.connect() as c:
        assert c.execute(text("SELECT count(*) FROM ratings")).scalar_one() == 1
    # the refused requests (422, 409) are the only console errors
    assert [e for e in page.errors if "Failed to load resource" not in e] == []
    assert page.hosts <= {"127.0.0.1", "localhost", "[::1]"}


def test_this_weeks_activities_near_me(page, server, res_db, artifacts):
    url, _ = server
    _, center, _ = res_db
    p = page.page
    page.open(f"{url}/maps/resident?region={LONGTENG}")
    p.evaluate("smApp.setMe(" + p.evaluate(
        f"JSON.stringify([smApp.points.find(x => x.code === '{center}').lng, "
        f"smApp.points.find(x => x.code === '{center}').lat])")[1:-1] + ", '我的位置')")
    p.locator("#sm-acts").click()
    item = p.locator(".sm-panel .sm-act[data-code='PG-A1']")
    item.wait_for()
    text_ = p.locator(".sm-panel").inner_text()
    assert "我附近的本周活动（1 场）" in text_ and "距离约 0 米" in text_
    p.screenshot(path=str(artifacts / "resident-activities-390x844.png"))
    assert axe_violations(p) == []
    item.locator(".sm-linkbtn").click()
    p.locator(f".leaflet-popup .sm-card[data-code='{center}']").wait_for()
    page.check_clean()


def test_the_wish_wall_page(page, server, res_db, artifacts):
    """Published wishes and a project on the wall, with the street's figures; an
    unpublished wish and every personal field stay off it."""
    url, _ = server
    eng, center, _ = res_db
    with eng.begin() as c:
        grid = c.execute(text("SELECT code FROM grid_cells WHERE region_code LIKE '440507013%' "
                              "ORDER BY code LIMIT 1")).scalar_one()
        for code, title, state, kind, budget in (
                ("PG-W1", "孩子想要一套课外书", "claimed", "wish", None),
                ("PG-W2", "希望修好楼道的灯", "published", "wish", None),
                ("PG-W3", "长者饭堂添置餐桌", "confirmed", "project", 5200.5),
                ("PG-W4", "还没审核的心愿", "posted", "wish", None)):
            c.execute(text(
                "INSERT INTO wishes (code, title, public_text, category, region_code, grid_code, "
                "state, kind, budget_yuan, private, published_at) VALUES (:c, :t, :t, "
                "'children', '440507013001', :g, :s, :k, :b, "
                "'{\"name\": \"墙上不该有的名字\", \"phone\": \"13999990009\"}', now())"),
                {"c": code, "t": title, "g": grid, "s": state, "k": kind, "b": budget})
        c.execute(text("INSERT INTO party_orgs (code, name, region_code) VALUES "
                       "('PG-O1', '测试党支部', '440507013001')"))
        c.execute(text("INSERT INTO wish_claims (wish_code, org_code) VALUES ('PG-W3', 'PG-O1'), "
                       "('PG-W1', 'PG-O1')"))
    p = page.page
    p.goto(f"{url}/maps/wishes?region={LONGTENG}")
    p.locator("[data-ready='1']").wait_for()
    body = p.locator("main").inner_text()
    assert "龙腾街道心愿墙" in p.title()
    for shown in ("孩子想要一套课外书", "希望修好楼道的灯", "长者饭堂添置餐桌", "金额 ¥5,200.5",
                  "已认领", "待认领", "已确认完成"):
        assert shown in body, shown
    for hidden in ("还没审核的心愿", "墙上不该有的名字", "13999990009"):
        assert hidden not in p.content(), hidden
    figures = p.locator(".wl-fig").all_inner_texts()
    assert figures[0].split()[0] == "2" and figures[1].split()[0] == "1"  # 2 wishes, 1 claimed
    assert figures[3].split()[0] == "1" and figures[4].split()[0] == "¥5,200.5"
    p.screenshot(path=str(artifacts / "wish-wall-390x844.png"), full_page=True)
    assert axe_violations(p) == []
    p.set_viewport_size({"width": 1440, "height": 900})
    p.screenshot(path=str(artifacts / "wish-wall-1440x900.png"))
    assert axe_violations(p) == []
    # a category filter is a plain link
    p.click("a.wl-chip:has-text('关爱儿童')")
    assert "category=children" in p.url
    page.check_clean()
