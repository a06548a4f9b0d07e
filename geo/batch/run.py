"""Running a batch: every town's circles, then every town's coverage and walking
times, on Dask distributed (a ``LocalCluster`` by default, a scheduler's address
from the settings for a real cluster) or in this one process — the same tasks
(:mod:`geo.batch.tasks`) either way.

On Dask, a town's results wait only for the circle tasks of the town and of its
neighbours (whose circles reach into it), so towns flow through both steps
without a barrier. A worker that dies takes its running task with it; the
scheduler gives the task to another worker, and since every task is idempotent
and writes in one transaction, the run completes with the same results.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geo.batch.plan import (
    BatchParams,
    MemoryEstimate,
    TownTask,
    check_memory,
    estimate_memory,
    plan_towns,
)
from geo.batch.tasks import town_circles, town_results
from geo.errors import ConfigurationError

__all__ = ["BatchRun", "connect", "run_batch"]


@dataclass
class BatchRun:
    """What a batch did: its towns, where it ran, each task's summary, failures."""

    prefix: str
    mode: str  # "single", "local-cluster", or the scheduler's address
    workers: int
    towns: int
    estimate: MemoryEstimate
    circles: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def connect(scheduler: str, *, workers: int, timeout_s: float):
    """A ``distributed.Client``: on the scheduler at ``scheduler``, or on a new
    ``LocalCluster`` of ``workers`` one-thread processes when it is empty.
    Returns ``(client, cluster or None)``.

    Raises
    ------
    ConfigurationError
        The scheduler does not answer within ``timeout_s`` (one line; never hangs).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ConfigurationError("未安装 dask.distributed（pip install distributed）") from exc
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s"), None
        except (OSError, TimeoutError) as exc:
            raise ConfigurationError(
                f"无法连接 Dask 调度器 {scheduler}：{timeout_s:g} 秒内无应答"
                f"（{type(exc).__name__}）；"
                "请检查地址，或清空 SERVICEMAP_DASK_SCHEDULER 在本机运行，或加 --single 单进程运行"
            ) from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster, timeout=f"{max(timeout_s, 30):g}s"), cluster


def _line(done: int, total: int, r: dict[str, Any], names: dict[str, str]) -> str:
    town = f"{r['town']} {names.get(r['town'], '')}".strip()
    if r.get("step") == "circles":
        return (f"[{done}/{total}] 服务圈 {town}: {r['computed']} 个计算, {r['fresh']} 个已是最新"
                f" ({r['seconds']:.1f} s, {r['worker']})")
    pct = r.get("covered_pct")
    pct_text = f", 覆盖 {pct:.1f}% 建筑" if pct is not None else ""
    return (f"[{done}/{total}] 覆盖与步行 {town}: 覆盖 {r['coverage']}, 步行 {r['walk']}{pct_text}"
            f" ({r.get('seconds', 0):.1f} s, {r.get('worker', '')})")


def run_batch(url: str, prefix: str, params: BatchParams = BatchParams(), *,
              single: bool = False, workers: int = 2, scheduler: str = "",
              connect_timeout_s: float = 5.0, memory_fraction: float = 0.8,
              client: Any = None, log: Callable[[str], None] = print,
              engine: Any = None) -> BatchRun:
    """Circles, coverage and walking times of every town under ``prefix``.

    Parameters
    ----------
    url
        The database URL the tasks connect to (workers connect themselves).
    prefix
        Division code prefix: ``44`` (province), ``4406`` (a city), ``440605``
        (a county), a town's 9 digits.
    single
        Run the tasks here, one after another (no Dask).
    workers, scheduler, connect_timeout_s
        A ``LocalCluster`` of ``workers`` processes, or the scheduler at
        ``scheduler``; see :func:`connect`.
    memory_fraction
        Refuse before starting when the estimate exceeds this share of the
        available memory.
    client
        An existing ``distributed.Client`` to use (tests, notebooks).

    Raises
    ------
    InvalidInput, NotFound
        A malformed prefix, or one no town matches (:func:`plan_towns`); an
        estimate that does not fit (:func:`geo.batch.plan.check_memory`).
    ConfigurationError
        The scheduler does not answer.
    """
    from geo.store.engine import make_engine

    t0 = time.perf_counter()
    own = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.connect() as conn:
            tasks = plan_towns(conn, prefix, params)
    finally:
        if own:
            engine.dispose()
    n_workers = 1 if single else workers
    if client is not None:
        n_workers = len(client.scheduler_info().get("workers", {})) or workers
    estimate = estimate_memory(tasks, n_workers)
    if not scheduler or single:  # a remote cluster's memory is its own
        check_memory(estimate, fraction=memory_fraction)
    names = {t.code: t.name for t in tasks}
    mode = "single" if single else (scheduler or "local-cluster")
    run = BatchRun(prefix=prefix, mode=mode, workers=n_workers, towns=len(tasks),
                   estimate=estimate)
    log(f"批量计算 {prefix}: {len(tasks)} 个镇街, {sum(t.points for t in tasks)} 个阵地, "
        f"{sum(t.buildings for t in tasks)} 栋建筑; 运行方式 {mode}, {n_workers} 个进程; "
        f"预计内存 {estimate.total_bytes / 2**30:.1f} GB")
    if single:
        _run_single(url, tasks, params, run, names, log)
    else:
        _run_dask(url, tasks, params, run, names, log, client=client, scheduler=scheduler,
                  workers=workers, timeout_s=connect_timeout_s)
    run.seconds = time.perf_counter() - t0
    log(f"完成 {prefix}: {len(run.results)} 个镇街, 失败 {len(run.failed)} 个, "
        f"{run.seconds:.1f} s")
    return run


def _run_single(url: str, tasks: list[TownTask], params: BatchParams, run: BatchRun,
                names: dict[str, str], log: Callable[[str], None]) -> None:
    total = 2 * len(tasks)
    done = 0
    failed_circles: set[str] = set()
    for t in tasks:
        done += 1
        try:
            r = town_circles(url, t, params)
        except Exception as exc:  # noqa: BLE001 - reported per town, the run goes on
            failed_circles.add(t.code)
            run.failed.append({"town": t.code, "step": "circles", "error": str(exc)})
            continue
        run.circles.append(r)
        log(_line(done, total, r, names))
    for t in tasks:
        done += 1
        if failed_circles & {t.code, *t.neighbours}:
            run.failed.append({"town": t.code, "step": "results",
                               "error": "所依赖的服务圈计算失败"})
            continue
        try:
            r = town_results(url, t, params)
        except Exception as exc:  # noqa: BLE001
            run.failed.append({"town": t.code, "step": "results", "error": str(exc)})
            continue
        run.results.append(r)
        log(_line(done, total, r, names))


def _run_dask(url: str, tasks: list[TownTask], params: BatchParams, run: BatchRun,
              names: dict[str, str], log: Callable[[str], None], *, client: Any,
              scheduler: str, workers: int, timeout_s: float) -> None:
    from distributed import as_completed

    cluster = None
    if client is None:
        client, cluster = connect(scheduler, workers=workers, timeout_s=timeout_s)
    own_client = cluster is not None or bool(scheduler)
    try:
        tag = uuid.uuid4().hex[:8]
        circles = {t.code: client.submit(town_circles, url, t, params, pure=False,
                                         key=f"circles-{t.code}-{tag}") for t in tasks}
        results = [client.submit(town_results, url, t, params,
                                 *[circles[c] for c in (t.code, *t.neighbours) if c in circles],
                                 pure=False, key=f"results-{t.code}-{tag}") for t in tasks]
        total = 2 * len(tasks)
        done = 0
        by_key = {f.key: f for f in [*circles.values(), *results]}
        for fut in as_completed(list(by_key.values())):
            done += 1
            code = fut.key.split("-")[1]
            step = fut.key.split("-")[0]
            try:
                r = fut.result()
            except Exception as exc:  # noqa: BLE001 - reported per town
                run.failed.append({"town": code, "step": step, "error": str(exc).splitlines()[0]
                                   if str(exc) else type(exc).__name__})
                continue
            (run.circles if step == "circles" else run.results).append(r)
            log(_line(done, total, r, names))
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    run.circles.sort(key=lambda r: r["town"])
    run.results.sort(key=lambda r: r["town"])
