"""Benchmark: validated imports vs a plain ``GeoDataFrame.to_postgis`` load of the same rows.

Two workloads, each measured in the same run against the same database:

* **100,000 buildings from a GeoPackage** (CGCS2000 geographic, EPSG:4490; each
  building references one of 1,000 compounds);
* **10,000 service points from an XLSX sheet** (title row, Chinese headers,
  GCJ-02 coordinates, kinds, villages by name, opening hours, services).

For each workload:

``plain``
    ``geopandas.read_file`` / ``pandas.read_excel`` + ``points_from_xy``, then
    ``GeoDataFrame.to_postgis(..., if_exists="replace")`` into a fresh table
    (GeoPandas writes with COPY): no validation, no conversion, no upsert.
``import``
    :func:`geo.io.importer.import_file` into the real table (empty before each
    run): reading, column mapping, validation, GCJ-02 -> WGS-84, region and
    compound look-ups, staging COPY, ``INSERT ... ON CONFLICT`` upsert, audit.
``reimport``
    The same import again (every row unchanged), for information.

Each measurement runs in a child process (the same modules imported up front,
the database connection opened) whose peak resident memory is reset just
before the work (``/proc/self/clear_refs``) and read after it (``VmHWM``); the
time covers reading the file to the commit.  The median of ``--repeat`` runs is reported,
with the ratio import/plain.  Goal: ratio <= 2.

Usage::

    .venv/bin/python bench/imports.py [--repeat 3] [--buildings 100000] [--points 10000]

Uses ``SERVICEMAP_DATABASE_URL`` when set (a scratch database: the benchmark
empties its tables), else a throwaway local cluster under a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BBOX = (113.05, 23.10, 113.30, 23.30)  # around Lishui, degrees


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# child: one measurement
# --------------------------------------------------------------------------
def child(task: str, url: str, path: str) -> None:
    import geopandas as gpd
    import pandas as pd
    from sqlalchemy import create_engine

    from geo.io.importer import ImportOptions, import_file

    engine = create_engine(url)
    with engine.connect() as c:  # connect before timing, like a warm server
        c.exec_driver_sql("SELECT 1")
    rss0 = _status_mb("VmRSS")
    reset = _reset_peak()
    t0 = time.perf_counter()
    out: dict = {}
    if task == "plain-buildings":
        gdf = gpd.read_file(path)
        gdf.to_postgis("bench_plain_buildings", engine, if_exists="replace", index=False)
        out["rows"] = len(gdf)
    elif task == "plain-points":
        df = pd.read_excel(path, header=1)
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["经度"], df["纬度"]), crs=4326)
        gdf.to_postgis("bench_plain_points", engine, if_exists="replace", index=False)
        out["rows"] = len(gdf)
    elif task in ("import-buildings", "reimport-buildings"):
        with engine.connect() as conn:
            rep = import_file(conn, "buildings", path, options=ImportOptions(actor="bench"))
        out.update(rows=rep.rows_read, inserted=rep.inserted, unchanged=rep.unchanged)
    elif task in ("import-points", "reimport-points"):
        with engine.connect() as conn:
            rep = import_file(conn, "points", path,
                              options=ImportOptions(crs="gcj02", actor="bench"))
        out.update(rows=rep.rows_read, inserted=rep.inserted, unchanged=rep.unchanged,
                   warnings=len(rep.warnings))
    else:
        raise SystemExit(f"unknown task {task}")
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = _status_mb("VmHWM") if reset else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_before_mb"] = rss0
    engine.dispose()
    print(json.dumps(out))


def run_child(task: str, url: str, path: Path) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", task, "--url", url,
                        "--file", str(path)], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"{task} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def make_data(workdir: Path, url: str, n_buildings: int, n_points: int) -> tuple[Path, Path]:
    import geopandas as gpd
    import numpy as np
    import openpyxl
    import pyogrio
    import shapely
    from sqlalchemy import create_engine, text

    from geo import crs as crsmod
    from geo.store.copy import copy_rows, ewkb_hex

    rng = np.random.default_rng(20261122)
    x0, y0, x1, y1 = BBOX
    engine = create_engine(url)
    # 20 villages in a 5 x 4 grid, one town; 1,000 compounds
    villages = []
    for i in range(20):
        cx, cy = i % 5, i // 5
        w, h = (x1 - x0) / 5, (y1 - y0) / 4
        villages.append((f"440605126{i + 1:03d}", f"测试{i + 1}村委会",
                         shapely.box(x0 + cx * w, y0 + cy * h, x0 + (cx + 1) * w,
                                     y0 + (cy + 1) * h)))
    comp_xy = np.column_stack([rng.uniform(x0, x1, 1000), rng.uniform(y0, y1, 1000)])
    with engine.begin() as conn:
        for t in ("buildings", "service_points", "compounds", "regions"):
            conn.execute(text(f"DELETE FROM {t}"))
        conn.execute(text("INSERT INTO regions (code, name, level, geom) VALUES ('440605126', "
                          "'里水镇', 'town', ST_Multi(ST_MakeEnvelope(:a, :b, :c, :d, 4326)))"),
                     {"a": x0, "b": y0, "c": x1, "d": y1})
        for code, name, g in villages:
            conn.execute(text("INSERT INTO regions (code, name, level, parent_code, geom) VALUES "
                              "(:c, :n, 'village', '440605126', "
                              "ST_GeomFromEWKB(decode(:g, 'hex')))"),
                         {"c": code, "n": name, "g": ewkb_hex([g], multi=True)[0]})
        polys = [shapely.box(x - 0.002, y - 0.002, x + 0.002, y + 0.002) for x, y in comp_xy]
        copy_rows(conn, "compounds",
                  ["code", "name", "households", "population", "geom"],
                  ((f"C{i:04d}", f"小区{i}", 0, 0, g) for i, g in
                   enumerate(ewkb_hex(polys, multi=True))))
    engine.dispose()
    # buildings: small rectangles near their compound, 5-9 vertices rings
    k = rng.integers(0, 1000, n_buildings)
    cx = comp_xy[k, 0] + rng.uniform(-0.0015, 0.0015, n_buildings)
    cy = comp_xy[k, 1] + rng.uniform(-0.0015, 0.0015, n_buildings)
    dx = rng.uniform(0.00008, 0.0002, n_buildings)
    dy = rng.uniform(0.00008, 0.0002, n_buildings)
    geoms = shapely.box(cx - dx, cy - dy, cx + dx, cy + dy)
    gdf = gpd.GeoDataFrame({"楼栋编码": [f"B{i:06d}" for i in range(n_buildings)],
                            "所属小区": [f"C{j:04d}" for j in k],
                            "户数": rng.integers(10, 200, n_buildings),
                            "人口": rng.integers(20, 600, n_buildings)},
                           geometry=geoms, crs=4490)
    gpkg = workdir / "buildings.gpkg"
    pyogrio.write_dataframe(gdf, gpkg, layer="buildings")
    # points: GCJ-02, town sheet layout with a title row
    px = rng.uniform(x0 + 0.001, x1 - 0.001, n_points)
    py = rng.uniform(y0 + 0.001, y1 - 0.001, n_points)
    gx, gy = crsmod.wgs84_to_gcj02(px, py)
    col = ((px - x0) // ((x1 - x0) / 5)).astype(int)
    row = ((py - y0) // ((y1 - y0) / 4)).astype(int)
    village = [villages[r * 5 + c] for r, c in zip(row, col, strict=True)]
    kinds = ["党群服务站", "村居党群服务中心", "新时代文明实践所", "行政服务中心"]
    hours = ["周一至周五 9:00-12:00 14:30-17:30", "每天09:00-21:00",
             "周二至周日 9:00-17:00，周一闭馆"]
    services = ["党务、政务", "居家养老、志愿服务", "文化，儿童托管"]
    wb = openpyxl.Workbook()  # shared strings, like files saved by Excel/WPS
    ws = wb.active
    ws.title = "阵地清单"
    ws.append(["里水镇党群服务阵地一览表"])
    ws.append(["编码", "名称", "类型", "所属村居", "地址", "经度", "纬度", "开放时间", "服务内容",
               "联系电话", "功能室数量", "面积"])
    for i in range(n_points):
        ws.append([f"P{i:05d}", f"服务点{i}", kinds[i % 4], village[i][1], f"测试路{i}号",
                   float(gx[i]), float(gy[i]), hours[i % 3], services[i % 3],
                   f"0757-8{i:07d}", 1 + i % 8, 50.0 + i % 300])
    xlsx = workdir / "points.xlsx"
    wb.save(xlsx)
    return gpkg, xlsx


def reset(url: str, table: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DROP TABLE IF EXISTS bench_plain_buildings, bench_plain_points"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f"VACUUM ANALYZE {table}")
    engine.dispose()


# --------------------------------------------------------------------------
# database
# --------------------------------------------------------------------------
def database(tmp: Path) -> tuple[str, object | None]:
    from geo.store.migrate import upgrade

    url = os.environ.get("SERVICEMAP_DATABASE_URL")
    cluster = None
    if not url:
        from geo.store.cluster import LocalCluster, ensure_extensions

        cluster = LocalCluster(tmp / "pg", db_name="servicemap_bench", log=lambda m: None)
        cluster.start()
        url = cluster.url()
        ensure_extensions(url)
    upgrade(url)
    return url, cluster


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--child")
    ap.add_argument("--url")
    ap.add_argument("--file")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.url, args.file)
        return 0
    with tempfile.TemporaryDirectory(prefix="servicemap-bench-") as tmp_s:
        tmp = Path(tmp_s)
        url, cluster = database(tmp)
        try:
            t0 = time.perf_counter()
            gpkg, xlsx = make_data(tmp, url, args.buildings, args.points)
            print(f"data: {args.buildings:,} buildings ({gpkg.stat().st_size / 1e6:.1f} MB GPKG), "
                  f"{args.points:,} points ({xlsx.stat().st_size / 1e6:.1f} MB XLSX) "
                  f"in {time.perf_counter() - t0:.1f} s", flush=True)
            results: dict[str, list[dict]] = {}
            plan = [("buildings", gpkg, "buildings"), ("points", xlsx, "service_points")]
            for what, path, table in plan:
                for _ in range(args.repeat):
                    reset(url, table)
                    results.setdefault(f"plain-{what}", []).append(
                        run_child(f"plain-{what}", url, path))
                    reset(url, table)
                    results.setdefault(f"import-{what}", []).append(
                        run_child(f"import-{what}", url, path))
                    results.setdefault(f"reimport-{what}", []).append(
                        run_child(f"reimport-{what}", url, path))
            summary = report(results, args)
            if args.json:
                Path(args.json).write_text(json.dumps(summary, indent=2))
        finally:
            if cluster is not None:
                cluster.destroy()
    return 0


def report(results: dict[str, list[dict]], args) -> dict:
    def med(task: str, key: str) -> float:
        return statistics.median(r[key] for r in results[task])

    print()
    print(f"median of {args.repeat} runs; peak RSS = the measuring process's peak resident set "
          "during the work (VmHWM reset before it; RSS before the work in brackets)")
    print("| workload | variant | rows | time (s) | peak RSS (MB) | ratio vs plain |")
    print("|---|---|---:|---:|---:|---:|")
    summary: dict = {}
    for what in ("buildings", "points"):
        plain_t = med(f"plain-{what}", "seconds")
        plain_m = med(f"plain-{what}", "peak_rss_mb")
        for variant in ("plain", "import", "reimport"):
            task = f"{variant}-{what}"
            t = med(task, "seconds")
            m = med(task, "peak_rss_mb")
            before = med(task, "rss_before_mb")
            rows = results[task][0]["rows"]
            ratio = t / plain_t
            print(f"| {what} | {variant} | {rows:,} | {t:.2f} | {m:.0f} ({before:.0f}) | "
                  f"{ratio:.2f}x time, {m / plain_m:.2f}x memory |")
            summary[task] = {"seconds": t, "peak_rss_mb": m, "rss_before_mb": before,
                             "rows": rows, "time_ratio": ratio, "memory_ratio": m / plain_m,
                             "runs": results[task]}
    ok = all(summary[f"import-{w}"]["time_ratio"] <= 2.0 for w in ("buildings", "points"))
    print(f"\ngoal (validated import <= 2x plain load): {'met' if ok else 'NOT met'}")
    return summary


if __name__ == "__main__":
    sys.exit(main())
