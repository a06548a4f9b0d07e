"""The residents' side of the samples reproduces the published figures, read
back from the database (FACTS.md; 003_*.txt for 梅花村街道: 271 micro-wishes all
claimed by 447 party members, 25 micro-projects of 97,150.6 yuan claimed by 19
party organisations, all completed; 001_*.txt for 龙腾街道: its 6 centers held 51
activities this year, over 6,900 person-times, each at least one a month), and
keeps personal data where it belongs."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

import data
from data.residents import ASOF
from geo.residents import workflow
from geo.residents.otp import phone_hash
from tests.conftest import scalar

MH = "440104013"
LT = "440507013"
LS = "440605126"
SHANGHAI = ZoneInfo("Asia/Shanghai")
FRAMES = ("orgs", "members", "wishes", "claims", "activities", "ratings")
CENTERS = "('town_center', 'village_center')"
PHONE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture(scope="module")
def meihuacun():
    return data.generate("meihuacun")


@pytest.fixture(scope="module")
def mh_engine(pg_cluster, meihuacun):
    """梅花村街道 loaded into a database of its own."""
    from data.loading import load_sample
    from geo.store.migrate import upgrade

    url = pg_cluster.create_database("sm_residents_meihuacun")
    upgrade(url)
    eng = create_engine(url)
    eng.sample_counts = load_sample(eng, meihuacun, log=lambda m: None)
    yield eng
    eng.dispose()


@pytest.fixture
def mh(mh_engine):
    with mh_engine.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


def rows(conn, sql: str, **params):
    return conn.execute(text(sql), params).all()


# -- 梅花村街道: micro-wishes and micro-projects ------------------------------------------------

def test_271_micro_wishes_all_claimed_by_447_members(mh):
    assert scalar(mh, "SELECT count(*) FROM wishes WHERE kind = 'wish' "
                      "AND region_code LIKE :t", t=f"{MH}%") == 271
    assert scalar(mh, "SELECT count(*) FROM wishes w WHERE w.kind = 'wish' AND NOT EXISTS "
                      "(SELECT 1 FROM wish_claims c WHERE c.wish_code = w.code "
                      " AND c.withdrawn_at IS NULL)") == 0
    assert scalar(mh, "SELECT count(DISTINCT c.member_code) FROM wish_claims c "
                      "JOIN wishes w ON w.code = c.wish_code "
                      "WHERE w.kind = 'wish' AND w.region_code LIKE :t", t=f"{MH}%") == 447
    # several members per wish; every registered member is one of the 447
    assert scalar(mh, "SELECT count(*) FROM wish_claims c JOIN wishes w ON w.code = c.wish_code "
                      "WHERE w.kind = 'wish'") > 447
    assert scalar(mh, "SELECT count(*) FROM members WHERE region_code LIKE :t",
                  t=f"{MH}%") == 447
    # a member's claim carries the member's organisation
    assert scalar(mh, "SELECT count(*) FROM wish_claims c JOIN members m "
                      "ON m.code = c.member_code WHERE c.org_code IS DISTINCT FROM m.org_code") \
        == 0
    states = dict(rows(mh, "SELECT state, count(*) FROM wishes WHERE kind = 'wish' "
                           "GROUP BY state"))
    assert set(states) <= {"claimed", "fulfilled", "confirmed"}
    assert states["confirmed"] > states.get("fulfilled", 0) + states.get("claimed", 0)
    assert states.get("fulfilled", 0) > 0 and states.get("claimed", 0) > 0
    channels = {r[0] for r in rows(mh, "SELECT DISTINCT channel FROM wishes")}
    assert {"online", "dual_report", "wechat_group", "social_worker", "grid_worker",
            "home_visit"} <= channels
    assert scalar(mh, "SELECT count(DISTINCT region_code) FROM wishes WHERE kind = 'wish'") \
        == 15


def test_25_micro_projects_worth_97150_6_yuan_by_19_organisations(mh):
    assert scalar(mh, "SELECT count(*) FROM wishes WHERE kind = 'project' "
                      "AND region_code LIKE :t", t=f"{MH}%") == 25
    total = scalar(mh, "SELECT sum(budget_yuan) FROM wishes WHERE kind = 'project'")
    assert isinstance(total, Decimal) and total == Decimal("97150.6")
    assert scalar(mh, "SELECT count(*) FROM wishes WHERE kind = 'project' "
                      "AND (budget_yuan IS NULL OR budget_yuan <= 0)") == 0
    assert scalar(mh, "SELECT count(DISTINCT c.org_code) FROM wish_claims c "
                      "JOIN wishes w ON w.code = c.wish_code WHERE w.kind = 'project'") == 19
    assert scalar(mh, "SELECT count(*) FROM wish_claims c JOIN wishes w ON w.code = c.wish_code "
                      "WHERE w.kind = 'project' AND (c.member_code IS NOT NULL "
                      "OR c.org_code IS NULL)") == 0
    assert rows(mh, "SELECT DISTINCT state FROM wishes WHERE kind = 'project'") \
        == [("confirmed",)]
    assert scalar(mh, "SELECT count(*) FROM wishes WHERE kind = 'wish' "
                      "AND budget_yuan IS NOT NULL") == 0


def test_organisations_branches_and_dual_report_units(mh, meihuacun):
    kinds = dict(rows(mh, "SELECT kind, count(*) FROM party_orgs GROUP BY kind"))
    assert sum(kinds.values()) >= 19 and kinds["dual_report"] > 0
    # every compound branch of the sample is an organisation of kind branch
    assert scalar(mh, "SELECT count(*) FROM party_branches b WHERE NOT EXISTS (SELECT 1 "
                      "FROM party_orgs o WHERE o.branch_code = b.code AND o.kind = 'branch')") \
        == 0
    assert scalar(mh, "SELECT count(*) FROM party_orgs WHERE NOT synthetic") == 0
    assert scalar(mh, "SELECT count(*) FROM members WHERE org_code IS NULL "
                      "OR NOT synthetic") == 0
    for table in ("wishes", "wish_claims"):
        assert scalar(mh, f"SELECT count(*) FROM {table} WHERE NOT synthetic") == 0


def test_every_wish_lies_in_its_community_grid_cell_and_compound(mh):
    assert scalar(mh, "SELECT count(*) FROM wishes WHERE geom IS NULL") == 0
    assert scalar(mh, """
        SELECT count(*) FROM wishes w JOIN regions r ON r.code = w.region_code
        WHERE r.level <> 'village' OR NOT ST_Covers(r.geom, w.geom)""") == 0
    assert scalar(mh, """
        SELECT count(*) FROM wishes w
        WHERE w.grid_code IS DISTINCT FROM (SELECT g.code FROM grid_cells g
              WHERE ST_Covers(g.geom, w.geom) ORDER BY g.code LIMIT 1)""") == 0
    assert scalar(mh, """
        SELECT count(*) FROM wishes w
        WHERE w.compound_code IS DISTINCT FROM (SELECT k.code FROM compounds k
              WHERE ST_Covers(k.geom, w.geom) ORDER BY k.code LIMIT 1)""") == 0
    # the grid cell and compound are the wish's community's; most wishes are in a compound
    assert scalar(mh, "SELECT count(*) FROM wishes w JOIN grid_cells g ON g.code = w.grid_code "
                      "WHERE g.region_code <> w.region_code") == 0
    assert scalar(mh, "SELECT count(*) FROM wishes WHERE kind = 'wish' "
                      "AND compound_code IS NOT NULL") > 271 * 0.6
    assert scalar(mh, "SELECT count(*) FROM wishes w JOIN service_points p "
                      "ON p.code = w.point_code WHERE p.region_code <> w.region_code") == 0


def test_timestamps_are_ordered_in_2026(mh):
    assert scalar(mh, """
        SELECT count(*) FROM wishes
        WHERE NOT (posted_at < published_at AND published_at < claimed_at)
           OR (fulfilled_at IS NOT NULL AND NOT claimed_at < fulfilled_at)
           OR (confirmed_at IS NOT NULL AND NOT fulfilled_at < confirmed_at)
           OR closed_at IS NOT NULL""") == 0
    span = rows(mh, "SELECT min(posted_at), max(GREATEST(posted_at, published_at, claimed_at, "
                    "fulfilled_at, confirmed_at)) FROM wishes")[0]
    assert span[0] >= datetime(2026, 1, 1, tzinfo=SHANGHAI)
    assert span[1] <= ASOF.to_pydatetime()
    # the dates match the states
    assert scalar(mh, """
        SELECT count(*) FROM wishes WHERE
          (state = 'confirmed' AND (confirmed_at IS NULL OR (kind = 'wish'
                                    AND resident_score IS NULL)))
          OR (state = 'fulfilled' AND (fulfilled_at IS NULL OR confirmed_at IS NOT NULL
                                       OR resident_score IS NOT NULL))
          OR (state = 'claimed' AND (fulfilled_at IS NOT NULL OR resident_score IS NOT NULL))
        """) == 0
    # claims: the first is the wish's claim; all before fulfilment; points split evenly
    assert scalar(mh, """
        SELECT count(*) FROM wishes w
        WHERE w.claimed_at <> (SELECT min(c.claimed_at) FROM wish_claims c
                               WHERE c.wish_code = w.code)""") == 0
    assert scalar(mh, """
        SELECT count(*) FROM wish_claims c JOIN wishes w ON w.code = c.wish_code
        WHERE (w.fulfilled_at IS NOT NULL AND NOT (c.claimed_at < w.fulfilled_at
               AND c.accepted_at > c.claimed_at AND c.accepted_at < w.fulfilled_at
               AND c.fulfilled_at = w.fulfilled_at))
           OR (w.fulfilled_at IS NULL AND (c.fulfilled_at IS NOT NULL OR c.points <> 0))""") == 0
    for wish, n, points in rows(mh, """
            SELECT w.code, count(*), array_agg(DISTINCT c.points) FROM wishes w
            JOIN wish_claims c ON c.wish_code = w.code WHERE w.fulfilled_at IS NOT NULL
            GROUP BY w.code"""):
        assert points == [math.ceil(10 / n)], wish


def test_wish_events_replay_each_wish_to_its_state(mh):
    wishes = {r.code: r for r in rows(mh, "SELECT * FROM wishes")}
    claims = dict(rows(mh, "SELECT wish_code, count(*) FROM wish_claims GROUP BY wish_code"))
    accepted = dict(rows(mh, "SELECT wish_code, count(*) FROM wish_claims "
                             "WHERE accepted_at IS NOT NULL GROUP BY wish_code"))
    by_wish: dict[str, list] = {}
    for e in rows(mh, "SELECT * FROM wish_events ORDER BY wish_code, at, id"):
        by_wish.setdefault(e.wish_code, []).append(e)
    assert set(by_wish) == set(wishes)
    for code, evs in by_wish.items():
        w = wishes[code]
        assert {(e.actor, e.actor_role) for e in evs} == {("sample", "sample")}
        assert (evs[0].action, evs[0].from_state, evs[0].to_state) == ("post", None, "posted")
        state = "posted"
        for e in evs[1:]:
            assert e.from_state == state, code
            state = workflow.step(state, e.action, "staff", code=code)
            assert e.to_state == state, code
        assert state == w.state, code
        at = {}
        for e in evs:
            at.setdefault(e.action, e.at)
        assert at["post"] == w.posted_at and at["publish"] == w.published_at
        assert at["claim"] == w.claimed_at
        assert at.get("fulfil") == w.fulfilled_at and at.get("confirm") == w.confirmed_at
        actions = [e.action for e in evs]
        assert actions.count("claim") == claims[code]
        assert actions.count("accept") == accepted.get(code, 0)


def test_personal_data_only_in_private(mh):
    # wishes keep the phone in private and its keyed hash; projects have no resident
    for code, kind, private, h, title, public, words in rows(
            mh, "SELECT code, kind, private, phone_hash, title, public_text, text FROM wishes"):
        if kind == "project":
            assert private == {} and h is None, code
            continue
        assert set(private) == {"name", "phone", "address"}, code
        assert PHONE.fullmatch(private["phone"]), code
        assert h == phone_hash(mh, private["phone"]), code
        for shown in (title, public, words):
            assert shown and not PHONE.search(shown) and private["name"] not in shown, code
    assert scalar(mh, "SELECT count(DISTINCT private->>'phone') FROM members") == 447
    assert scalar(mh, "SELECT count(*) FROM members WHERE NOT (private ? 'name' "
                      "AND private ? 'phone')") == 0


def test_counts_and_reloading_replace_the_residents(mh_engine, meihuacun):
    from data.loading import load_sample

    counts = mh_engine.sample_counts
    assert counts["orgs"] == len(meihuacun.orgs)
    assert counts["members"] == len(meihuacun.members) == 447
    assert counts["wishes"] == len(meihuacun.wishes) == 271 + 25
    assert counts["claims"] == len(meihuacun.claims)
    assert counts["wish_events"] > counts["wishes"] * 5
    again = load_sample(mh_engine, meihuacun, log=lambda m: None)
    assert again == counts
    with mh_engine.connect() as c:
        for table, key in (("party_orgs", "orgs"), ("members", "members"),
                           ("wishes", "wishes"), ("wish_claims", "claims"),
                           ("wish_events", "wish_events")):
            assert scalar(c, f"SELECT count(*) FROM {table}") == counts[key], table


# -- 龙腾街道: activities of its six centers ---------------------------------------------------

def test_longteng_centers_held_51_activities_january_to_august(samples_conn):
    c = samples_conn
    n, people = rows(c, f"""
        SELECT count(*), sum(a.attendance) FROM activities a
        JOIN service_points p ON p.code = a.point_code
        WHERE p.region_code LIKE :t AND p.kind IN {CENTERS}
          AND a.starts_at >= '2026-01-01 00:00+08' AND a.starts_at < '2026-09-01 00:00+08'""",
                     t=f"{LT}%")[0]
    assert n == 51
    assert 6900 < people < 7000
    assert scalar(c, f"SELECT count(*) FROM service_points WHERE region_code LIKE :t "
                     f"AND kind IN {CENTERS}", t=f"{LT}%") == 6
    # every center, every month from January to August
    assert scalar(c, f"""
        SELECT count(*) FROM service_points p CROSS JOIN generate_series(1, 8) AS m(month)
        WHERE p.region_code LIKE :t AND p.kind IN {CENTERS} AND NOT EXISTS (
          SELECT 1 FROM activities a WHERE a.point_code = p.code
            AND a.starts_at AT TIME ZONE 'Asia/Shanghai' >= make_timestamp(2026, m, 1, 0, 0, 0)
            AND a.starts_at AT TIME ZONE 'Asia/Shanghai'
                < make_timestamp(2026, m, 1, 0, 0, 0) + interval '1 month')""",
                  t=f"{LT}%") == 0
    # the store's monthly rule agrees
    from geo.residents.activities import monthly

    report = monthly(c, LT, 2026, now=datetime(2026, 9, 1, tzinfo=SHANGHAI))
    assert report["missing"] == [] and len(report["centers"]) == 6
    assert scalar(c, "SELECT count(*) FROM activities WHERE NOT synthetic") == 0


def test_longteng_program_to_2028_and_daytime(samples_conn):
    c = samples_conn
    # one activity per center and month from September 2026 to December 2028
    assert scalar(c, f"""
        SELECT count(*) FROM service_points p
        CROSS JOIN generate_series(timestamp '2026-09-01', timestamp '2028-12-01',
                                   interval '1 month') AS m(month)
        WHERE p.region_code LIKE :t AND p.kind IN {CENTERS} AND NOT EXISTS (
          SELECT 1 FROM activities a WHERE a.point_code = p.code
            AND a.starts_at AT TIME ZONE 'Asia/Shanghai' >= m.month
            AND a.starts_at AT TIME ZONE 'Asia/Shanghai' < m.month + interval '1 month')""",
                  t=f"{LT}%") == 0
    # attendance known for what was held (to November 2026), unknown from December 2026
    assert scalar(c, "SELECT count(*) FROM activities WHERE point_code LIKE 'LT-%' AND "
                     "(attendance IS NULL) <> (starts_at >= '2026-12-01 00:00+08')") == 0
    assert scalar(c, "SELECT max(starts_at) FROM activities WHERE point_code LIKE 'LT-%'") \
        < datetime(2029, 1, 1, tzinfo=SHANGHAI)
    assert scalar(c, """
        SELECT count(*) FROM activities WHERE point_code LIKE 'LT-%' AND (
          extract(hour FROM starts_at AT TIME ZONE 'Asia/Shanghai') NOT BETWEEN 8 AND 16
          OR extract(hour FROM ends_at AT TIME ZONE 'Asia/Shanghai') > 19
          OR ends_at <= starts_at OR signups > capacity
          OR (attendance IS NOT NULL AND signups > attendance + capacity))""") == 0
    # "this week's activities" (seven days from any moment) show something until 2028
    assert scalar(c, """
        SELECT count(*) FROM generate_series(timestamptz '2026-09-01 00:00+08',
                                             timestamptz '2028-12-24 00:00+08',
                                             interval '6 hours') AS d(at)
        WHERE NOT EXISTS (SELECT 1 FROM activities a WHERE a.point_code LIKE 'LT-%'
                          AND a.ends_at > d.at AND a.starts_at < d.at + interval '7 days')""") \
        == 0


# -- 里水镇: ratings -------------------------------------------------------------------------

def test_lishui_ratings_one_per_phone_position_period_no_phone(samples_conn, samples):
    c = samples_conn
    n = scalar(c, "SELECT count(*) FROM ratings r JOIN service_points p ON p.code = r.point_code "
                  "WHERE p.region_code LIKE :t", t=f"{LS}%")
    assert 200 <= n <= 800 and n == len(samples["lishui"].ratings)
    assert scalar(c, "SELECT count(*) FROM (SELECT phone_hash, point_code, period FROM ratings "
                     "GROUP BY 1, 2, 3 HAVING count(*) > 1) d") == 0
    assert scalar(c, "SELECT count(*) FROM ratings WHERE score NOT BETWEEN 1 AND 5 "
                     "OR period NOT IN ('2026Q3', '2026Q4') OR NOT synthetic") == 0
    scores = dict(rows(c, "SELECT score, count(*) FROM ratings GROUP BY score"))
    assert scores[5] + scores[4] > 0.75 * n and scores.get(1, 0) + scores.get(2, 0) > 0
    # not every position is rated; some have fewer than 3 ratings in a period
    rated = scalar(c, "SELECT count(DISTINCT point_code) FROM ratings")
    assert 0 < rated < scalar(c, "SELECT count(*) FROM service_points WHERE region_code LIKE :t",
                              t=f"{LS}%")
    assert scalar(c, "SELECT count(*) FROM (SELECT point_code, period FROM ratings "
                     "GROUP BY 1, 2 HAVING count(*) < 3) s") > 0
    # no phone anywhere: no such column, the hashes are the database's keyed hashes
    columns = {r[0] for r in rows(c, "SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'ratings'")}
    assert not {"phone", "private"} & columns
    assert scalar(c, "SELECT count(*) FROM ratings WHERE phone_hash !~ '^[0-9a-f]{64}$' "
                     "OR comment ~ '1[3-9][0-9]{9}'") == 0
    phones = set(samples["lishui"].ratings["phone"])
    hashes = {r[0] for r in rows(c, "SELECT DISTINCT phone_hash FROM ratings")}
    assert hashes == {phone_hash(c, p) for p in phones}
    assert not hashes & phones


# -- determinism ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", data.SAMPLES)
def test_same_seed_same_residents(name, meihuacun, samples):
    first = meihuacun if name == "meihuacun" else samples[name]
    again = data.generate(name)
    for frame in FRAMES:
        pd.testing.assert_frame_equal(getattr(first, frame), getattr(again, frame),
                                      check_exact=True, obj=f"{name}.{frame}")


def test_other_seed_other_wishes_same_figures():
    s = data.generate("meihuacun", seed=7)
    w, c = s.wishes, s.claims
    assert (w["kind"] == "wish").sum() == 271
    assert c.loc[c["wish_code"].isin(w.loc[w["kind"] == "wish", "code"]),
                 "member_code"].nunique() == 447
    assert sum(w.loc[w["kind"] == "project", "budget_yuan"], Decimal(0)) == Decimal("97150.6")
    assert c.loc[c["wish_code"].isin(w.loc[w["kind"] == "project", "code"]),
                 "org_code"].nunique() == 19


# ---------------------------------------------------------------- the 双微 ledger
def test_the_ledger_of_meihuacun_adds_up_to_the_published_figures(mh):
    import io

    from openpyxl import load_workbook

    from geo.residents import ledger

    wb = load_workbook(io.BytesIO(ledger.wish_ledger_xlsx(mh, "440104013")))
    summary = list(wb["汇总"].iter_rows(values_only=True))
    head, body = summary[0], summary[1:]
    col = {h: i for i, h in enumerate(head)}
    assert len(body) == 15  # one row per community, each with a sheet of its own
    assert sum(r[col["微心愿"]] for r in body) == 271
    assert sum(r[col["已认领"]] for r in body) == 271
    assert sum(r[col["微项目"]] for r in body) == 25
    assert round(sum(r[col["项目金额（元）"]] for r in body), 1) == 97150.6
    names = {r[col["村（社区）"]] for r in body}
    assert names <= set(wb.sheetnames)
    # every wish is one row of its community's sheet; no contacts without asking
    n_rows = sum(wb[n].max_row - 1 for n in names)
    assert n_rows == 296
    assert "联系电话" not in [c.value for c in wb[next(iter(names))][1]]
    # 积分: the members' sheet sums what the claims earned
    points = rows(mh, "SELECT COALESCE(sum(points), 0) AS p FROM wish_claims "
                      "WHERE member_code IS NOT NULL")[0].p
    m = list(wb["党员积分"].iter_rows(values_only=True))
    assert len(m) - 1 == 447 and sum(r[-1] for r in m[1:]) == points
    o = list(wb["党组织积分"].iter_rows(values_only=True))
    oc = {h: i for i, h in enumerate(o[0])}
    own = rows(mh, "SELECT count(*) AS n FROM wish_claims WHERE member_code IS NULL")[0].n
    assert sum(r[oc["组织认领"]] for r in o[1:]) == own >= 25  # the projects, and more
    # with contacts: the residents' phones are there, for the staff
    wb2 = load_workbook(io.BytesIO(ledger.wish_ledger_xlsx(mh, "440104013", contacts=True)))
    sheet = wb2[next(iter(names))]
    assert "联系电话" in [c.value for c in sheet[1]]
