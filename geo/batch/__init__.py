"""Province-wide batch analytics: every town's service circles, coverage and
walking time from every home, as tasks per town on Dask distributed (or in one
process), written to PostGIS (``service_circles``, ``batch_results``).

Modules
    ``plan``   the towns of a division-code prefix with their halos and neighbours,
               the memory estimate and the refusal when it does not fit
    ``tasks``  one town's circles and results (idempotent, one transaction each);
               :func:`refresh_point` after one position changed
    ``run``    :func:`run_batch` on a ``LocalCluster``, a scheduler, or one process
"""

from geo.batch.plan import (
    BatchParams,
    MemoryEstimate,
    TownTask,
    available_memory,
    check_memory,
    estimate_memory,
    plan_towns,
)
from geo.batch.run import BatchRun, connect, run_batch
from geo.batch.tasks import halo_networks, refresh_point, town_circles, town_results

__all__ = [
    "BatchParams",
    "BatchRun",
    "MemoryEstimate",
    "TownTask",
    "available_memory",
    "check_memory",
    "connect",
    "estimate_memory",
    "halo_networks",
    "plan_towns",
    "refresh_point",
    "run_batch",
    "town_circles",
    "town_results",
]
