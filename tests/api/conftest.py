"""Fixtures of the API tests: a writable database with both sample towns,
personal data seeded into the private columns, stored circles, and tokens.

The session's ``samples`` database is shared read-only; write tests use
``rw_*`` (a database of their own, changed for good by the tests: every test
uses codes of its own) and the schemathesis run uses ``fuzz_*``.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.settings import Settings
from geo.store.migrate import upgrade
from geo.tokens import create_token, revoke_token
from tests.conftest import make_app

LONGTENG = "440507013"
LISHUI = "440605126"

#: personal data seeded into grid_cells.private / party_branches.private; no
#: public answer may ever contain any of these strings
PRIVATE_MARKERS = {
    "worker_name": "网格员陈秘甲",
    "worker_phone": "13911110001",
    "secretary_name": "书记林秘乙",
    "secretary_phone": "13922220002",
    "household_name": "党员户黄秘丙",
    "household_address": "龙腾街道秘密路9号",
    "household_phone": "13933330003",
    # the residents' side: a resident who posted a wish, their own words, a
    # claiming member, a rating's comment
    "wisher_name": "许愿人何秘庚",
    "wisher_phone": "13966660006",
    "wisher_address": "妈屿岛秘密巷3号",
    "wish_words": "原话秘密心愿内容",
    "member_name": "党员冯秘辛",
    "member_phone": "13977770007",
    "rating_comment": "评价原话秘壬",
}


def seed_private(conn) -> None:
    m = PRIVATE_MARKERS
    grid_private = {"workers": [{"name": m["worker_name"], "phone": m["worker_phone"]}]}
    branch_private = {
        "secretary": {"name": m["secretary_name"], "phone": m["secretary_phone"]},
        "members": 23,
        "member_households": [{"name": m["household_name"], "address": m["household_address"],
                               "phone": m["household_phone"]}],
    }
    conn.execute(text("UPDATE grid_cells SET private = CAST(:p AS jsonb) "
                      "WHERE region_code LIKE '440507013%'"),
                 {"p": json.dumps(grid_private, ensure_ascii=False)})
    conn.execute(text("UPDATE party_branches SET private = CAST(:p AS jsonb) "
                      "WHERE region_code LIKE '440507013%'"),
                 {"p": json.dumps(branch_private, ensure_ascii=False)})
    seed_resident_private(conn)


def seed_resident_private(conn) -> None:
    """A published, claimed wish of a resident at a home in 妈屿 (personal data in
    every private column), its claiming member, and a rated position."""
    m = PRIVATE_MARKERS
    village = "440507013001"
    conn.execute(text("INSERT INTO party_orgs (code, name, region_code) VALUES "
                      "('SEED-O1', '妈屿社区党支部', :v) ON CONFLICT DO NOTHING"), {"v": village})
    conn.execute(text(
        "INSERT INTO members (code, region_code, org_code, private) VALUES "
        "('SEED-M1', :v, 'SEED-O1', CAST(:p AS jsonb)) ON CONFLICT DO NOTHING"),
        {"v": village, "p": json.dumps({"name": m["member_name"], "phone": m["member_phone"]},
                                       ensure_ascii=False)})
    for i in range(3):  # three in one grid cell: its count is shown, not suppressed
        conn.execute(text("""
            INSERT INTO wishes (code, title, text, public_text, category, region_code,
                                grid_code, compound_code, geom, state, private, phone_hash,
                                published_at, claimed_at)
            SELECT :code, '想要一台收音机', :words, '长者想要一台收音机', 'elderly', :v,
                   (SELECT g.code FROM grid_cells g WHERE ST_Covers(g.geom, p) LIMIT 1),
                   c.code, p, 'claimed', CAST(:priv AS jsonb), repeat('a', 64), now(), now()
            FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM compounds
                  WHERE region_code = :v ORDER BY code LIMIT 1) c
            ON CONFLICT DO NOTHING"""),
            {"code": f"SEED-W{i}", "v": village, "words": m["wish_words"],
             "priv": json.dumps({"name": m["wisher_name"], "phone": m["wisher_phone"],
                                 "address": m["wisher_address"]}, ensure_ascii=False)})
        conn.execute(text(
            "INSERT INTO wish_claims (wish_code, member_code, org_code, accepted_at) "
            "VALUES (:w, 'SEED-M1', 'SEED-O1', now()) ON CONFLICT DO NOTHING"),
            {"w": f"SEED-W{i}"})
        conn.execute(text(
            "INSERT INTO ratings (point_code, period, score, comment, phone_hash) "
            "SELECT code, '2026Q4', 4, :c, :h FROM service_points "
            "WHERE region_code LIKE '440507013%' ORDER BY code LIMIT 1 "
            "ON CONFLICT DO NOTHING"), {"c": m["rating_comment"], "h": f"{i:064d}"})


def seed_circles(conn, codes: list[str]) -> None:
    """Stored service circles (plain buffers) for the given points."""
    for code in codes:
        for minutes in (5, 10):
            conn.execute(text("""
                INSERT INTO service_circles (point_code, minutes, profile, budget_m, method,
                    walk_off_m, geom, input_version)
                SELECT code, :m, 'elderly', :m * 60, 'straight_line', 25,
                       ST_Multi(ST_Buffer(geom::geography, :m * 60)::geometry), 'v1:' || version
                FROM service_points WHERE code = :c"""), {"c": code, "m": minutes})


def _database(pg_cluster, samples, name: str, towns: tuple[str, ...]) -> str:
    from data.loading import load_sample

    url = pg_cluster.create_database(name)
    upgrade(url)
    eng = create_engine(url)
    try:
        for town in towns:
            load_sample(eng, samples[town], log=lambda m: None)
        with eng.begin() as c:
            seed_private(c)
    finally:
        eng.dispose()
    return url


@pytest.fixture(scope="session")
def rw_engine(pg_cluster, samples):
    url = _database(pg_cluster, samples, "sm_api_rw", ("lishui", "longteng"))
    eng = create_engine(url, pool_size=5, max_overflow=10)
    with eng.begin() as c:
        seed_circles(c, ["LT-0002", "LT-0003", "LS-0002"])
    yield eng
    eng.dispose()


def _tokens(engine) -> dict[str, str]:
    specs = {
        "longteng_planner": ("planner", [LONGTENG]),
        "lishui_planner": ("planner", [LISHUI]),
        "longteng_viewer": ("viewer", [LONGTENG]),
        "village_planner": ("planner", ["440507013001"]),
        "admin": ("admin", ["44"]),
        "revoked": ("admin", ["44"]),
    }
    out = {}
    with engine.begin() as c:
        for name, (role, regions) in specs.items():
            secret, info = create_token(c, name=name, role=role, regions=regions)
            out[name] = secret
        revoke_token(c, info.prefix)
    return out


@pytest.fixture(scope="session")
def tokens(rw_engine) -> dict[str, str]:
    return _tokens(rw_engine)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="session")
def rw_client(rw_engine):
    # the matrix of roles and regions sends many refused tokens: budgets are
    # tested on their own (tests/api/test_limits_api.py); the deadline too
    # (tests/api/test_limits_api.py): a scenario compare takes ≈ 22 s here, and CI's
    # machine may be slower than the 60 s default allows
    app = make_app(Settings(cache_ttl_s=0, rate_limit_auth_failures="100000/minute",
                            rate_limit_expensive="100000/minute",
                            request_deadline_s=300), rw_engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def rw_conn(rw_engine):
    """A connection to the writable database inside a rolled-back transaction."""
    with rw_engine.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


@pytest.fixture(scope="session")
def fuzz_engine(pg_cluster, samples):
    url = _database(pg_cluster, samples, "sm_api_fuzz", ("longteng",))
    eng = create_engine(url, pool_size=5, max_overflow=10)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def fuzz_client(fuzz_engine):
    """A client of the Longteng-only database (personal data seeded as in ``rw``)."""
    app = make_app(Settings(cache_ttl_s=0, rate_limit_auth_failures="100000/minute",
                            rate_limit_expensive="100000/minute"), fuzz_engine)
    with TestClient(app) as c:
        yield c
