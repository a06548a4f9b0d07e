"""What a province batch will do: its towns, each with the box its walking network
is cut to (the town and its halo), the neighbours whose circles reach into it, and
how much memory the run needs (refused before it starts when it does not fit)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.circles.params import budget_for, profile_key
from geo.errors import InvalidInput, NotFound, Problem

__all__ = ["BatchParams", "MemoryEstimate", "TownTask", "available_memory", "check_memory",
           "estimate_memory", "grow_bbox", "plan_towns"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class BatchParams:
    """What a batch computes for every town: circles of ``minutes`` for
    ``profile``, the coverage of those circles (``rule``: building and compound
    rules of :class:`geo.coverage.CoverageParams`) and the walking time from every
    home to the nearest position; the network reaches ``halo_m`` past the town."""

    minutes: float = 10.0
    profile: str = "elderly"
    building_rule: str = "centroid"
    compound_rule: str = "population_share"
    halo_m: float = 2000.0
    walk: bool = True

    def budget_m(self) -> float:
        return budget_for(self.profile, self.minutes, None).metres

    def tag(self) -> str:
        """The parameters as stored with every result (``batch_results.params``)."""
        key = profile_key(budget_for(self.profile, self.minutes, None))
        return (f"{self.minutes:g}min:{key}:{self.building_rule}/{self.compound_rule}:"
                f"halo{self.halo_m:g}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TownTask:
    """One town of a batch (everything a worker needs besides the database)."""

    code: str
    name: str
    bbox: Box  # the town's envelope, WGS-84
    halo: Box  # the envelope grown by the halo: where its network is cut
    neighbours: tuple[str, ...] = ()  # other towns whose circles may reach into it
    points: int = 0
    buildings: int = 0
    edges: int = 0  # network edges inside the halo
    datasets: tuple[str, ...] = field(default=())


def grow_bbox(b: Box, metres: float) -> Box:
    """A WGS-84 envelope grown by ``metres`` on every side."""
    lat = (b[1] + b[3]) / 2
    dy = metres / 111_320.0
    dx = metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.1))
    return (b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9})$")


def plan_towns(conn: Connection, prefix: str, params: BatchParams) -> list[TownTask]:
    """The towns (level ``town``) whose code starts with ``prefix``, with their
    boundaries, halos, neighbours and sizes, sorted by code.

    Raises
    ------
    InvalidInput
        A prefix that is not 2, 4, 6 or 9 digits.
    NotFound
        No town with a boundary under the prefix.
    """
    prefix = (prefix or "").strip()
    if not _PREFIX.match(prefix):
        raise InvalidInput(f"区划代码前缀 {prefix!r} 无效", [Problem(
            "区划代码前缀应为 2 位（省）、4 位（市）、6 位（区县）或 9 位（镇街）数字",
            column="region", value=prefix, expected="如 44、4406、440605、440605126")])
    rows = conn.execute(text("""
        SELECT code, name, ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1,
               ST_YMax(e) AS y1
        FROM (SELECT code, name, ST_Envelope(geom) AS e FROM regions
              WHERE level = 'town' AND geom IS NOT NULL AND code LIKE :p || '%') t
        ORDER BY code"""), {"p": prefix}).all()
    if not rows:
        known = conn.execute(text(
            "SELECT count(*) FROM regions WHERE level = 'town' AND geom IS NOT NULL")
        ).scalar_one()
        raise NotFound(f"没有区划代码以 {prefix} 开头的镇街（数据库中共有 {known} 个有边界的镇街；"
                       "先用 `servicemap province load --region <前缀>` 生成，或导入数据）")
    reach = params.budget_m() + 500.0
    boxes = {r.code: (r.x0, r.y0, r.x1, r.y1) for r in rows}
    # neighbours from every town of the database, not only the prefix's: a town at
    # a county border is reached by the circles of the next county's towns too
    others = conn.execute(text("""
        SELECT code, ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
        FROM (SELECT code, ST_Envelope(geom) AS e FROM regions
              WHERE level = 'town' AND geom IS NOT NULL) t""")).all()
    all_boxes = {r.code: (r.x0, r.y0, r.x1, r.y1) for r in others}
    tasks = []
    for r in rows:
        box = boxes[r.code]
        grown = grow_bbox(box, reach)
        neighbours = tuple(sorted(c for c, b in all_boxes.items()
                                  if c != r.code and _overlaps(grown, b)))
        halo = grow_bbox(box, max(params.halo_m, reach))
        env = {"t": r.code, "x0": halo[0], "y0": halo[1], "x1": halo[2], "y1": halo[3],
               "b0": box[0], "b1": box[1], "b2": box[2], "b3": box[3]}
        sizes = conn.execute(text("""
            SELECT
              (SELECT count(*) FROM service_points WHERE deleted_at IS NULL
                 AND region_code LIKE :t || '%') AS points,
              (SELECT count(*) FROM buildings WHERE deleted_at IS NULL
                 AND geom && ST_MakeEnvelope(:b0, :b1, :b2, :b3, 4326)) AS buildings,
              (SELECT count(*) FROM network_edges
                 WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)) AS edges,
              (SELECT array_agg(DISTINCT dataset ORDER BY dataset) FROM network_edges
                 WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)) AS datasets"""),
            env).first()
        tasks.append(TownTask(code=r.code, name=r.name, bbox=box, halo=halo,
                              neighbours=neighbours, points=int(sizes.points),
                              buildings=int(sizes.buildings), edges=int(sizes.edges),
                              datasets=tuple(sizes.datasets or ())))
    return tasks


# -- memory -------------------------------------------------------------------------------------

#: Resident memory of a worker process before its first town (Python, NumPy,
#: Shapely, GeoPandas, numba's compiled kernels, SQLAlchemy), bytes; and what a
#: town adds per building, per network edge of its halo and per position.
#: Measured with ``bench/province.py`` (VmHWM of the workers, a prefecture at
#: scale 1.0), rounded up; see docs/performance.md.
WORKER_BASE_BYTES = 420 * 2**20
BYTES_PER_BUILDING = 2_600
BYTES_PER_EDGE = 6_000
BYTES_PER_POINT = 60_000


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory a run plans for: ``workers`` processes each holding the
    largest town (buildings, its halo's network, its positions' circles)."""

    workers: int
    largest_town: str
    per_worker_bytes: int
    total_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def estimate_memory(tasks: list[TownTask], workers: int) -> MemoryEstimate:
    """Peak memory of a batch of ``tasks`` on ``workers`` processes (see the
    constants above)."""
    def need(t: TownTask) -> int:
        return (WORKER_BASE_BYTES + BYTES_PER_BUILDING * t.buildings
                + BYTES_PER_EDGE * t.edges + BYTES_PER_POINT * t.points)
    largest = max(tasks, key=need)
    per = need(largest)
    n = max(1, min(workers, len(tasks)))
    return MemoryEstimate(workers=n, largest_town=f"{largest.code} {largest.name}",
                          per_worker_bytes=per, total_bytes=per * n)


def available_memory() -> int:
    """Memory available to new processes on this machine (``MemAvailable``), bytes."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def check_memory(estimate: MemoryEstimate, *, fraction: float,
                 available: int | None = None) -> None:
    """Refuse (before anything starts) a run whose estimate exceeds ``fraction``
    of the available memory; the message gives the size it needs.

    Raises
    ------
    InvalidInput
        The estimate does not fit.
    """
    have = available_memory() if available is None else available
    budget = int(have * fraction)
    if estimate.total_bytes <= budget:
        return
    raise InvalidInput(
        f"内存不足：按估算需要约 {_gb(estimate.total_bytes)}（{estimate.workers} 个进程，"
        f"每个约 {_gb(estimate.per_worker_bytes)}，最大的镇街 {estimate.largest_town}），"
        f"本机可用 {_gb(have)} 的 {fraction:.0%} 即 {_gb(budget)}；"
        "请减少 --workers、按区县分批运行，或连接集群（SERVICEMAP_DASK_SCHEDULER）",
        [Problem("估算所需内存超过本机可用内存", column="workers", value=str(estimate.workers),
                 expected=f"不超过 {_gb(budget)}")])
