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
