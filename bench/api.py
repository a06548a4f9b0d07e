"""HTTP benchmark of the public API on loopback, against a bare FastAPI ceiling.

Run: ``.venv/bin/python bench/api.py [--duration 30] [--connections 50]
[--db-url URL] [--client auto|wrk|python] [--json results.json]``

In one run it:

1. starts a throw-away PostGIS cluster (or uses ``--db-url``, which must hold
   the Lishui sample), migrates it and loads the Lishui sample: 170 points;
2. serves the real app (``api.app.create_app``, every middleware on) with
   uvicorn, one worker, on 127.0.0.1;
3. serves the **ceiling**: a bare FastAPI app (no middleware) whose route
   returns the very bytes ``/api/v1/points`` answers, as a constant;
4. serves the app once more with ``cache_front`` off, so that every request
   goes through FastAPI's routing and parameter parsing (the cached body is
   still reused), to show what the front cache is worth;
5. drives each for ``--duration`` seconds with ``--connections`` concurrent
   keep-alive clients (wrk when installed, else a built-in asyncio client),
   and prints requests/s, p50 and p99 latency and the ratio to the ceiling.

Targets: ``GET /api/v1/points`` (all 170 Lishui points, WGS-84) and
``GET /api/v1/nearest`` (the 5 nearest by walking), once always at the town
center and once rotating over ``--locations`` building centroids (default
1,000), so that every request is a fresh walk search as residents' phones
send them. The ceiling for each is the same bytes from a bare route (it
ignores the query string). Goal: within 3x of the ceiling with p99 under
50 ms. Numbers depend on the machine: compare only within one run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on sys.path, where this file would
# shadow the project's ``api`` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

POINTS_PATH = "/api/v1/points"


@dataclass
class Result:
    name: str
    path: str
    client: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    body_bytes: int


# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(kind: str, port: int, db_url: str | None, payload: list[str] | None) -> None:
    """Child process: run one server until killed."""
    import uvicorn

    if kind in ("app", "app-routed", "up"):
        from api.app import create_app
        from api.settings import Settings

        settings = Settings(database_url=db_url, cache_front=kind != "app-routed")
        app = create_app(settings)
        if kind == "up":
            # as `servicemap up` serves (the read URL from the environment)
            from api.cli.up import serve as serve_up
            from api.routes.isochrones import prepare_queries

            prepare_queries(app)
            serve_up(app, settings, host="127.0.0.1", port=port)
            return
    else:
        from fastapi import FastAPI, Response

        app = FastAPI()
        for item in payload or []:
            route, file = item.split("=", 1)
            body = Path(file).read_bytes()

            def constant(body: bytes = body):
                async def endpoint() -> Response:
                    return Response(body, media_type="application/geo+json")
                return endpoint

            app.add_api_route(route, constant(), methods=["GET"])

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _start(kind: str, db_url: str | None, payloads: dict[str, Path] | None = None):
    port = _free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--port", str(port)]
    if db_url:
        cmd += ["--db-url", db_url]
    for route, file in (payloads or {}).items():
        cmd += ["--payload", f"{route}={file}"]
    proc = subprocess.Popen(cmd, cwd=_HERE.parent)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the {kind} server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the {kind} server did not start")


def _save(body: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix="payload-", suffix=".json")
    os.close(fd)
    Path(name).write_bytes(body)
    return Path(name)


def _get(url: str, timeout: float = 600) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --------------------------------------------------------------------------
# load generators
# --------------------------------------------------------------------------
_WRK_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _wrk_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * _WRK_UNIT[m.group(2)]


def _wrk_script(paths: list[str]) -> Path:
    """A wrk Lua script that requests ``paths`` in turn."""
    quoted = ",\n".join(json.dumps(p) for p in paths)
    fd, name = tempfile.mkstemp(prefix="paths-", suffix=".lua")
    os.close(fd)
    Path(name).write_text(
        f"local paths = {{\n{quoted}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format(\"GET\", paths[i])\nend\n")
    return Path(name)


def wrk_command(url: str, connections: int, duration: float, threads: int,
                script: Path | None = None) -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s",
           "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    return cmd + [url]


def parse_wrk(out: str) -> tuple:
    """``(requests, errors, req/s, p50 ms, p99 ms)`` of wrk's report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    return total, errors, rps, p50, p99


def run_wrk(url: str, connections: int, duration: float, threads: int,
            paths: list[str] | None = None) -> tuple:
    script = _wrk_script(paths) if paths else None
    try:
        out = subprocess.run(wrk_command(url, connections, duration, threads, script),
                             capture_output=True, text=True, check=True).stdout
    finally:
        if script is not None:
            script.unlink()
    return parse_wrk(out)


