"""The residents' side over HTTP on a real database: one-time codes from the
console sender, posting a wish, the whole 点单-下单-接单 workflow with staff,
member and resident, privacy of every public answer, withdrawal's erasure,
ratings and their limits, floods, activities and their iCalendar files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from api.settings import Settings
from geo.store.migrate import upgrade
from geo.tokens import create_token
from tests.api.conftest import LONGTENG, bearer
from tests.conftest import make_app, reader

SH = ZoneInfo("Asia/Shanghai")
VILLAGE = "440507013001"  # 妈屿居委会
OTHER_VILLAGE = "440507013002"
#: a resident's personal data: no public answer may contain any of these
RESIDENT = {"name": "许愿人周秘丁", "phone": "13944440004", "address": "龙腾街道许愿巷7号"}
MEMBER_NAME, MEMBER_PHONE = "党员吴秘戊", "13955550005"


@pytest.fixture(scope="module")
def res_engine(pg_cluster, samples):
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_residents_api")
    upgrade(url)
    eng = create_engine(url, pool_size=5, max_overflow=10)
    load_sample(eng, samples["longteng"], log=lambda m: None)
    with eng.begin() as c:
        c.execute(text("""
            INSERT INTO party_orgs (code, name, kind, region_code) VALUES
              ('T-O1', '妈屿社区第一党支部', 'branch', :v),
              ('T-O2', '市某局机关党委', 'dual_report', :v),
              ('T-O3', '另一社区党支部', 'branch', :w)"""), {"v": VILLAGE, "w": OTHER_VILLAGE})
        c.execute(text("""
            INSERT INTO members (code, region_code, org_code, private) VALUES
              ('T-M1', :v, 'T-O1', CAST(:p AS jsonb)),
              ('T-M2', :v, 'T-O2', '{"name": "党员郑秘己"}'),
              ('T-M3', :w, 'T-O3', '{}')"""),
                  {"v": VILLAGE, "w": OTHER_VILLAGE,
                   "p": json.dumps({"name": MEMBER_NAME, "phone": MEMBER_PHONE},
                                   ensure_ascii=False)})
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def toks(res_engine) -> dict[str, str]:
    specs = {"staff": ("planner", [LONGTENG], None),
             "other_staff": ("planner", ["440605126"], None),
             "m1": ("member", [VILLAGE], "member:T-M1"),
             "m2": ("member", [VILLAGE], "member:T-M2"),
             "m3": ("member", [OTHER_VILLAGE], "member:T-M3"),
             "org2": ("member", [VILLAGE], "org:T-O2")}
    out = {}
    with res_engine.begin() as c:
        for name, (role, regions, subject) in specs.items():
            out[name], _ = create_token(c, name=name, role=role, regions=regions,
                                        subject=subject)
    return out


def _app(engine, **kw):
    base = dict(cache_ttl_s=0, otp_resend_s=0, otp_per_phone_hour=1000,
                rate_limit_submissions="100000/hour", submissions_per_phone_day=1000)
    return make_app(Settings(**(base | kw)), engine)


@pytest.fixture(scope="module")
def client(res_engine):
    with TestClient(_app(res_engine)) as c:
        yield c


def _code(client, phone: str, purpose: str) -> str:
    r = client.post("/api/v1/residents/codes", json={"phone": phone, "purpose": purpose})
    assert r.status_code == 202, r.text
    code = client.app.state.otp_sender.last_code(phone)
    assert code and len(code) == 6
    return code


@pytest.fixture(scope="module")
def home(res_engine):
    """A point inside a compound of 妈屿 (its grid cell and compound by PostGIS)."""
    with res_engine.connect() as c:
        return c.execute(text("""
            SELECT ST_X(p) AS lng, ST_Y(p) AS lat, cc.code AS compound,
                   (SELECT g.code FROM grid_cells g WHERE ST_Covers(g.geom, p)
                    ORDER BY g.code LIMIT 1) AS grid
            FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM compounds
                  WHERE region_code = :v ORDER BY code LIMIT 1) cc"""), {"v": VILLAGE}).one()


def _post(client, home, **over):
    body = {"title": "希望有人教我用智能手机", "text": "想学视频通话，我的电话 13944440004",
            "category": "为老助老", "lng": home.lng, "lat": home.lat,
            "name": RESIDENT["name"], "address": RESIDENT["address"],
            "phone": RESIDENT["phone"]} | over
    if "code" not in body:
        body["code"] = _code(client, body["phone"], "wish")
    return client.post("/api/v1/wishes", json=body)


def _count(engine, sql="SELECT count(*) FROM wishes"):
    with engine.connect() as c:
        return c.execute(text(sql)).scalar_one()


def test_a_resident_posts_a_wish_with_a_code(client, res_engine, home):
    r = _post(client, home)
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["state"] == "posted" and w["category"] == "elderly" and w["region_code"] == VILLAGE
    for v in RESIDENT.values():  # the answer does not echo personal data
        assert v not in r.text
    with res_engine.connect() as c:
        row = c.execute(text("SELECT * FROM wishes WHERE code = :c"), {"c": w["code"]}).one()
        assert row.private == RESIDENT
        assert row.grid_code == home.grid and row.compound_code == home.compound
        assert row.channel == "online" and row.phone_hash and len(row.phone_hash) == 64
        audit = c.execute(text("SELECT after::text FROM audit_log WHERE entity = 'wish' "
                               "AND entity_code = :c"), {"c": w["code"]}).scalars().all()
        assert audit and not any(v in a for a in audit for v in RESIDENT.values())
        events = c.execute(text("SELECT action, to_state FROM wish_events WHERE wish_code = :c"),
                           {"c": w["code"]}).all()
        assert [tuple(e) for e in events] == [("post", "posted")]


def test_a_code_is_spent_once(client, home, res_engine):
    code = _code(client, RESIDENT["phone"], "wish")
    assert _post(client, home, code=code).status_code == 201
    before = _count(res_engine)
    r = _post(client, home, code=code)
    assert r.status_code == 422 and r.json()["errors"][0]["kind"] == "expired_code"
    assert _count(res_engine) == before


def test_a_wrong_code_costs_a_try_and_stores_nothing(client, home, res_engine):
    phone = "13700000001"
    right = _code(client, phone, "wish")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    before = _count(res_engine)
    for left in (4, 3, 2, 1):
        r = _post(client, home, phone=phone, code=wrong)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["kind"] == "wrong_code"
        assert f"还可再试 {left} 次" in r.json()["detail"]
    r = _post(client, home, phone=phone, code=wrong)
    assert "已失效" in r.json()["detail"]
    # five tries spent: even the right code no longer works
    r = _post(client, home, phone=phone, code=right)
    assert r.status_code == 422 and r.json()["errors"][0]["kind"] == "expired_code"
    assert _count(res_engine) == before


def test_an_expired_code_is_refused(client, home, res_engine):
    phone = "13700000002"
    code = _code(client, phone, "wish")
    with res_engine.begin() as c:
        c.execute(text("UPDATE otp_codes SET expires_at = now() - interval '1 second' "
                       "WHERE used_at IS NULL"))
    r = _post(client, home, phone=phone, code=code)
    assert r.status_code == 422 and r.json()["errors"][0]["kind"] == "expired_code"
    assert "过期" in r.json()["detail"]


@pytest.mark.parametrize("over,field,kind", [
    ({"title": ""}, "title", None),
    ({"title": "   "}, "title", "missing_value"),
    ({"title": "我" * 61}, "title", "value_too_long"),
    ({"title": "'; DROP TABLE wishes; --"}, "title", "suspicious_text"),
    ({"title": "<script>alert(1)</script>"}, "title", "suspicious_text"),
    ({"text": "好" * 501}, "text", "value_too_long"),
    ({"category": "飞天"}, "category", "unknown_category"),
    ({"lng": 116.0, "lat": None}, "lng", "invalid_location"),
    ({"region": OTHER_VILLAGE}, "lng", "region_mismatch"),
    ({"point": "NO-SUCH"}, "point", "unknown_point"),
    ({"kind": "project"}, "kind", "unexpected_value"),
    ({"budget_yuan": 5}, "budget_yuan", "unexpected_value"),
    ({"phone": "12345"}, "phone", "invalid_mobile"),
    ({"extra": 1}, "extra", None),
])
def test_bad_wishes_are_refused_in_chinese_and_store_nothing(client, home, res_engine,
                                                             over, field, kind):
    before = _count(res_engine)
    body_code = None if over.get("phone") == "12345" else _code(client, RESIDENT["phone"],
                                                                  "wish")
    r = _post(client, home, **over, **({"code": body_code or "000000"}))
    assert r.status_code == 422, r.text
    p = r.json()
    assert p["title"] == "请求参数不正确"
    fields = [e.get("field", "") for e in p["errors"]]
    assert any(f.endswith(field) for f in fields), p
    if kind:
        assert kind in [e.get("kind") or e.get("code") for e in p["errors"]], p
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) for e in p["errors"])
    assert _count(res_engine) == before


def _wish(client, home, **over) -> str:
    r = _post(client, home, **over)
    assert r.status_code == 201, r.text
    return r.json()["code"]


def _step(client, wish, action, token=None, **body):
    headers = bearer(token) if token else {}
    return client.post(f"/api/v1/wishes/{wish}/{action}", json=body, headers=headers)


def _manage(client, wish, action, phone=RESIDENT["phone"], **body):
    return _step(client, wish, action, phone=phone, code=_code(client, phone, "manage"),
                 **body)


def test_the_whole_workflow(client, toks, home, res_engine):
    code = _wish(client, home)
    # a member cannot claim before the staff publish; the answer names the state
    r = _step(client, code, "claim", toks["m1"])
    assert r.status_code == 409
    assert r.json()["state"] == "posted" and "「待审核」" in r.json()["detail"]
    # staff of another town may not publish
    assert _step(client, code, "publish", toks["other_staff"]).status_code == 403
    r = _step(client, code, "publish", toks["staff"],
              public_text="长者想学用智能手机，电话 13944440004")
    assert r.status_code == 200 and r.json()["state"] == "published"
    assert r.json()["public_text"] == "长者想学用智能手机，电话 139****0004"
    # a member of another village may not claim
    assert _step(client, code, "claim", toks["m3"]).status_code == 403
    assert _step(client, code, "claim", toks["m1"]).json()["state"] == "claimed"
    assert _step(client, code, "claim", toks["m1"]).status_code == 409  # twice
    assert _step(client, code, "claim", toks["m2"]).status_code == 200  # a second claimant
    # before the resident accepts, the claimant does not see the contact
    seen = client.get(f"/api/v1/wishes/{code}", headers=bearer(toks["m1"])).json()
    assert seen["contact_shared"] is False and "private" not in seen
    assert RESIDENT["phone"] not in json.dumps(seen, ensure_ascii=False)
    staff = client.get(f"/api/v1/wishes/{code}", headers=bearer(toks["staff"])).json()
    claim_m1 = next(c["id"] for c in staff["claims_detail"] if c["member_code"] == "T-M1")
    assert staff["private"]["phone"] == RESIDENT["phone"]
    # someone else's phone cannot act on the wish
    r = _manage(client, code, "accept", phone="13600000009", claim=claim_m1)
    assert r.status_code == 403
    r = _manage(client, code, "accept", claim=claim_m1)
    assert r.status_code == 200, r.text
    seen = client.get(f"/api/v1/wishes/{code}", headers=bearer(toks["m1"])).json()
    assert seen["contact_shared"] is True and seen["private"]["phone"] == RESIDENT["phone"]
    other = client.get(f"/api/v1/wishes/{code}", headers=bearer(toks["m2"])).json()
    assert other["contact_shared"] is False  # only the accepted claimant
    # the resident cannot confirm before it is fulfilled
    r = _manage(client, code, "confirm", score=5)
    assert r.status_code == 409 and r.json()["state"] == "claimed"
    assert _step(client, code, "fulfil", toks["m3"]).status_code == 403
    assert _step(client, code, "fulfil", toks["m1"]).json()["state"] == "fulfilled"
    r = _manage(client, code, "confirm", score=6)
    assert r.status_code == 422
    r = _manage(client, code, "confirm", score=5)
    assert r.status_code == 200 and r.json()["state"] == "confirmed"
    with res_engine.connect() as c:
        events = c.execute(text("SELECT action, from_state, to_state FROM wish_events "
                                "WHERE wish_code = :c ORDER BY id"), {"c": code}).all()
        points = c.execute(text("SELECT member_code, points FROM wish_claims "
                                "WHERE wish_code = :c ORDER BY member_code"), {"c": code}).all()
        score = c.execute(text("SELECT resident_score FROM wishes WHERE code = :c"),
                          {"c": code}).scalar_one()
    assert [tuple(e) for e in events] == [
        ("post", None, "posted"), ("publish", "posted", "published"),
        ("claim", "published", "claimed"), ("claim", "claimed", "claimed"),
        ("accept", "claimed", "claimed"), ("fulfil", "claimed", "fulfilled"),
        ("confirm", "fulfilled", "confirmed")]
    assert [tuple(p) for p in points] == [("T-M1", 5), ("T-M2", 5)]  # 10 points, split
    assert score == 5
    # final: nothing more
    r = _step(client, code, "withdraw", toks["staff"])
    assert r.status_code == 409 and "已是最终状态" in r.json()["detail"]


def test_a_rejection_needs_a_reason_and_is_final(client, toks, home):
    code = _wish(client, home)
    r = _step(client, code, "reject", toks["staff"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("reason")
    r = _step(client, code, "reject", toks["staff"], reason="不属于社区服务范围")
    assert r.json()["state"] == "rejected" and r.json()["state_reason"] == "不属于社区服务范围"
    assert _step(client, code, "publish", toks["staff"]).status_code == 409


def test_an_organisation_claims_for_itself(client, toks, home, res_engine):
    code = _wish(client, home)
    _step(client, code, "publish", toks["staff"])
    assert _step(client, code, "claim", toks["org2"]).status_code == 200
    with res_engine.connect() as c:
        row = c.execute(text("SELECT member_code, org_code FROM wish_claims WHERE wish_code = :c"),
                        {"c": code}).one()
    assert tuple(row) == (None, "T-O2")


def test_withdrawal_erases_the_personal_fields(client, toks, home, res_engine):
    code = _wish(client, home)
    _step(client, code, "publish", toks["staff"])
    r = _manage(client, code, "withdraw")
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert "已删除" in r.json()["message"]
    with res_engine.connect() as c:
        row = c.execute(text("SELECT private, text, geom, phone_hash, compound_code, erased_at, "
                             "grid_code FROM wishes WHERE code = :c"), {"c": code}).one()
        logged = c.execute(text("SELECT coalesce(string_agg(before::text || after::text, ''), '')"
                                " FROM audit_log WHERE entity_code = :c"), {"c": code}
                           ).scalar_one()
    assert row.private == {} and row.text is None and row.geom is None
    assert row.phone_hash is None and row.compound_code is None and row.erased_at is not None
    assert row.grid_code == home.grid  # the blurred location stays for the counts
    assert not any(v in logged for v in RESIDENT.values())


def test_staff_enter_wishes_and_projects_and_see_the_sla(client, toks, res_engine):
    r = client.post("/api/v1/planner/wishes", headers=bearer(toks["staff"]), json={
        "title": "小区路灯维修", "kind": "project", "budget_yuan": 3200.5, "region": VILLAGE,
        "channel": "网格员", "category": "环境整治"})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert r.json()["channel"] == "grid_worker" and r.json()["budget_yuan"] == 3200.5
    assert r.json()["entered_by"].startswith("token:")
    # a project needs its amount
    r = client.post("/api/v1/planner/wishes", headers=bearer(toks["staff"]), json={
        "title": "活动室改造", "kind": "project", "region": VILLAGE})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("budget_yuan")
    # outside the staff's regions
    r = client.post("/api/v1/planner/wishes", headers=bearer(toks["other_staff"]), json={
        "title": "x", "region": VILLAGE})
    assert r.status_code == 403
    # the SLA clock: a wish posted 4 days ago is overdue for review (3 days)
    with res_engine.begin() as c:
        c.execute(text("UPDATE wishes SET posted_at = now() - interval '4 days' WHERE code = :c"),
                  {"c": code})
    got = client.get("/api/v1/planner/wishes", params={"overdue": "true"},
                     headers=bearer(toks["staff"])).json()
    assert code in [w["code"] for w in got["items"]]
    assert all(w["overdue"] for w in got["items"])
    listed = client.get("/api/v1/planner/wishes", headers=bearer(toks["staff"])).json()
    assert listed["overdue"] == len(got["items"])
    assert listed["total"] == _count(res_engine, "SELECT count(*) FROM wishes")
    assert client.get("/api/v1/planner/wishes",
                      headers=bearer(toks["other_staff"])).json()["total"] == 0
    assert client.get("/api/v1/planner/wishes").status_code == 401


def test_public_answers_carry_no_identity_and_no_home(client, toks, home, res_engine):
    code = _wish(client, home, title="孩子想要一套课外书", category="关爱儿童")
    posted_only = _wish(client, home, title="未审核的心愿")
    _step(client, code, "publish", toks["staff"], public_text="孩子想要一套课外书")
    wall = client.get("/api/v1/wishes", params={"region": LONGTENG})
    assert wall.status_code == 200
    codes = [w["code"] for w in wall.json()["items"]]
    assert code in codes and posted_only not in codes  # unmoderated wishes never show
    summary = client.get("/api/v1/wishes-summary", params={"region": LONGTENG})
    assert summary.status_code == 200
    for r in (wall, summary):
        for v in (*RESIDENT.values(), MEMBER_NAME, MEMBER_PHONE, "想学视频通话"):
            assert v not in r.text, v
        for k in ('"private"', '"text"', '"phone_hash"', '"entered_by"'):
            assert k not in r.text
    # the blurred point is the grid cell's inside point, not the home
    with res_engine.connect() as c:
        cell = c.execute(text("SELECT ST_X(ST_PointOnSurface(geom)) AS x, "
                              "ST_Y(ST_PointOnSurface(geom)) AS y FROM grid_cells "
                              "WHERE code = :g"), {"g": home.grid}).one()
        n_cell = c.execute(text("SELECT count(*) FROM wishes WHERE grid_code = :g AND state IN "
                                "('published','claimed','fulfilled','confirmed')"),
                           {"g": home.grid}).scalar_one()
    s = summary.json()
    shown = {g["code"]: g for g in s["by_grid"]}
    if n_cell >= 3:
        g = shown[home.grid]
        assert (g["lng"], g["lat"]) == pytest.approx((cell.x, cell.y))
        assert (g["lng"], g["lat"]) != pytest.approx((home.lng, home.lat))
        assert g["n"] == n_cell
    else:
        assert home.grid not in shown and s["suppressed"]["wishes"] >= n_cell
    assert all(g["n"] >= 3 for g in s["by_grid"])


def test_the_reader_role_cannot_read_personal_columns(res_engine):
    with reader(res_engine).connect() as c:
        for column in ("private", "text", "geom", "phone_hash", "entered_by"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                c.execute(text(f"SELECT {column} FROM wishes LIMIT 1"))
            c.rollback()
        for table in ("otp_codes", "app_secrets"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                c.execute(text(f"SELECT * FROM {table} LIMIT 1"))
            c.rollback()
        with pytest.raises(ProgrammingError, match="permission denied"):
            c.execute(text("SELECT private FROM members LIMIT 1"))
        c.rollback()
        assert c.execute(text("SELECT count(code) FROM wishes")).scalar_one() >= 0


# ---------------------------------------------------------------- ratings
def _rate(client, point, phone, score, **kw):
    code = _code(client, phone, "rating")
    return client.post(f"/api/v1/points/{point}/ratings",
                       json={"score": score, "phone": phone, "code": code} | kw)


def test_ratings_one_per_phone_and_period(client, res_engine):
    point = "LT-0002"
    scores = {"13800000011": 5, "13800000012": 4, "13800000013": 3}
    for i, (phone, s) in enumerate(scores.items()):
        r = _rate(client, point, phone, s, comment="很方便")
        assert r.status_code == 201, r.text
        assert r.json()["ratings"] == i + 1
    assert r.json()["rating"] == 4.0  # (5 + 4 + 3) / 3, shown from 3 ratings
    again = _rate(client, point, "13800000011", 1)
    assert again.status_code == 409 and "已评价过" in again.json()["detail"]
    for bad in (0, 6, "五"):
        r = _rate(client, point, "13800000014", bad)
        assert r.status_code == 422, (bad, r.text)
    assert _rate(client, "NO-SUCH", "13800000014", 5).status_code == 404
    got = client.get(f"/api/v1/points/{point}/ratings").json()
    assert got["ratings"] == 3 and got["rating"] == 4.0
    assert "很方便" not in json.dumps(got, ensure_ascii=False)  # comments are for staff
    with res_engine.connect() as c:
        stored = c.execute(text("SELECT string_agg(phone_hash || coalesce(comment, ''), '') "
                                "FROM ratings")).scalar_one()
    assert not any(p in stored for p in scores)  # only hashes of the phones


def test_a_mean_of_fewer_than_three_is_not_shown(client):
    r = _rate(client, "LT-0003", "13800000021", 1)
    assert r.status_code == 201 and r.json()["ratings"] == 1 and r.json()["rating"] is None


# ---------------------------------------------------------------- floods
def test_a_flood_from_one_phone_and_one_address_gets_429(res_engine, home):
    with TestClient(_app(res_engine, otp_resend_s=60)) as c:
        assert c.post("/api/v1/residents/codes",
                      json={"phone": "13500000001", "purpose": "wish"}).status_code == 202
        r = c.post("/api/v1/residents/codes", json={"phone": "13500000001", "purpose": "wish"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "秒后再试" in r.json()["detail"]
    with TestClient(_app(res_engine, rate_limit_submissions="3/hour")) as c:
        got = [c.post("/api/v1/residents/codes",
                      json={"phone": f"1350000010{i}", "purpose": "wish"}).status_code
               for i in range(5)]
        assert got == [202, 202, 202, 429, 429]
    with TestClient(_app(res_engine, submissions_per_phone_day=1)) as c:
        phone = "13500000201"
        before = _count(res_engine)
        assert _post(c, home, phone=phone).status_code == 201
        r = _post(c, home, phone=phone)
        assert r.status_code == 429 and "明天" in r.json()["detail"]
        assert _count(res_engine) == before + 1


# ---------------------------------------------------------------- activities
@pytest.fixture(scope="module")
def planned(res_engine):
    """Three activities: two at the street center, one far away, from a fixed Monday."""
    start = datetime(2026, 12, 7, 9, 30, tzinfo=SH)
    with res_engine.begin() as c:
        c.execute(text("DELETE FROM activities"))  # the sample's own: these tests count
        centers = c.execute(text(
            "SELECT code, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points "
            "WHERE region_code LIKE '440507013%' AND kind IN ('town_center', 'village_center') "
            "ORDER BY kind DESC, code")).all()
        rows = [("T-A1", centers[0].code, "长者智能手机课堂，第一期", start, 40, 12),
                ("T-A2", centers[0].code, "亲子阅读", start + timedelta(days=2), None, 3),
                ("T-A3", centers[-1].code, "党史学习", start + timedelta(days=1), 20, 20),
                ("T-A4", centers[-1].code, "下个月的活动", start + timedelta(days=30), 20, 0)]
        for code, point, title, t, cap, signups in rows:
            c.execute(text(
                "INSERT INTO activities (code, point_code, title, theme, starts_at, ends_at, "
                "capacity, signups) VALUES (:c, :p, :t, '长者关爱', :s, :e, :cap, :n)"),
                {"c": code, "p": point, "t": title, "s": t, "e": t + timedelta(hours=2),
                 "cap": cap, "n": signups})
    return start, centers


def test_activities_this_week_near_me(client, planned):
    start, centers = planned
    here = centers[0]
    r = client.get("/api/v1/activities", params={
        "near": f"{here.lng},{here.lat}", "start": (start - timedelta(hours=1)).isoformat(),
        "days": 7})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [a["code"] for a in items] == ["T-A1", "T-A2", "T-A3"]  # nearest, then soonest
    assert items[0]["distance_m"] == 0 and items[2]["distance_m"] > 0
    assert items[2]["full"] is True and items[0]["full"] is False
    assert items[0]["ics"] == "/api/v1/activities/T-A1.ics"


def test_an_activity_as_icalendar(client, planned):
    start, _ = planned
    r = client.get("/api/v1/activities/T-A1.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert b"\r\n" in r.content and all(len(line) <= 75 for line in r.content.split(b"\r\n"))
    cal = icalendar.Calendar.from_ical(r.content)  # an independent parser
    (ev,) = [c for c in cal.walk() if c.name == "VEVENT"]
    assert str(ev["SUMMARY"]) == "长者智能手机课堂，第一期"
    assert ev["DTSTART"].dt == start and ev["DTEND"].dt == start + timedelta(hours=2)
    assert "龙腾街道" in str(ev["LOCATION"])
    assert client.get("/api/v1/activities/NO-SUCH.ics").status_code == 404


def test_the_monthly_rule(client, planned, res_engine):
    r = client.get("/api/v1/activities-monthly", params={"region": LONGTENG, "year": 2026})
    assert r.status_code == 200
    got = r.json()
    with res_engine.connect() as c:
        n_centers = c.execute(text(
            "SELECT count(*) FROM service_points WHERE region_code LIKE '440507013%' "
            "AND kind IN ('town_center', 'village_center') AND deleted_at IS NULL")).scalar_one()
    assert len(got["centers"]) == n_centers == 6
    by = {c["code"]: c for c in got["centers"]}
    _, centers = planned
    first, last = by[centers[0].code], by[centers[-1].code]
    assert first["months"] == [0] * 11 + [2] and first["activities"] == 2
    assert last["months"] == [0] * 11 + [1]  # T-A4 falls in January 2027
    assert got["activities"] == 3
    # every month that has ended without an activity is missed: Jan–Nov here (the
    # planned activities are all in December), and December too once it is over
    closed = got["months_closed"]
    assert closed == (11 if datetime.now(SH).year == 2026 else 12)
    for c in got["centers"]:
        has = {m + 1 for m, n in enumerate(c["months"]) if n}
        assert c["missed_months"] == [m for m in range(1, closed + 1) if m not in has]
        assert c["meets_rule"] is False
    assert sorted(got["missing"]) == sorted(by)
    x = client.get("/api/v1/activities-monthly",
                   params={"region": LONGTENG, "year": 2026, "format": "xlsx"})
    assert x.status_code == 200 and x.content[:2] == b"PK"


# ---------------------------------------------------------------- demand in the coverage report
def test_wishes_outside_the_circles_over_http(client, toks, res_engine, home):
    import shapely
    from shapely import wkb

    from tests.api.conftest import seed_circles

    with res_engine.begin() as c:
        seed_circles(c, ["LT-0002", "LT-0003"])
    with res_engine.connect() as c:
        spot = c.execute(text(
            "SELECT ST_X(q) AS x, ST_Y(q) AS y FROM (SELECT ST_PointOnSurface(geom) AS q "
            "FROM regions WHERE level = 'village' AND code LIKE '440507013%') v "
            "ORDER BY (SELECT min(ST_Distance(q, p.geom)) FROM service_points p "
            "WHERE p.code IN ('LT-0002', 'LT-0003')) DESC LIMIT 1")).one()
    code = _wish(client, home, title="想要一张轮椅")
    far = _wish(client, home, title="想学写毛笔字", lng=spot.x, lat=spot.y)
    for w in (code, far):
        _step(client, w, "publish", toks["staff"])
    with res_engine.connect() as c:
        circles = [wkb.loads(bytes(g)) for g in c.execute(text(
            "SELECT ST_AsBinary(geom) FROM service_circles WHERE minutes = 10 "
            "AND profile = 'elderly'")).scalars()]
        rows = c.execute(text(
            "SELECT code, ST_X(geom) AS x, ST_Y(geom) AS y FROM wishes WHERE geom IS NOT NULL "
            "AND state IN ('posted', 'published', 'claimed') "
            "AND region_code LIKE '440507013%'")).all()
    expected = sorted(r.code for r in rows
                      if not any(shapely.covers(p, shapely.Point(r.x, r.y)) for p in circles))
    pub = client.get("/api/v1/coverage/wishes", params={"region": LONGTENG})
    assert pub.status_code == 200, pub.text
    assert pub.json()["totals"]["outside"] == len(expected) and "wishes" not in pub.json()
    for v in RESIDENT.values():
        assert v not in pub.text
    assert client.get("/api/v1/coverage/wishes",
                      params={"region": LONGTENG, "detail": "true"}).status_code == 401
    mine = client.get("/api/v1/coverage/wishes", params={"region": LONGTENG, "detail": "true"},
                      headers=bearer(toks["staff"]))
    assert sorted(w["code"] for w in mine.json()["wishes"]) == expected
    assert far in expected
    assert client.get("/api/v1/coverage/wishes", params={"region": LONGTENG, "minutes": 7}
                      ).status_code == 409


def test_the_ledger_is_for_the_staff_of_the_region(client, toks):
    url = "/api/v1/planner/ledger.xlsx"
    assert client.get(url, params={"region": LONGTENG}).status_code == 401
    assert client.get(url, params={"region": LONGTENG},
                      headers=bearer(toks["other_staff"])).status_code == 403
    assert client.get(url, params={"region": LONGTENG},
                      headers=bearer(toks["m1"])).status_code == 403  # a member token
    r = client.get(url, params={"region": LONGTENG, "contacts": "true"},
                   headers=bearer(toks["staff"]))
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert r.headers["cache-control"].startswith("private")


# ---------------------------------------------------------------- staff: claimants, activities
def test_staff_register_organisations_and_members(client, toks, res_engine):
    h = bearer(toks["staff"])
    r = client.post("/api/v1/planner/orgs", headers=h, json={
        "code": "T-O9", "name": "某局机关党委", "kind": "双报到", "region": VILLAGE})
    assert r.status_code == 201 and r.json()["kind"] == "dual_report"
    assert client.post("/api/v1/planner/orgs", headers=h, json={
        "code": "T-O9", "name": "重复", "region": VILLAGE}).status_code == 409
    r = client.post("/api/v1/planner/orgs", headers=h, json={
        "code": "T-O10", "name": "x", "kind": "飞行队", "region": VILLAGE})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("kind")
    assert client.post("/api/v1/planner/orgs", headers=bearer(toks["other_staff"]), json={
        "code": "T-O11", "name": "x", "region": VILLAGE}).status_code == 403
    r = client.post("/api/v1/planner/members", headers=h, json={
        "code": "T-M9", "region": VILLAGE, "org": "T-O9", "name": "党员钱秘癸",
        "phone": "139 5555 0099"})
    assert r.status_code == 201 and r.json()["private"] == {"name": "党员钱秘癸",
                                                             "phone": "13955550099"}
    r = client.post("/api/v1/planner/members", headers=h, json={
        "code": "T-M10", "region": VILLAGE, "org": "NO-SUCH"})
    assert r.status_code == 422
    listed = client.get("/api/v1/planner/claimants", params={"region": VILLAGE}, headers=h)
    assert listed.status_code == 200
    assert "T-M9" in [m["code"] for m in listed.json()["members"]]
    assert client.get("/api/v1/planner/claimants", params={"region": VILLAGE},
                      headers=bearer(toks["m1"])).status_code == 403
    with res_engine.connect() as c:
        logged = c.execute(text("SELECT after::text FROM audit_log WHERE entity = 'member' "
                                "AND entity_code = 'T-M9'")).scalar_one()
    assert "党员钱秘癸" not in logged and "13955550099" not in logged
    # the new member can get a token and claim
    with res_engine.begin() as c:
        secret, _ = create_token(c, name="m9", role="member", regions=[VILLAGE],
                                 subject="member:T-M9")
    with res_engine.begin() as c:
        with pytest.raises(Exception, match="不在令牌的区划内"):
            create_token(c, name="bad", role="member", regions=[OTHER_VILLAGE],
                         subject="member:T-M9")
    assert client.get("/api/v1/wishes", params={"region": LONGTENG},
                      headers=bearer(secret)).status_code == 200


def test_staff_plan_and_record_activities(client, toks, res_engine, planned):
    h = bearer(toks["staff"])
    _, centers = planned
    body = {"point": centers[0].code, "title": "重阳节敬老活动", "theme": "长者关爱",
            "starts_at": "2026-12-20T09:30:00", "ends_at": "2026-12-20T11:00:00+08:00",
            "capacity": 30}
    r = client.post("/api/v1/planner/activities", headers=h, json=body)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    # a time without an offset is Beijing time
    assert r.json()["starts_at"].startswith("2026-12-20T01:30:00")
    r = client.patch(f"/api/v1/planner/activities/{code}", headers=h,
                     json={"signups": 25, "attendance": 28})
    assert r.status_code == 200 and (r.json()["signups"], r.json()["attendance"]) == (25, 28)
    for bad, field in (({"signups": 31}, "signups"), ({"ends_at": "2026-12-20T08:00:00"},
                                                      "ends_at"),
                       ({"title": "<script>x</script>"}, "title"),
                       ({"capacity": -1}, "capacity")):
        r = client.patch(f"/api/v1/planner/activities/{code}", headers=h, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"][0]["field"].endswith(field), r.json()
    assert client.patch(f"/api/v1/planner/activities/{code}",
                        headers=bearer(toks["other_staff"]), json={"signups": 1}
                        ).status_code == 403
    assert client.post("/api/v1/planner/activities", json=body).status_code == 401
    ics = client.get(f"/api/v1/activities/{code}.ics")
    assert ics.status_code == 200 and "重阳节敬老活动" in ics.text
    assert client.delete(f"/api/v1/planner/activities/{code}", headers=h).status_code == 204
    assert client.get(f"/api/v1/activities/{code}.ics").status_code == 404
    with res_engine.connect() as c:
        actions = c.execute(text("SELECT action FROM audit_log WHERE entity = 'activity' "
                                 "AND entity_code = :c ORDER BY id"), {"c": code}).scalars().all()
    assert actions == ["create", "update", "delete"]


def test_a_rating_is_audited_without_the_phone(client, res_engine):
    assert _rate(client, "LT-0004", "13800000031", 2).status_code == 201
    with res_engine.connect() as c:
        row = c.execute(text("SELECT actor, after FROM audit_log WHERE entity = 'rating' "
                             "AND entity_code = 'LT-0004' ORDER BY id DESC LIMIT 1")).one()
    assert row.actor == "resident" and row.after["score"] == 2
    assert "13800000031" not in json.dumps(row.after)
