"""Frontier's batch script (configs/slurm/frontier-dask.sbatch) and its WORKDIR.

The script runs on the allocation's first compute node, and the trainings write their
evaluation directories in WORKDIR from every node: a WORKDIR the script cannot write is
refused at once (exit 2, one line naming $MEMBERWORK) instead of every training failing,
and one under $HOME is warned about (NFS, not meant for job output) before the job goes on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from launchers_testutil import REPO, VENV_BIN

FRONTIER = REPO / "configs" / "slurm" / "frontier-dask.sbatch"


def _batch_env(worker_env: dict, tmp_path: Path, spec: Path, workdir: Path) -> dict:
    return {**{k: v for k, v in worker_env.items() if not k.startswith("DASK_")}, "DNNP_HPO_DIR": str(REPO),
            "SPEC": str(spec), "VENV": str(VENV_BIN.parent), "WORKDIR": str(workdir),
            "DASK_SCRATCH": str(tmp_path / "scratch"), "NODES": "2"}


def test_frontier_refuses_a_workdir_it_cannot_write(tmp_path: Path, worker_env) -> None:
    """The script runs on a compute node: a WORKDIR it cannot write, the trainings cannot either."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = _batch_env(worker_env, tmp_path, tmp_path / "spec.yaml", blocker / "job")
    done = subprocess.run(["bash", str(FRONTIER)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "cannot be written from the compute nodes" in done.stderr and "$MEMBERWORK" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_frontier_warns_about_a_workdir_in_home(tmp_path: Path, worker_env) -> None:
    home = tmp_path / "home"
    env = {**_batch_env(worker_env, tmp_path, tmp_path / "spec.yaml", home / "runs" / "x"), "HOME": str(home),
           "DASK_SCHEDULER_ARGS": "--no-such-option"}  # stop at the scheduler's start, after the check
    done = subprocess.run(["bash", str(FRONTIER)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, start_new_session=True, check=False)
    assert "warning: WORKDIR=" in done.stderr and "under your home directory" in done.stderr, done.stderr
    assert done.returncode == 3, done.stderr  # went on: the scheduler refused its argument
    assert "dask scheduler exited at start" in done.stderr
