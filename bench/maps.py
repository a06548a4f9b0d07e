"""Benchmark of the maps: tiles, static images and the resident page, in one run.

Run: ``.venv/bin/python bench/maps.py [--tiles 40] [--wrk-seconds 10] [--json out.json]``

With ``SERVICEMAP_DATABASE_URL`` set it uses that database (which must hold
data and circles); otherwise it starts a throwaway local PostGIS cluster,
loads the Lishui sample (170 positions) and computes the 10-minute circles.
The app runs in its own uvicorn process (one worker, uvloop/httptools) on
127.0.0.1; all traffic stays on the loopback interface.

Measured
--------
* cold and warm MVT tiles (points, circles, roads, compounds) and PNG tiles
  (basemap, circles): p50/p99 of single sequential requests, over ``--tiles``
  distinct tiles at zooms 13–16 over the town (cold: first request of a fresh
  server; warm: the same tiles again, served from the tile cache);
* warm tiles under ``wrk`` at 50 connections (requests per second);
* static article image (1080 px PNG of the whole town): render time in process;
* resident page: bytes (HTML and every asset, raw and gzip) and time to
  interactive in headless Chromium on loopback (navigation start → the
  page's ``data-ready``), median of 5 loads with a cold browser cache.

Goals (from the issue): warm tile ≥ 1,000 req/s; cold MVT p50 < 30 ms; static
image < 1 s; resident page < 1.5 s to interactive.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/ itself must not be importable: bench/coverage.py would shadow the
# ``coverage`` package that numba probes for
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import mercantile  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

LISHUI = "440605126"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database() -> tuple[str, object | None]:
    """A database URL with the Lishui sample and its circles (and the cluster to stop)."""
    url = os.environ.get("SERVICEMAP_DATABASE_URL")
    if url:
        return url, None
    from data.loading import scratch_sample_database

    return scratch_sample_database(("lishui",), circles_minutes=10)


def start_server(url: str, port: int) -> subprocess.Popen:
    code = ("import uvicorn\nfrom api.app import create_app\nfrom api.settings import Settings\n"
            f"uvicorn.run(create_app(Settings()), host='127.0.0.1', port={port}, "
            "log_level='warning', access_log=False)\n")
    env = {**os.environ, "SERVICEMAP_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/tiles", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the app did not start")


def tiles_over(bbox: tuple[float, float, float, float], n: int) -> list[mercantile.Tile]:
    """``n`` distinct tiles at zooms 13–16 over ``bbox``, spread evenly."""
    out: list[mercantile.Tile] = []
    for z in (13, 14, 15, 16):
        ts = list(mercantile.tiles(*bbox, zooms=z))
        step = max(1, len(ts) // (n // 4))
        out.extend(ts[::step][: n // 4])
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


def time_tiles(client: httpx.Client, base: str, layer: str, fmt: str,
               tiles: list[mercantile.Tile]) -> list[float]:
    out = []
    for t in tiles:
        t0 = time.perf_counter()
        r = client.get(f"{base}/tiles/{layer}/{t.z}/{t.x}/{t.y}.{fmt}")
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def run_wrk(url: str, seconds: int) -> float | None:
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else None


def page_weight(client: httpx.Client, base: str) -> dict[str, int]:
    html = client.get(f"{base}/maps/resident?region={LISHUI}").content
    urls = re.findall(rb'(?:src|href)="(/maps/static/[^"]+)"', html)
    raw, gz = len(html), len(gzip.compress(html))
    for u in urls:
        body = client.get(base + u.decode()).content
        raw += len(body)
        gz += len(gzip.compress(body))
    return {"html_bytes": len(html), "total_bytes": raw, "total_gzip_bytes": gz,
            "assets": len(urls)}


def page_load(base: str, runs: int = 5) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        for _ in range(runs):
            ctx = browser.new_context(viewport={"width": 360, "height": 640})
            page = ctx.new_page()
            page.goto(f"{base}/maps/resident?region={LISHUI}")
            page.wait_for_selector("[data-ready='1']", state="attached")
            ms = page.get_attribute("[data-ready='1']", "data-ready-ms")
            times.append(float(ms))
            ctx.close()
        browser.close()
    return times


def static_render(url: str, runs: int = 3) -> list[float]:
    from maps.static import render_static

    eng = create_engine(url)
    out = []
    with eng.connect() as c:
        for _ in range(runs):
            t0 = time.perf_counter()
            # the app passes the basemap's data version: the second image of the
            # same area reuses the drawn basemap
            img = render_static(c, region=LISHUI, url="http://127.0.0.1/maps/resident",
                                basemap_version="bench")
            out.append(time.perf_counter() - t0)
    eng.dispose()
    print(f"  static image: {img.width}×{img.height} px, {len(img.data) / 1024:.0f} KiB")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=int, default=40, help="distinct tiles per layer")
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()

    print("==> preparing the database (Lishui sample, 10-minute circles) ...", flush=True)
    url, cluster = prepare_database()
    eng = create_engine(url)
    with eng.connect() as c:
        bbox = c.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                              "(SELECT ST_Extent(geom) AS e FROM service_points "
                              "WHERE starts_with(region_code, :r)) s"), {"r": LISHUI}).one()
    eng.dispose()
    tiles = tiles_over(tuple(bbox), args.tiles)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {"tiles_per_layer": len(tiles)}
    proc = start_server(url, port)
    try:
        rows = []
        with httpx.Client(timeout=30) as client:
            for layer, fmt in (("points", "mvt"), ("circles", "mvt"), ("roads", "mvt"),
                               ("compounds", "mvt"), ("basemap", "png"), ("circles", "png")):
                cold = time_tiles(client, base, layer, fmt, tiles)
                warm = time_tiles(client, base, layer, fmt, tiles)
                rows.append((f"{layer}.{fmt}", cold, warm))
            weight = page_weight(client, base)
        print(f"\n{'tile':<16}{'cold p50':>10}{'cold p99':>10}{'warm p50':>10}{'warm p99':>10}"
              "   (ms, sequential, one client)")
        for name, cold, warm in rows:
            print(f"{name:<16}{pct(cold, 50):>10.1f}{pct(cold, 99):>10.1f}"
                  f"{pct(warm, 50):>10.2f}{pct(warm, 99):>10.2f}")
            results[name] = {"cold_p50_ms": pct(cold, 50), "cold_p99_ms": pct(cold, 99),
                             "warm_p50_ms": pct(warm, 50), "warm_p99_ms": pct(warm, 99)}
        mvt_cold = [v for name, cold, _ in rows if name.endswith(".mvt") for v in cold]
        results["mvt_cold_p50_ms"] = pct(mvt_cold, 50)
        t = tiles[len(tiles) // 2]
        print(f"\n==> wrk, 50 connections, {args.wrk_seconds} s, one warm tile each ...",
              flush=True)
        for layer, fmt in (("points", "mvt"), ("basemap", "png")):
            rps = run_wrk(f"{base}/tiles/{layer}/{t.z}/{t.x}/{t.y}.{fmt}", args.wrk_seconds)
            results[f"wrk_{layer}_{fmt}_rps"] = rps
            print(f"  warm {layer}.{fmt}: {rps:,.0f} req/s" if rps else "  wrk not installed")
        print("\n==> resident page in Chromium (360×640, cold cache) ...", flush=True)
        loads = page_load(base)
        results["page"] = {**weight, "ready_ms_median": statistics.median(loads),
                           "ready_ms_runs": loads}
        print(f"  HTML {weight['html_bytes'] / 1024:.0f} KiB; with {weight['assets']} assets "
              f"{weight['total_bytes'] / 1024:.0f} KiB ({weight['total_gzip_bytes'] / 1024:.0f}"
              f" KiB gzip); interactive after {statistics.median(loads):.0f} ms (median of "
              f"{len(loads)}: {', '.join(f'{x:.0f}' for x in loads)})")
    finally:
        proc.terminate()
        proc.wait(10)
    print("\n==> static article image (render in process) ...", flush=True)
    st = static_render(url)
    results["static_s"] = {"first": st[0], "best_later": min(st[1:]),
                           "median_later": statistics.median(st[1:])}
    print(f"  first (basemap drawn) {st[0]:.2f} s; later (basemap reused) best "
          f"{min(st[1:]):.2f} s, median {statistics.median(st[1:]):.2f} s")

    print("\nGoals: warm tile ≥ 1,000 req/s: "
          f"{results.get('wrk_points_mvt_rps') or 0:,.0f} req/s; cold MVT p50 < 30 ms: "
          f"{results['mvt_cold_p50_ms']:.1f} ms; static image < 1 s: {st[0]:.2f} s first, "
          f"{min(st[1:]):.2f} s later; "
          f"resident page < 1.5 s: {results['page']['ready_ms_median'] / 1000:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if cluster is not None:
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
