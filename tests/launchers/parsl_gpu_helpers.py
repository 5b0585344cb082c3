"""Test-only callables for the ``function`` trainer that report what Parsl gave their worker.

Importable by Parsl's workers because the launcher tests put ``tests/launchers`` on their
PYTHONPATH (the ``worker_env`` fixture).  Nothing here is shipped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping


def visible_devices(params: Mapping[str, float]) -> tuple[float, float]:
    """(CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES) of this worker as numbers, after a nap
    (so that both workers of a pool are busy at once), -1 for a variable that is not set."""
    time.sleep(float(os.environ.get("HPO_TEST_SLEEP", "1.0")))
    return tuple(float(os.environ.get(name, "-1")) for name in ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"))


#: what a job step launcher sets in each task it starts: JSM's jsrun, Slurm's srun (and
#: their stand-ins in tests/standins)
STEP_VARIABLES = ("JSM_NAMESPACE_RANK", "SLURM_PROCID")


def in_step_zdt1(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1, refusing (a failed evaluation) unless this worker runs inside a jsrun or srun
    step: a training run directly in the worker pool's own step, with no launch_prefix."""
    from dnnp_hpo.problems import zdt1

    if not any(name in os.environ for name in STEP_VARIABLES):
        raise RuntimeError(f"not inside a job step: none of {', '.join(STEP_VARIABLES)} is set")
    return zdt1(params)
