"""Backups (issue 11): ``servicemap backup FILE`` then ``servicemap restore FILE``
gives back every table row for row (hashes compared), PostGIS geometry and
triggers included; a damaged backup changes nothing; a failed backup leaves
the previous file in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from geo.errors import BackupError
from geo.store.backup import backup
from geo.store.migrate import upgrade
from geo.tokens import create_token

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "api.cli"]


def _hashes(url: str) -> dict[str, tuple[int, str]]:
    """Rows and an order-independent hash of every table of the product."""
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            tables = c.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user AND tablename <> 'data_versions'")).scalars()
            return {t: tuple(c.execute(text(
                f'SELECT count(*), md5(coalesce(string_agg(md5(x::text), \',\' '
                f'ORDER BY md5(x::text)), \'\')) FROM "{t}" x')).one()) for t in tables}
    finally:
        eng.dispose()


def _versions(url: str) -> dict[str, int]:
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return dict(c.execute(text("SELECT name, version FROM data_versions")).all())
    finally:
        eng.dispose()


def _cli(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEMAP_")}
    env.update(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=url)
    return subprocess.run(CLI + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def town(pg_cluster, samples):
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_backup")
    upgrade(url)
    eng = create_engine(url)
    load_sample(eng, samples["longteng"], log=lambda m: None)
    with eng.begin() as c:
        create_token(c, name="backup-planner", role="planner", regions=["440507013"])
        c.execute(text("UPDATE grid_cells SET private = '{\"worker_name\": \"某某\"}'"))
        c.execute(text("INSERT INTO audit_log (actor, action, entity, entity_code, after) "
                       "VALUES ('cli', 'update', 'point', 'LT-0001', '{\"name\": \"x\"}')"))
    eng.dispose()
    return url


def test_backup_and_restore_round_trip(town, pg_cluster, tmp_path):
    before = _hashes(town)
    assert before["service_points"][0] > 30 and before["buildings"][0] > 1000
    assert before["api_tokens"][0] == 1 and before["audit_log"][0] > 0
    r = _cli(town, "backup", "longteng.dump", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    dump = tmp_path / "longteng.dump"
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert "backup written" in r.stdout and not list(tmp_path.glob("*.partial"))
    # then things go wrong: rows lost, rows changed, a table dropped
    eng = create_engine(town)
    with eng.begin() as c:
        c.execute(text("DELETE FROM service_points WHERE code LIKE 'LT-000%'"))
        c.execute(text("UPDATE buildings SET population = population + 1"))
        c.execute(text("DROP TABLE water_areas"))
        c.execute(text("INSERT INTO meta (key, value) VALUES ('oops', '{}')"))
    eng.dispose()
    changed = _versions(town)
    assert _hashes(town) != before
    r = _cli(town, "restore", "longteng.dump", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _hashes(town) == before
    # every data version moved past both the backup's and the replaced one
    after = _versions(town)
    assert all(after[t] > changed.get(t, 0) for t in after), (after, changed)
    # the triggers came back with the tables: a write bumps its version again
    eng = create_engine(town)
    with eng.begin() as c:
        c.execute(text("UPDATE service_points SET name = name WHERE false"))
        assert c.execute(text("SELECT version FROM data_versions "
                              "WHERE name = 'service_points'")).scalar() == \
            after["service_points"] + 1
        # geometry is PostGIS geometry again, in its SRID
        assert c.execute(text("SELECT ST_SRID(geom), GeometryType(geom) FROM service_points "
                              "LIMIT 1")).one() == (4326, "POINT")
    eng.dispose()
    # and the reader's grants were made again: public data yes, personal data no
    reader = pg_cluster.url(database="sm_backup", role="reader").replace(
        "postgresql+psycopg", "postgresql")
    with psycopg.connect(reader) as c:
        assert c.execute("SELECT count(*) FROM service_points").fetchone()[0] == \
            before["service_points"][0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT private FROM grid_cells")


def test_a_damaged_backup_changes_nothing(town, tmp_path):
    assert _cli(town, "backup", "good.dump", cwd=tmp_path).returncode == 0
    data = (tmp_path / "good.dump").read_bytes()
    (tmp_path / "cut.dump").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.dump").write_bytes(b"not a backup at all\n" * 100)
    before = _hashes(town)
    for name in ("cut.dump", "noise.dump", "missing.dump"):
        r = _cli(town, "restore", name, cwd=tmp_path)
        assert r.returncode == 1, (name, r.stdout)
        assert r.stderr.startswith("servicemap: error: ") and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert name in r.stderr
        assert _hashes(town) == before, name


def test_a_failed_backup_keeps_the_previous_file(town, pg_cluster, tmp_path):
    target = tmp_path / "nightly.dump"
    target.write_bytes(b"yesterday's backup")
    missing = pg_cluster.url(database="sm_no_such_database")
    with pytest.raises(BackupError) as e:
        backup(missing, target, log=lambda m: None)
    assert "sm_no_such_database" in str(e.value)
    assert target.read_bytes() == b"yesterday's backup"
    assert [p.name for p in tmp_path.iterdir()] == ["nightly.dump"]
