"""Load on the served app as ``servicemap up`` runs it: 200 residents' phones on
four routes at once, then the same while planners write.

Run: ``.venv/bin/python bench/load.py [--duration 30] [--connections 200]
[--writers 4] [--write-interval 0.25] [--db-url URL] [--json results.json]``

In one run it:

1. starts a throw-away PostGIS cluster with the Lishui sample (or uses
   ``--db-url``), and creates a planner token;
2. serves the app in a child process as ``servicemap up`` does (the web
   engine with the settings' pool and statement timeout, the reader role for
   anonymous reads, the nearest snapshot prepared at start, uvicorn's
   concurrency and keep-alive limits);
3. measures the **ceiling** first: a bare FastAPI route answering the same
   bytes as the town's points with all the connections (what uvicorn and this
   machine's cores give at all);
4. drives four routes **at once**, one wrk each with a quarter of
   ``--connections``, for ``--duration`` seconds: ``/api/v1/points`` of the
   town, ``/api/v1/nearest`` rotating over ``--locations`` building centroids
   and vector tiles of the compounds layer rotating over the town's z15
   tiles (both warmed first), and the resident map page; every answer's status is
   counted (503 apart from other errors);
5. does it again while ``--writers`` planners create and move points (each a
   write every ``--write-interval`` seconds through the API, every one audited
   and followed by an in-place update of the nearest snapshot).

The peer of the last run is the one before it: each route's p99 while
planners write over its p99 when nobody writes. Goal: no errors (503s
reported apart), every write acknowledged, nearest's ratio at most 2x.
Compare numbers only within one run.
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
import re  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

from bench.api import (  # noqa: E402
    _get,
    _save,
    _start,
    _wrk_ms,
    nearest_paths,
    parse_wrk,
    wrk_command,
)

LISHUI = "440605126"


@dataclass
class Row:
    name: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    p90_ms: float = 0.0
    s503: int = 0
    s5xx: int = 0
    s4xx: int = 0


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


_LUA = """\
local paths = {%s}
local i = %d
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) s503 = 0; s5xx = 0; s4xx = 0 end
function request()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  if status == 503 then s503 = s503 + 1
  elseif status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s503"); b = b + t:get("s5xx"); c = c + t:get("s4xx")
  end
  io.write(string.format("STATUS 503=%%d 5xx=%%d 4xx=%%d\\n", a, b, c))
