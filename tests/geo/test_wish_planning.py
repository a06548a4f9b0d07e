"""Wishes per grid cell for the planner map (geo.residents.planning): the
梅花村街道 sample read by the web's reader role, checked against plain SQL; the
overdue arithmetic against hand-made timestamps around each clock's edge; the
suppression of small cells. A scratch database of its own (meihuacun)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from geo.hours import CHINA_TZ
from geo.residents.planning import COUNTS, wish_grid_counts
from geo.settings import GeoSettings
from geo.store.migrate import upgrade
from tests.conftest import reader

MEIHUACUN = "440104013"
#: 3, 7 and 30 days (the defaults of geo.settings.ResidentSettings)
SETTINGS = GeoSettings()


@pytest.fixture(scope="module")
def mh_engine(pg_cluster):
    import data
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_wish_planning")
    upgrade(url)
    eng = create_engine(url)
    load_sample(eng, data.generate("meihuacun"), log=lambda m: None)
    yield eng
    eng.dispose()


@pytest.fixture
def mh_conn(mh_engine):
    with mh_engine.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


def test_sample_counts_per_cell_as_the_reader_sees_them(mh_engine):
    """271 wishes + 25 projects of 梅花村街道 over its grid cells, read by the
    reader role (no private column is needed), equal to plain SQL per cell;
    cells under 3 keep their outline, their counts fold into one row."""
    with mh_engine.connect() as c:
        per_cell = dict(c.execute(text(
            "SELECT g.code, count(w.code) FROM grid_cells g LEFT JOIN wishes w "
            "ON w.grid_code = g.code WHERE starts_with(g.region_code, :r) GROUP BY g.code"),
            {"r": MEIHUACUN}).all())
        open_ = dict(c.execute(text(
            "SELECT grid_code, count(*) FROM wishes WHERE state IN ('posted', 'published', "
            "'claimed') GROUP BY grid_code")).all())
        done = dict(c.execute(text(
            "SELECT grid_code, count(*) FROM wishes WHERE state IN ('fulfilled', 'confirmed') "
            "GROUP BY grid_code")).all())
        by_kind = dict(c.execute(text("SELECT kind, count(*) FROM wishes "
                                      "GROUP BY kind")).all())
    assert by_kind == {"wish": 271, "project": 25}
    with reader(mh_engine).connect() as c:
        got = wish_grid_counts(c, MEIHUACUN, SETTINGS)
        wishes_only = wish_grid_counts(c, MEIHUACUN, SETTINGS, kind="wish")
    assert got["totals"]["total"] == 296 and wishes_only["totals"]["total"] == 271
    assert [x["code"] for x in got["cells"]] == sorted(per_cell)
    small = {code for code, n in per_cell.items() if n < 3}
    assert small and len(small) < len(per_cell)  # both kinds of cell in the sample
    for cell in got["cells"]:
        code = cell["code"]
        assert cell["geometry"]["type"] in ("Polygon", "MultiPolygon")  # the outline stays
        assert cell["lng"] and cell["lat"] and cell["name"] and cell["village"]
        if code in small:
            assert cell["suppressed"] and all(cell[k] is None for k in COUNTS), code
        else:
            assert not cell["suppressed"]
            assert (cell["total"], cell["open"], cell["fulfilled"]) == (
                per_cell[code], open_.get(code, 0), done.get(code, 0)), code
            assert cell["total"] == cell["open"] + cell["fulfilled"] + cell["closed"]
    sup = got["suppressed"]
    assert sup["cells"] == len(small)
    assert sup["total"] == sum(per_cell[c] for c in small)
    shown = sum(x["total"] for x in got["cells"] if not x["suppressed"])
    assert shown + sup["total"] + got["ungridded"]["total"] == got["totals"]["total"] == 296
    # every sample wish is claimed: none waits for a claimant
    assert got["totals"]["unclaimed"] == 0
    assert got["totals"]["open"] == sum(open_.values())


def _wish(conn, code: str, grid: str, state: str, **times) -> None:
    village = conn.execute(text("SELECT region_code FROM grid_cells WHERE code = :g"),
                           {"g": grid}).scalar_one()
    cols = ", ".join(times)
    vals = ", ".join(f":{k}" for k in times)
    conn.execute(text(
        f"INSERT INTO wishes (code, title, region_code, grid_code, state{', ' if times else ''}"
        f"{cols}) VALUES (:c, '测试心愿', :r, :g, :s{', ' if times else ''}{vals})"),
        {"c": code, "r": village, "g": grid, "s": state, **times})


def test_overdue_from_hand_made_timestamps(mh_conn):
    """Each clock on both sides of its edge (a minute), at a pinned now: posted
    older than 3 days, published older than 7 days, claimed older than 30 days
    are overdue; exactly on the edge is not yet; other states never are."""
    now = datetime(2027, 3, 10, 12, 0, tzinfo=CHINA_TZ)
    day, minute = timedelta(days=1), timedelta(minutes=1)
    empty = mh_conn.execute(text(
        "SELECT g.code FROM grid_cells g WHERE starts_with(g.region_code, :r) AND NOT EXISTS "
        "(SELECT 1 FROM wishes w WHERE w.grid_code = g.code) ORDER BY g.code LIMIT 1"),
        {"r": MEIHUACUN}).scalar_one()
    before = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now)
    made = [  # code, state, timestamps, overdue?, unclaimed?
        ("T-P1", "posted", {"posted_at": now - 3 * day - minute}, True, False),
        ("T-P2", "posted", {"posted_at": now - 3 * day}, False, False),
        ("T-P3", "posted", {"posted_at": now - 2 * day}, False, False),
        ("T-B1", "published", {"posted_at": now - 9 * day,
                               "published_at": now - 7 * day - minute}, True, True),
        ("T-B2", "published", {"posted_at": now - 9 * day,
                               "published_at": now - 7 * day + minute}, False, True),
        ("T-B3", "published", {"posted_at": now - 40 * day}, False, True),  # no published_at
        ("T-B4", "published", {"posted_at": now - 2 * day,
                               "published_at": now - day}, False, False),  # claimed (row)
        ("T-C1", "claimed", {"posted_at": now - 60 * day, "published_at": now - 50 * day,
                             "claimed_at": now - 30 * day - minute}, True, False),
        ("T-C2", "claimed", {"posted_at": now - 60 * day, "published_at": now - 50 * day,
                             "claimed_at": now - 29 * day}, False, False),
        ("T-F1", "fulfilled", {"posted_at": now - 300 * day, "claimed_at": now - 299 * day},
         False, False),
        ("T-F2", "confirmed", {"posted_at": now - 300 * day}, False, False),
        ("T-X1", "rejected", {"posted_at": now - 300 * day}, False, False),
        ("T-X2", "withdrawn", {"posted_at": now - 300 * day}, False, False),
    ]
    for code, state, times, _, _ in made:
        _wish(mh_conn, code, empty, state, **times)
    mh_conn.execute(text("INSERT INTO party_orgs (code, name, region_code) SELECT 'T-O1', "
                         "'测试党支部', region_code FROM grid_cells WHERE code = :g"),
                    {"g": empty})
    # T-B4 has a claim; T-B2's claim was withdrawn, so it still waits for one
    mh_conn.execute(text(
        "INSERT INTO wish_claims (wish_code, org_code, withdrawn_at) VALUES "
        "('T-B4', 'T-O1', NULL), ('T-B2', 'T-O1', :w)"), {"w": now - day})
    got = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now)
    cell = next(x for x in got["cells"] if x["code"] == empty)
    assert cell["suppressed"] is False
    assert cell["total"] == len(made) == 13
    assert cell["open"] == 9
    assert cell["overdue"] == sum(m[3] for m in made) == 3
    assert cell["unclaimed"] == sum(m[4] for m in made) == 3
    assert (cell["fulfilled"], cell["closed"]) == (2, 2)
    for k in COUNTS:  # the region's totals move by the cell's counts
        assert got["totals"][k] - before["totals"][k] == cell[k], k
    # a minute later the posted wish on the edge is overdue too; a minute more, T-B2
    later = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now + minute)
    assert next(x for x in later["cells"] if x["code"] == empty)["overdue"] == 4
    later = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now + 2 * minute)
    assert next(x for x in later["cells"] if x["code"] == empty)["overdue"] == 5
    # the clocks come from the settings
    quick = SimpleNamespace(wish_review_days=1, wish_claim_days=1, wish_fulfil_days=1)
    fast = wish_grid_counts(mh_conn, MEIHUACUN, quick, now)
    # T-P1, P2, P3, B1, B2, C1, C2 (B4, published exactly a day ago: not yet)
    assert next(x for x in fast["cells"] if x["code"] == empty)["overdue"] == 7
    assert fast["rules"] == {"review_days": 1, "claim_days": 1, "fulfil_days": 1}
    with pytest.raises(ValueError):
        wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, datetime(2027, 3, 10))


def test_small_cells_are_suppressed_and_summed(mh_conn):
    """Two wishes in an empty cell: its outline, no counts; the suppressed row
    grows by them; a third wish shows the cell."""
    now = datetime(2027, 3, 10, 12, 0, tzinfo=CHINA_TZ)
    empty = mh_conn.execute(text(
        "SELECT g.code FROM grid_cells g WHERE starts_with(g.region_code, :r) AND NOT EXISTS "
        "(SELECT 1 FROM wishes w WHERE w.grid_code = g.code) ORDER BY g.code LIMIT 1"),
        {"r": MEIHUACUN}).scalar_one()
    before = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now)
    for code in ("T-S1", "T-S2"):
        _wish(mh_conn, code, empty, "posted", posted_at=now - timedelta(days=5))
    got = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now)
    cell = next(x for x in got["cells"] if x["code"] == empty)
    assert cell["suppressed"] and cell["total"] is None and cell["overdue"] is None
    assert cell["geometry"] is not None
    assert got["suppressed"]["cells"] == before["suppressed"]["cells"]  # it was 0 before
    assert got["suppressed"]["total"] - before["suppressed"]["total"] == 2
    assert got["suppressed"]["overdue"] - before["suppressed"]["overdue"] == 2
    _wish(mh_conn, "T-S3", empty, "posted", posted_at=now)
    got = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now)
    cell = next(x for x in got["cells"] if x["code"] == empty)
    assert (cell["total"], cell["open"], cell["overdue"]) == (3, 3, 2)
    assert got["suppressed"]["total"] == before["suppressed"]["total"]
    # a wish without a location counts for the street, in no cell
    village = mh_conn.execute(text("SELECT region_code FROM grid_cells WHERE code = :g"),
                              {"g": empty}).scalar_one()
    mh_conn.execute(text("INSERT INTO wishes (code, title, region_code, state) VALUES "
                         "('T-N1', '没有位置', :r, 'posted')"), {"r": village})
    got2 = wish_grid_counts(mh_conn, MEIHUACUN, SETTINGS, now)
    assert got2["ungridded"]["total"] == 1
    assert got2["totals"]["total"] == got["totals"]["total"] + 1
    # another region: nothing of 梅花村
    none = wish_grid_counts(mh_conn, "440507013", SETTINGS, now)
    assert none["cells"] == [] and none["totals"]["total"] == 0
