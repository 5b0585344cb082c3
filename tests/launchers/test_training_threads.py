"""Trainings on this machine get its cores shared out, not Dask's one thread nor all of them.

distributed's nannies set OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to 1
in every worker, over the user's own values: a CPU training (Torch, NumPy) ran on one
core of the machine with one worker, and differently from Parsl (a review's).  Now each
training gets the cores shared out among the evaluations that run at once, unless the
environment hpo-run was started in sets a count.  Real hpo-run, real local Dask.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import hpo_launcher_helpers as helpers
from launchers_testutil import VENV_BIN, write_spec

from dnnp_hpo.plugins.launchers.training_threads import TENSORFLOW_POOLS, THREAD_VARIABLES


def test_each_training_gets_the_cores_or_the_users_thread_count(tmp_path: Path, worker_env) -> None:
    noted = tmp_path / "threads.jsonl"
    spec = write_spec(tmp_path / "threads.yaml", pop_size=2, generations=0,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:threads_zdt1"},
                      launcher={"plugin": "dask", "workers": 1})
    env = {**worker_env, helpers.THREADS_VARIABLE: str(noted), "OMP_NUM_THREADS": "7"}
    for name in ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", *TENSORFLOW_POOLS, *TENSORFLOW_POOLS.values()):
        env.pop(name, None)
    done = subprocess.run([str(VENV_BIN / "hpo-run"), str(spec)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    cores = str(len(os.sched_getaffinity(0)))  # one worker: all of them
    seen = [json.loads(line) for line in noted.read_text().splitlines()]
    assert seen == [{"OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": cores, "OPENBLAS_NUM_THREADS": cores,
                     "DP_INTRA_OP_PARALLELISM_THREADS": cores, "DP_INTER_OP_PARALLELISM_THREADS": "1",
                     "TF_INTER_OP_PARALLELISM_THREADS": None}] * 2, seen


def test_tensorflow_s_pools_are_shared_out_too_unless_set(tmp_path: Path, worker_env) -> None:
    """DeePMD-kit leaves TensorFlow's intra- and inter-op pools at 0, all cores, unless
    DP_INTRA/INTER_OP_PARALLELISM_THREADS (or their TF_ aliases) say otherwise: two
    trainings on 2 cores ran at least twice the threads there are cores (a review's: "Num
    Intra Threads: 0").  Two workers on this machine's cores: each gets its share, and a
    count the user set, by either name, is left to them."""
    noted = tmp_path / "threads.jsonl"
    spec = write_spec(tmp_path / "threads.yaml", pop_size=2, generations=0,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:threads_zdt1"},
                      launcher={"plugin": "dask", "workers": 2})
    env = {**worker_env, helpers.THREADS_VARIABLE: str(noted), "TF_INTER_OP_PARALLELISM_THREADS": "3"}
    for name in ("DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS",
                 "TF_INTRA_OP_PARALLELISM_THREADS"):
        env.pop(name, None)
    done = subprocess.run([str(VENV_BIN / "hpo-run"), str(spec)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    seen = [json.loads(line) for line in noted.read_text().splitlines()]
    assert [(s["DP_INTRA_OP_PARALLELISM_THREADS"], s["DP_INTER_OP_PARALLELISM_THREADS"],
             s["TF_INTER_OP_PARALLELISM_THREADS"]) for s in seen] == [(share, None, "3")] * 2, seen


def _threads_seen(tmp_path: Path, worker_env: dict[str, str], launcher: dict, set_here: dict[str, str]) -> list:
    """Each training's thread variables in a real hpo-run of two evaluations on
    ``launcher``, started in the environment with ``set_here`` and no other such count."""
    noted = tmp_path / "threads.jsonl"
    spec = write_spec(tmp_path / "threads.yaml", pop_size=2, generations=0,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:threads_zdt1"},
                      launcher=launcher)
    env = {name: value for name, value in worker_env.items()
           if name not in (*THREAD_VARIABLES, *TENSORFLOW_POOLS, *TENSORFLOW_POOLS.values())}
    env.update({helpers.THREADS_VARIABLE: str(noted), **set_here})
    done = subprocess.run([str(VENV_BIN / "hpo-run"), str(spec)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in noted.read_text().splitlines()]


def test_parsl_on_this_machine_shares_the_cores_out_as_dask_does(tmp_path: Path, worker_env) -> None:
    """Parsl's local provider ran each training with every core for each of TensorFlow's
    pools (DeePMD-kit's 0) and OpenMP's, however many ran at once: two workers on 2 cores
    oversubscribed them as Dask's did before it shared them out.  Counts the environment
    sets stay the user's.  Real hpo-run, real Parsl (interchange, worker pool)."""
    seen = _threads_seen(tmp_path, worker_env, {"plugin": "parsl", "provider": "local", "workers_per_node": 2},
                         {"OMP_NUM_THREADS": "7", "TF_INTER_OP_PARALLELISM_THREADS": "3"})
    share = str(max(1, len(os.sched_getaffinity(0)) // min(2, os.cpu_count() or 1)))
    assert seen == [{"OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": share, "OPENBLAS_NUM_THREADS": share,
                     "DP_INTRA_OP_PARALLELISM_THREADS": share, "DP_INTER_OP_PARALLELISM_THREADS": None,
                     "TF_INTER_OP_PARALLELISM_THREADS": "3"}] * 2, seen


def test_parsl_shares_out_the_cores_it_is_told_it_has(tmp_path: Path, worker_env) -> None:
    """PARSL_CORES is the cores Parsl counts its workers by: the share is of them, not of
    this process's CPUs (4 told, 2 workers: 2 each, whatever this machine has)."""
    seen = _threads_seen(tmp_path, worker_env, {"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                                "launcher": "simple"}, {"PARSL_CORES": "4"})
    assert [(s["OMP_NUM_THREADS"], s["DP_INTRA_OP_PARALLELISM_THREADS"]) for s in seen] == [("2", "2")] * 2, seen


def test_parsl_with_a_block_cpu_affinity_sets_openmp_s_count_itself(tmp_path: Path, worker_env) -> None:
    """``cpu_affinity: block`` pins each worker to its share of the CPUs and Parsl sets
    OMP_NUM_THREADS to their number, over the environment's (docs/hpc.md says so); the
    other counts are shared out as without it."""
    seen = _threads_seen(tmp_path, worker_env, {"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                                "cpu_affinity": "block"}, {"OMP_NUM_THREADS": "7"})
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert [(s["OMP_NUM_THREADS"], s["MKL_NUM_THREADS"], s["DP_INTRA_OP_PARALLELISM_THREADS"]) for s in seen] == [
        (share, share, share)] * 2, seen


def test_parsl_with_listed_cpus_leaves_the_counts_to_each_worker_s_cpus(tmp_path: Path, worker_env) -> None:
    """A ``list:`` cpu_affinity gives each worker CPUs of its own, as many as the user
    listed: Parsl sets OMP_NUM_THREADS to their number (and TensorFlow counts them), so
    no share of the machine is set over it."""
    seen = _threads_seen(tmp_path, worker_env, {"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                                "cpu_affinity": "list:0:1"}, {})
    assert seen == [{"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None,
                     "DP_INTRA_OP_PARALLELISM_THREADS": None, "DP_INTER_OP_PARALLELISM_THREADS": None,
                     "TF_INTER_OP_PARALLELISM_THREADS": None}] * 2, seen
