"""How many threads each training of a launcher on this machine gets.

Where several trainings share one machine (a local Dask cluster, Parsl's ``provider:
local``), a CPU training that takes every core for itself slows all the others: DeePMD-kit
leaves TensorFlow's pools at 0 (all cores), OpenMP and the BLAS libraries take all cores
too.  So each training gets the cores shared out among the evaluations run at once,
unless the environment hpo-run was started in sets a count, which is the user's.
"""

from __future__ import annotations

import os

#: numerical libraries' thread counts (distributed's nannies set them to 1 in every worker
#: process, ``distributed.nanny.pre-spawn-environ``, and the trainings inherit that)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: TensorFlow's pools as DeePMD-kit sets them (each with the alias it also reads), which
#: it leaves at 0, all cores, when unset: two trainings on 2 cores ran 2 x 2 intra-op
#: threads and more (a review saw "Num Intra Threads: 0" in the paper spec's trainings),
#: and their recorded runtimes, which Table 3 ranks, came out slow and noisy.  Intra-op:
#: the cores shared out, as OpenMP's; inter-op: 1, so that, as DeePMD-kit's advice has it,
#: the product of the counts stays within the cores.
TENSORFLOW_POOLS = {"DP_INTRA_OP_PARALLELISM_THREADS": "TF_INTRA_OP_PARALLELISM_THREADS",
                    "DP_INTER_OP_PARALLELISM_THREADS": "TF_INTER_OP_PARALLELISM_THREADS"}
#: their values as hpo-run was started (a Dask nanny later writes its own into this process)
_STARTED_WITH = {name: os.environ[name] for name in (*THREAD_VARIABLES, *TENSORFLOW_POOLS,
                                                     *TENSORFLOW_POOLS.values()) if name in os.environ}


def this_machines_cores() -> int:
    """The cores this process may run on (a job's or taskset's share, not the node's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def training_threads(slots: int, cores: int | None = None) -> dict[str, str]:
    """The thread counts each training gets where ``slots`` run at once on this machine's
    ``cores`` (default: :func:`this_machines_cores`):
    the environment's where it sets them, else the cores shared out (at least one each),
    TensorFlow's inter-op pool 1.  A DeePMD-kit variable the environment sets (or its
    alias) is inherited, not set here.  The OpenMP and BLAS counts come back even where
    the environment sets them, since a Dask nanny overwrites them with 1."""
    share = str(max(1, (cores or this_machines_cores()) // slots))
    counts = {name: _STARTED_WITH.get(name, share) for name in THREAD_VARIABLES}
    pools = {"DP_INTRA_OP_PARALLELISM_THREADS": share, "DP_INTER_OP_PARALLELISM_THREADS": "1"}
    return {**counts, **{name: count for name, count in pools.items()
                         if name not in _STARTED_WITH and TENSORFLOW_POOLS[name] not in _STARTED_WITH}}
