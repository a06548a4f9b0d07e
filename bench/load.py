"""Load on the served app as ``servicemap up`` runs it: 200 residents' phones,
then the same while planners write.

Run: ``.venv/bin/python bench/load.py [--duration 30] [--connections 200]
[--writers 4] [--write-interval 0.25] [--db-url URL] [--json results.json]``

In one run it:

1. starts a throw-away PostGIS cluster with the Lishui sample (or uses
   ``--db-url``), and creates a planner token;
2. serves the app in a child process as ``servicemap up`` does (the web
   engine with the settings' pool and statement timeout, the reader role for
   anonymous reads, the nearest snapshot prepared at start, uvicorn's
   concurrency and keep-alive limits);
3. drives, with wrk and ``--connections`` keep-alive clients for
   ``--duration`` seconds each: ``/api/v1/points`` of the town,
   ``/api/v1/nearest`` rotating over ``--locations`` building centroids,
   vector tiles of the compounds layer rotating over the town's z15 tiles,
   and the resident map page;
   first of all, the **ceiling**: a bare FastAPI route answering the same
   bytes as the town's points, at the same connections (what uvicorn and
   this machine's cores give at all); nearest is warmed at every place first;
4. drives ``/api/v1/nearest`` once more while ``--writers`` planners create
   and move points (each a write every ``--write-interval`` seconds through
   the API, every one audited and followed by an in-place update of the
   nearest snapshot).

The peer of the last run is the third: nearest's p99 while planners write
over its p99 when nobody writes, in the same run. Goal: no 5xx anywhere,
every write acknowledged, and the ratio at most 2x. Compare numbers only
within one run.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

from bench.api import _get, _save, _start, nearest_paths, run_wrk  # noqa: E402

LISHUI = "440605126"


@dataclass
class Row:
    name: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    writes: int = 0
    write_errors: int = 0
    write_p50_ms: float = 0.0


def tile_paths(db_url: str, zoom: int = 15) -> list[str]:
    import mercantile
    from sqlalchemy import text

    from geo.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            w, s, e, n = c.execute(text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT ST_Extent(geom) AS b FROM regions WHERE code = :c) x"),
                {"c": LISHUI}).one()
    finally:
        engine.dispose()
    return [f"/tiles/compounds/{t.z}/{t.x}/{t.y}.mvt"
            for t in mercantile.tiles(w, s, e, n, zoom)]


def planner_token(db_url: str) -> str:
    from geo.store.engine import make_engine
    from geo.tokens import create_token

    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            secret, _ = create_token(c, name="压测规划", role="planner", regions=[LISHUI])
    finally:
        engine.dispose()
    return secret


def village_spots(db_url: str, n: int) -> list[tuple[str, float, float]]:
    from sqlalchemy import text

    from geo.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            rows = c.execute(text(
                "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) AS p "
                "FROM regions WHERE parent_code = :c ORDER BY code LIMIT :n) s"),
                {"c": LISHUI, "n": n}).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


class Planners:
    """``n`` planners writing through the API until stopped: each creates a point
    in a village of the town, then moves it, in turn."""

    def __init__(self, base: str, token: str, spots, interval_s: float) -> None:
        self.base, self.token, self.spots, self.interval_s = base, token, spots, interval_s
        self.stop = threading.Event()
        self.writes = 0
        self.errors: list[int] = []
        self.seconds: list[float] = []
        self.lock = threading.Lock()

    def _run(self, w: int) -> None:
        import httpx

        village, lng, lat = self.spots[w % len(self.spots)]
        with httpx.Client(base_url=self.base, timeout=60,
                          headers={"Authorization": f"Bearer {self.token}"}) as c:
            i = 0
            while not self.stop.is_set():
                i += 1
                t0 = time.perf_counter()
                code = f"LOAD-{w}-{i:05d}"
                if i % 2:
                    r = c.post("/api/v1/points", json={
                        "code": code, "name": f"压测站{w}-{i}", "kind": "station",
                        "region_code": village,
                        "geometry": {"type": "Point", "coordinates": [lng, lat]}})
                    ok = r.status_code == 201
                else:
                    prev = f"LOAD-{w}-{i - 1:05d}"
                    r = c.put(f"/api/v1/points/{prev}/geometry", json={"geometry": {
                        "type": "Point", "coordinates": [lng + 0.0003, lat + 0.0002]}})
                    ok = r.status_code == 200
                with self.lock:
                    self.seconds.append(time.perf_counter() - t0)
                    self.writes += 1
                    if not ok:
                        self.errors.append(r.status_code)
                time.sleep(self.interval_s)

    def __enter__(self) -> Planners:
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True)
                        for w in range(len(self.spots))]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def drive(name: str, base: str, paths: list[str], args) -> Row:
    for p in paths[:5]:
        status, body = _get(base + p)
        if status != 200:
            raise SystemExit(f"{name}: GET {p} answered {status}: {body[:200]!r}")
    total, errors, rps, p50, p99 = run_wrk(base + paths[0], args.connections, args.duration,
                                           args.wrk_threads, paths if len(paths) > 1 else None)
    row = Row(name, total, errors, rps, p50, p99)
    print(f"  {name:<34} {rps:>8.0f} req/s  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  "
          f"({total} requests, {errors} errors)", flush=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds per target")
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--write-interval", type=float, default=0.25, help="seconds between a "
                   "planner's writes")
    p.add_argument("--locations", type=int, default=1000)
    p.add_argument("--db-url", help="database with the Lishui sample (default: a new one)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: run `scripts/setup.sh --test` (installs it)")

    cluster = None
    if args.db_url:
        db_url, read_url = args.db_url, args.db_url
    else:
        from data.loading import scratch_sample_database

        print("==> a throw-away PostGIS cluster with the Lishui sample ...", flush=True)
        db_url, cluster = scratch_sample_database(("lishui",))
        read_url = cluster.url(role="reader")
    rows: list[Row] = []
    proc = None
    try:
        token = planner_token(db_url)
        nearest = nearest_paths(db_url, args.locations)
        tiles = tile_paths(db_url)
        spots = village_spots(db_url, args.writers)
        print("==> serving the app (prepares the nearest snapshot) ...", flush=True)
        os.environ["SERVICEMAP_READ_DATABASE_URL"] = read_url
        proc, base = _start("up", db_url)
        print(f"==> {args.connections} connections, {args.duration:g} s each "
              f"({len(nearest)} places, {len(tiles)} tiles)", flush=True)
        points = f"/api/v1/points?region={LISHUI}"
        body = _save(_get(base + points)[1])
        ceiling_proc, ceiling = _start("ceiling", None, {"/p": body})
        try:
            rows.append(drive("ceiling: same bytes, bare FastAPI", ceiling, ["/p"], args))
        finally:
            ceiling_proc.terminate()
            ceiling_proc.wait(timeout=30)
        rows.append(drive("points of the town", base, [points], args))
        print(f"==> warming nearest at the {len(nearest)} places ...", flush=True)
        for path in nearest:
            _get(base + path)
        rows.append(drive("nearest, nobody writing", base, nearest, args))
        rows.append(drive("compound tiles z15", base, tiles, args))
        rows.append(drive("resident map page", base, [f"/maps/resident?region={LISHUI}"], args))
        with Planners(base, token, spots, args.write_interval) as planners:
            row = drive(f"nearest, {args.writers} planners writing", base, nearest, args)
        row.writes, row.write_errors = planners.writes, len(planners.errors)
        took = sorted(planners.seconds) or [0.0]
        row.write_p50_ms = took[len(took) // 2] * 1e3
        print(f"    {planners.writes} writes ({planners.writes / args.duration:.1f}/s, "
              f"p50 {row.write_p50_ms:.0f} ms each), {len(planners.errors)} not "
              f"acknowledged {sorted(set(planners.errors))}")
        rows.append(row)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if cluster is not None:
            cluster.destroy()

    quiet, busy = rows[2], rows[-1]
    ratio = busy.p99_ms / quiet.p99_ms if quiet.p99_ms else float("inf")
    errors = sum(r.errors for r in rows)
    print()
    print(f"nearest p99 while {args.writers} planners write / when nobody writes: "
          f"{busy.p99_ms:.1f} / {quiet.p99_ms:.1f} ms = {ratio:.2f}x")
    app_pts, bare = rows[1], rows[0]
    print(f"the town's points / the bare ceiling's same bytes: p50 {app_pts.p50_ms:.1f} / "
          f"{bare.p50_ms:.1f} ms = {app_pts.p50_ms / bare.p50_ms:.2f}x, p99 "
          f"{app_pts.p99_ms:.1f} / {bare.p99_ms:.1f} ms = {app_pts.p99_ms / bare.p99_ms:.2f}x")
    print(f"nearest p50 while planners write / when nobody writes: {busy.p50_ms:.1f} / "
          f"{quiet.p50_ms:.1f} ms = {busy.p50_ms / quiet.p50_ms:.2f}x")
    ok = ratio <= 2 and errors == 0 and busy.write_errors == 0
    print(f"{'meets' if ok else 'misses'} the goal (no errors, every write acknowledged, "
          "ratio at most 2x)")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