end
"""


def at_once(phase: str, base: str, routes: dict[str, list[str]], args, *,
            threads: int = 1) -> list[Row]:
    """Drive every route at the same time, each with its share of the
    connections (one wrk each); a row per route with its statuses counted."""
    import subprocess
    import tempfile

    for name, paths in routes.items():
        status, body = _get(base + paths[0])
        if status != 200:
            raise SystemExit(f"{name}: GET {paths[0]} answered {status}: {body[:200]!r}")
    share = max(1, args.connections // len(routes))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, paths) in enumerate(routes.items()):
            script = Path(tmp) / f"route{k}.lua"
            script.write_text(_LUA % (", ".join(json.dumps(q) for q in paths), 0))
            cmd = wrk_command(base + paths[0], share, args.duration, threads, script)
            runs.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)))
        rows = []
        for name, proc in runs:
            out, _ = proc.communicate(timeout=args.duration + 120)
            total, errors, rps, p50, p99 = parse_wrk(out)
            m = re.search(r"STATUS 503=(\d+) 5xx=(\d+) 4xx=(\d+)", out)
            s503, s5xx, s4xx = (int(x) for x in m.groups())
            p90 = _wrk_ms(re.search(r"^\s+90%\s+(\S+)", out, re.M).group(1))
            row = Row(f"{name}, {phase}", total, errors - s503, rps, p50, p99, p90_ms=p90,
                      s503=s503, s5xx=s5xx, s4xx=s4xx)
            print(f"  {row.name:<40} {rps:>6.0f} req/s  p50 {p50:7.1f}  p90 {p90:7.1f}  p99 "
                  f"{p99:7.1f} ms  ({total} requests, {row.errors} errors, {s503} × 503)",
                  flush=True)
            rows.append(row)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    p.add_argument("--connections", type=int, default=200, help="in all, shared by the routes")
    p.add_argument("--wrk-threads", type=int, default=2, help="of the ceiling's wrk")
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
        routes = {
            "points": [f"/api/v1/points?region={LISHUI}"],
            "nearest": nearest,
            "tiles": tile_paths(db_url),
            "resident page": [f"/maps/resident?region={LISHUI}"],
        }
        spots = village_spots(db_url, args.writers)
        print("==> serving the app (prepares the nearest snapshot) ...", flush=True)
        os.environ["SERVICEMAP_READ_DATABASE_URL"] = read_url
        proc, base = _start("up", db_url)
        body = _save(_get(base + routes["points"][0])[1])
        ceiling_proc, ceiling = _start("ceiling", None, {"/p": body})
        print(f"==> {args.connections} connections, {args.duration:g} s per run "
              f"({len(nearest)} places, {len(routes['tiles'])} compound tiles at z15)",
              flush=True)
        try:
            bare, = at_once("alone", ceiling, {"ceiling: the points' bytes, bare": ["/p"]}, args,
                            threads=args.wrk_threads)
        finally:
            ceiling_proc.terminate()
            ceiling_proc.wait(timeout=30)
        print(f"==> warming nearest at the {len(nearest)} places and the "
              f"{len(routes['tiles'])} tiles ...", flush=True)
        for path in nearest + routes["tiles"]:
            _get(base + path)
        print("==> the four routes at once, nobody writing", flush=True)
        quiet = at_once("nobody writing", base, routes, args)
        print(f"==> the same while {args.writers} planners create and move points", flush=True)
        with Planners(base, token, spots, args.write_interval) as planners:
            busy = at_once(f"{args.writers} planners writing", base, routes, args)
        took = sorted(planners.seconds) or [0.0]
        write_p50 = took[len(took) // 2] * 1e3
        print(f"    {planners.writes} writes ({planners.writes / args.duration:.1f}/s, "
              f"p50 {write_p50:.0f} ms each), {len(planners.errors)} not "
              f"acknowledged {sorted(set(planners.errors))}")
        rows = [bare, *quiet, *busy]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if cluster is not None:
            cluster.destroy()

    q, b = quiet[1], busy[1]
    ratio = b.p99_ms / q.p99_ms if q.p99_ms else float("inf")
    errors = sum(r.errors for r in rows)
    print()
    print("writing / nobody writing:")
    for r0, r1 in zip(quiet, busy, strict=True):
        x = r1.p99_ms / r0.p99_ms if r0.p99_ms else float("inf")
        print(f"  {r0.name.split(',')[0]:<14} p99 {r1.p99_ms:7.1f} / {r0.p99_ms:7.1f} ms = "
              f"{x:5.2f}x   p90 {r1.p90_ms:6.1f} / {r0.p90_ms:6.1f} ms   p50 {r1.p50_ms:6.1f} / "
              f"{r0.p50_ms:6.1f} ms")
    print(f"bare ceiling alone at {args.connections} connections: p50 {bare.p50_ms:.1f} ms, "
          f"p90 {bare.p90_ms:.1f} ms, p99 {bare.p99_ms:.1f} ms, {bare.rps:.0f} req/s")
    print(f"503s: {sum(r.s503 for r in rows)} (counted apart); other errors: {errors}")
    ok = ratio <= 2 and errors == 0 and not planners.errors
    print(f"{'meets' if ok else 'misses'} the goal (no errors, every write acknowledged, "
          f"nearest p99 while writing at most 2x: {ratio:.2f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"rows": [asdict(r) for r in rows], "writes": planners.writes,
             "writes_refused": len(planners.errors), "write_p50_ms": write_p50}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