async def _client(host: str, port: int, requests: list[bytes], stop: float,
                  latencies: list[float], errors: list[int], first: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = first
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if m:
                await reader.readexactly(int(m.group(1)))
            else:  # chunked: read to the terminating chunk
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            latencies.append(time.perf_counter() - t0)
            if status >= 400:
                errors.append(status)
    finally:
        writer.close()


def run_python(url: str, connections: int, duration: float,
               paths: list[str] | None = None) -> tuple:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    targets = paths or [u.path + (f"?{u.query}" if u.query else "")]
    requests = [(f"GET {t} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                 "Accept: */*\r\n\r\n").encode() for t in targets]
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        stop = time.perf_counter() + duration
        t0 = time.perf_counter()
        await asyncio.gather(*(
            _client(u.hostname, u.port, requests, stop, latencies, errors,
                    c * len(requests) // connections)
            for c in range(connections)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] * 1e3
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3
    return len(lat), len(errors), len(lat) / elapsed, p50, p99


def measure(name: str, base: str, path: str, args, paths: list[str] | None = None) -> Result:
    """Drive ``base + path`` (or each of ``paths`` in turn) and report it."""
    url = base + path
    for p in (paths or [path])[:20]:
        status, body = _get(base + p)
        if status != 200:
            raise SystemExit(f"{name}: GET {p} answered {status}: {body[:200]!r}")
    if args.client == "wrk":
        total, errors, rps, p50, p99 = run_wrk(url, args.connections, args.duration,
                                               args.wrk_threads, paths)
    else:
        total, errors, rps, p50, p99 = run_python(url, args.connections, args.duration, paths)
    r = Result(name=name, path=path, client=args.client, requests=total, errors=errors,
               rps=rps, p50_ms=p50, p99_ms=p99, body_bytes=len(body))
    print(f"  {name:<28} {rps:>9.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   "
          f"({total} requests, {errors} errors, {len(body)} B)", flush=True)
    return r


# --------------------------------------------------------------------------
# database
# --------------------------------------------------------------------------
def prepare_database(args) -> tuple[str, object | None]:
    if args.db_url:
        return args.db_url, None
    from data.loading import scratch_sample_database

    print("==> starting a throw-away PostGIS cluster with the Lishui sample ...", flush=True)
    return scratch_sample_database(("lishui",))


def nearest_paths(db_url: str, n: int) -> list[str]:
    """``/api/v1/nearest`` at ``n`` building centroids (a fixed pseudo-random pick)."""
    from sqlalchemy import text

    from geo.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c, code "
                "FROM buildings) b ORDER BY md5(code) LIMIT :n"), {"n": n}).all()
    finally:
        engine.dispose()
    return [f"/api/v1/nearest?lng={x:.6f}&lat={y:.6f}" for x, y in rows]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds per target")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--db-url", help="database with the Lishui sample (default: a new one)")
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--no-nearest", action="store_true")
    p.add_argument("--locations", type=int, default=1000,
                   help="building centroids the varied /nearest run rotates over")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--serve", choices=["app", "app-routed", "up", "ceiling"],
                   help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--payload", action="append", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db_url, args.payload)
        return 0
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"

    db_url, cluster = prepare_database(args)
    procs = []
    results: list[Result] = []
    ceilings: dict[str, Result] = {}
    try:
        app_proc, app_base = _start("app", db_url)
        procs.append(app_proc)
        status, body = _get(app_base + POINTS_PATH)
        points = json.loads(body)
        print(f"==> {POINTS_PATH}: {status}, {len(points['features'])} points, "
              f"{len(body)} bytes", flush=True)
        payloads = {POINTS_PATH: _save(body)}

        center = next(f for f in points["features"]
                      if f["properties"]["kind"] == "town_center")
        lng, lat = center["geometry"]["coordinates"]
        nearest = f"/api/v1/nearest?lng={lng}&lat={lat}"
        spec = json.loads(_get(app_base + "/openapi.json")[1])
        has_nearest = "/api/v1/nearest" in spec["paths"] and not args.no_nearest
        if has_nearest:
            print("==> warming /api/v1/nearest (builds the walking network) ...", flush=True)
            t0 = time.perf_counter()
            status, near_body = _get(app_base + nearest)
            print(f"    {status} after {time.perf_counter() - t0:.1f} s", flush=True)
            payloads["/api/v1/nearest"] = _save(near_body)
        else:
            print("==> /api/v1/nearest is not in the app: benchmarking /api/v1/points only")
        ceil_proc, ceil_base = _start("ceiling", None, payloads)
        procs.append(ceil_proc)
        routed_proc, routed_base = _start("app-routed", db_url)
        procs.append(routed_proc)

        print(f"==> {args.connections} concurrent clients, {args.duration:g} s each, "
              f"client {args.client}", flush=True)
        ceiling = measure("ceiling /api/v1/points", ceil_base, POINTS_PATH, args)
        results.append(ceiling)
        results.append(measure("app /api/v1/points", app_base, POINTS_PATH, args))
        results.append(measure("  same, no front cache", routed_base, POINTS_PATH, args))
        if has_nearest:
            ceilings["nearest"] = measure("ceiling /api/v1/nearest", ceil_base, nearest, args)
            results.append(ceilings["nearest"])
            results.append(measure("app /api/v1/nearest", app_base, nearest, args))
            varied = nearest_paths(db_url, args.locations)
            name = f"app /nearest, {len(varied)} places"
            results.append(measure(name, app_base, varied[0], args, varied))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if cluster is not None:
            cluster.destroy()

    print()
    print(f"{'target':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ceiling/x':>10}"
          "   (ceiling: the same bytes from a bare FastAPI route)")
    for r in results:
        base = ceilings.get("nearest") if "nearest" in r.path else ceiling
        ratio = base.rps / r.rps if r.rps else float("inf")
        print(f"{r.name:<28} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {ratio:>9.2f}x")
    print()
    for r in results:
        if r.name.startswith("app"):
            base = ceilings.get("nearest") if "nearest" in r.path else ceiling
            ok = base.rps / r.rps <= 3 and r.p99_ms < 50 and r.errors == 0
            print(f"{r.name}: {'meets' if ok else 'misses'} the goal (within 3x of the "
                  "ceiling, p99 under 50 ms, no errors)")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
