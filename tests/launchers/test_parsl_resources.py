"""The parsl launcher's per-worker resources and block lifetime, through real Parsl executors.

* ``available_accelerators``: each worker of a pool is pinned to its own device
  (CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES), as one training per GPU needs;
* ``cpu_affinity``, ``drain_period``, ``gpus_per_node`` reach Parsl;
* a provider and a job launcher that can never work together are refused at spec check;
* a block the scheduler refuses (a stand-in ``bsub`` that says why and exits 255) stops
  the run with the scheduler's own words in its one line, not only "did not return a job ID".
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_testutil import hpo_run
from launchers_testutil import (
    assert_every_evaluation_once,
    run_in_process,
    write_spec,
)

from dnnp_hpo.cli import main
from dnnp_hpo.plugins.launchers.parsl_launcher import ParslLauncher

DEVICES = {"plugin": "function", "callable": "parsl_gpu_helpers:visible_devices"}


def test_each_worker_gets_its_own_accelerator(tmp_path: Path, worker_env) -> None:
    """Two workers, ``available_accelerators: 2`` (workers_per_node left out: one per
    device): every evaluation saw exactly one device, the same id in CUDA_ and
    ROCR_VISIBLE_DEVICES, and the two workers saw different ones."""
    spec = write_spec(tmp_path / "gpus.yaml", pop_size=4, generations=0, trainer=DEVICES,
                      launcher={"plugin": "parsl", "provider": "local", "available_accelerators": 2,
                                "cores_per_worker": 0.5})
    run_dir = run_in_process(spec)
    rows = assert_every_evaluation_once(run_dir, 4)
    assert {r["status"] for r in rows} == {"ok"}, rows
    seen = [(float(r["f1"]), float(r["f2"])) for r in rows]
    assert all(cuda == rocr for cuda, rocr in seen), seen
    assert {cuda for cuda, _ in seen} == {0.0, 1.0}, f"the devices the evaluations saw: {seen}"
    # the worker pool was told both, and started two workers
    (script,) = (run_dir / "parsl").glob("*/submit_scripts/parsl.hpo_htex.block-0.*.sh")
    assert "--available-accelerators 0 1" in script.read_text()
    assert "--max_workers_per_node=2" in script.read_text()


def test_resources_reach_the_executor_and_the_provider(tmp_path: Path, standins) -> None:
    """What the spec says is what Parsl's HighThroughputExecutor and SlurmProvider get."""
    launcher = ParslLauncher(provider="slurm", available_accelerators=["4", "5", "2", "3"], cpu_affinity="Block",
                             drain_period=20_000, walltime="06:00:00", gpus_per_node=4, address="127.0.0.1")
    executor = launcher.build_config(SimpleNamespace(run_dir=tmp_path)).executors[0]
    assert executor.available_accelerators == ["4", "5", "2", "3"]
    assert executor.cpu_affinity == "block" and executor.drain_period == 20_000
    assert executor.max_workers_per_node == 4, "one worker per accelerator when workers_per_node is left out"
    assert "#SBATCH --gpus-per-node=4" in executor.provider.scheduler_options


def test_a_drained_pool_is_replaced_and_nothing_is_lost(tmp_path: Path, worker_env,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``drain_period: 3``: each pool takes evaluations for 3 s, finishes them and exits; Parsl
    starts a new block for the rest (a drained block is no failed one), and every
    evaluation is recorded once, trained."""
    monkeypatch.setenv("HPO_TEST_SLEEP", "1.0")
    spec = write_spec(tmp_path / "drain.yaml", pop_size=4, generations=1, trainer=DEVICES,
                      launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                "cores_per_worker": 0.5, "drain_period": 3, "block_failures": 1})
    run_dir = run_in_process(spec)
    rows = assert_every_evaluation_once(run_dir, 8)
    assert {r["status"] for r in rows} == {"ok"}, rows
    scripts = sorted((run_dir / "parsl").glob("*/submit_scripts/parsl.hpo_htex.block-*.sh"))
    assert "--drain_period=3 " in scripts[0].read_text()
    assert len(scripts) >= 2, "the drained pool was replaced by a new block"
    (interchange_log,) = (run_dir / "parsl").glob("*/hpo_htex/interchange.log")
    # Parsl logs both when the interchange sees the drain time first, only the second when
    # the pool has stopped taking tasks by itself (a race of its heartbeat)
    log = interchange_log.read_text()
    assert "has reached its drain time" in log or "is drained - telling manager to shutdown" in log


REFUSALS = {
    "bsub": ("lsf", {"project": "TST123"}, 255,
             ["You must specify a project with -P.", "Request aborted by esub. Job not submitted."]),
    "sbatch": ("slurm", {"account": "TST123"}, 1,
               [("sbatch: error: Batch job submission failed: Invalid account or account/partition "
                "combination specified")]),
}


@pytest.mark.parametrize("command", sorted(REFUSALS))
def test_a_block_the_scheduler_refuses_is_one_line_with_its_reason(command: str, tmp_path: Path, standins,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``bsub``/``sbatch`` that refuses every job (its words on stderr, a non-zero exit) put
    first on PATH, the other stand-ins behind it: hpo-run stops, exit 3, one line that says
    what the scheduler said, once for the blocks it refused, and where Parsl's log is.
    Before, LSF's refusal was only in that log: the line said 'did not return a job ID'."""
    provider, account, status, said = REFUSALS[command]
    refusing = tmp_path / "refusing-bin"
    refusing.mkdir()
    script = refusing / command
    script.write_text("#!/bin/sh\n" + "".join(f"echo {shlex.quote(line)} >&2\n" for line in said) + f"exit {status}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{refusing}{os.pathsep}{os.environ['PATH']}")
    spec = write_spec(tmp_path / "refused.yaml", pop_size=4, generations=0,
                      launcher={"plugin": "parsl", "provider": provider, "address": "127.0.0.1",
                                "walltime": "00:10:00", "block_failures": 2, **account})
    done = hpo_run(str(spec), timeout=180)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hpo-run: the engine was lost: launcher: Parsl gave the executor up (blocks 0, 1: "
                           f"failed to start: {command} refused the job (exit status {status}): {' '.join(said)}"), last
    assert last.count(said[0]) == 1, "said once for both blocks"
    log = re.search(r"Parsl's log: (\S+parsl\.log)\)", last)
    assert log and Path(log.group(1)).is_file() and Path(log.group(1)).is_relative_to(tmp_path / "run-refused")
    assert not standins.calls("jsrun") and not standins.calls("srun") and standins.live_jobs() == []


BAD = [
    ({"provider": "lsf", "launcher": "srun"}, ("launcher.launcher: launcher srun is Slurm's job step launcher and "
     "cannot start worker pools in the jobs of provider lsf, which takes launcher single_node, simple or jsrun")),
    ({"provider": "slurm", "launcher": "jsrun"}, ("launcher.launcher: launcher jsrun is IBM's job step launcher of "
     "LSF machines (JSM) and cannot start worker pools in the jobs of provider slurm, which takes launcher "
     "single_node, simple or srun")),
    ({"available_accelerators": 6, "workers_per_node": 1},
     "launcher.workers_per_node: workers_per_node (1) must be the number of available_accelerators (6)"),
    ({"available_accelerators": 0}, "launcher.available_accelerators: available_accelerators must be a count"),
    ({"available_accelerators": []}, "launcher.available_accelerators: available_accelerators must be a count"),
    ({"available_accelerators": "0 1"}, "launcher.available_accelerators: available_accelerators must be a count"),
    ({"available_accelerators": ["0; rm -rf ~"]}, "launcher.available_accelerators: available_accelerators must"),
    ({"cpu_affinity": "spread"}, ("launcher.cpu_affinity: cpu_affinity must be one of none, block, alternating, "
     "block-reverse or list:CPUS:CPUS...")),
    ({"workers_per_node": 2, "cpu_affinity": "list:0-3"},
     "launcher.cpu_affinity: cpu_affinity lists the CPUs of 1 worker(s), and a node runs 2"),
    ({"provider": "lsf", "walltime": "02:00:00", "drain_period": 7200},
     "launcher.drain_period: drain_period (7200 s) must be less than the walltime (02:00:00, 7200 s)"),
    ({"provider": "slurm", "drain_period": 600}, "launcher.drain_period: drain_period (600 s) must be less than the walltime (00:10:00"),
    ({"drain_period": 0}, "launcher.drain_period: drain_period must be at least 1, got 0"),
    ({"provider": "lsf", "gpus_per_node": 6}, "launcher.gpus_per_node: gpus_per_node is not a setting of provider lsf"),
]


@pytest.mark.parametrize(("block", "message"), BAD, ids=[m.split(": ", 1)[0] + repr(b) for b, m in BAD])
def test_a_bad_resource_or_combination_is_one_line_exit_2(block: dict, message: str, tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", **block})
    status = main([str(spec), "--dry-run"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"hpo-run: {spec}: {message}"), err
    assert not (tmp_path / "run-bad").exists()


def test_cpu_lists_for_more_workers_than_this_machine_starts_are_refused(tmp_path: Path, capsys,
                                                                         monkeypatch) -> None:
    """provider local: Parsl starts min(workers_per_node, cores / cores_per_worker) workers
    here; with 4 lists for the 2 it started on 2 cores, each worker raised at its start and
    the run waited for ever, nothing evaluated (helper-62's review)."""
    monkeypatch.setenv("PARSL_CORES", "2")  # as process_worker_pool reads the node's cores
    four = {"provider": "local", "workers_per_node": 4, "cpu_affinity": "list:0:1:0:1"}
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", **four})
    assert main([str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hpo-run: {spec}: launcher.cpu_affinity: cpu_affinity lists the CPUs of 4 worker(s), and "
                          "on this machine Parsl starts 2: at most 2 cores / cores_per_worker 1, at most 4 "
                          "(workers_per_node);"), err
    assert err.rstrip().endswith("or a cores_per_worker of at most 0.5") and len(err.strip().splitlines()) == 1
    for fits in ({"cores_per_worker": 0.5}, {"cpu_affinity": "list:0:1", "workers_per_node": 2}):
        spec = write_spec(tmp_path / "good.yaml", launcher={"plugin": "parsl", **four, **fits})
        assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err
    spec = write_spec(tmp_path / "lsf.yaml", launcher={"plugin": "parsl", **four, "provider": "lsf"})
    assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err  # its nodes are not this machine
    # From inside an allocation, srun or jsrun start the pool on compute nodes, not here
    # (helper-67's review: refused, with advice of cores_per_worker 0.5 for 8-core workers).
    for launcher in ("srun", "jsrun"):
        spec = write_spec(tmp_path / f"{launcher}.yaml", launcher={"plugin": "parsl", **four, "launcher": launcher,
                                                                    "cores_per_worker": 8})
        assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err


def test_cpus_this_machine_does_not_offer_are_refused(tmp_path: Path, capsys) -> None:
    """provider local: list:2:3 on a 2-CPU machine passed the spec check, and each worker
    given CPUs it may not run on died at its start (sched_setaffinity's EINVAL); the run
    waited for ever without a word (helper-106)."""
    usable = sorted(os.sched_getaffinity(0))
    far = max(usable) + 1000
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                                       "cpu_affinity": f"list:{usable[0]}:{usable[0]},{far - 1}-{far}"})
    assert main([str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hpo-run: {spec}: launcher.cpu_affinity: cpu_affinity lists CPU {far - 1}, which is not "
                          "one of the CPUs hpo-run may run on here ("), err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("provider", ["local", "lsf"])
def test_a_cpu_range_that_runs_backwards_is_refused(tmp_path: Path, capsys, provider) -> None:
    """list:1-0:1-0 named no CPU (range(1, 1)): each worker's sched_setaffinity(0, [])
    failed and the run waited for ever without a word (helper-108).  Wrong on any node."""
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", "provider": provider,
                                                       "workers_per_node": 2, "cpu_affinity": "list:0:5-2"})
    assert main([str(spec), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"hpo-run: {spec}: launcher.cpu_affinity: cpu_affinity's CPU range 5-2 runs "
                                       "backwards: write the lower CPU first (0-6, not 6-0)\n")


@pytest.mark.parametrize("told", ["abc", "0", "-2"])
def test_a_parsl_cores_parsl_cannot_read_is_one_line(tmp_path: Path, capsys, monkeypatch, told) -> None:
    """PARSL_CORES=abc was an internal error, a ValueError's traceback; 0 blamed
    cores_per_worker (helper-108)."""
    monkeypatch.setenv("PARSL_CORES", told)
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", "provider": "local"})
    assert main([str(spec), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"hpo-run: {spec}: launcher: the environment's PARSL_CORES is {told!r}: Parsl "
                                       "reads it as the number of cores of a node, a whole number of at least 1; "
                                       "unset it or give one\n")


def test_cpu_affinity_where_workers_cannot_be_pinned_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    """macOS has no sched_getaffinity, which process_worker_pool calls for every
    cpu_affinity but none: each worker died at its start.  This Linux machine stands in
    for one with the function taken away (the check, not Parsl, is what runs)."""
    monkeypatch.delattr(os, "sched_getaffinity")
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", "provider": "local",
                                                       "cpu_affinity": "block"})
    assert main([str(spec), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"hpo-run: {spec}: launcher.cpu_affinity: cpu_affinity block pins workers to "
                                       "CPUs, which this system cannot do (no sched_setaffinity: macOS): give "
                                       "cpu_affinity none\n")


def test_a_spread_cpu_affinity_with_more_workers_than_cpus_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    """block, block-reverse and alternating give each worker at least one CPU: Parsl's
    pool asserts it, so with cores_per_worker 0.5 (twice the workers there are CPUs) every
    worker failed at its start.  cpu_affinity none runs them."""
    usable = len(os.sched_getaffinity(0))
    monkeypatch.setenv("PARSL_CORES", str(usable))
    twice = {"provider": "local", "workers_per_node": 2 * usable, "cores_per_worker": 0.5}
    for affinity in ("block", "alternating", "block-reverse"):
        spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", **twice, "cpu_affinity": affinity})
        assert main([str(spec), "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert err == (f"hpo-run: {spec}: launcher.cpu_affinity: cpu_affinity {affinity} gives each worker at least "
                       f"one CPU, and on this machine Parsl starts {2 * usable} workers on {usable} CPUs: every worker "
                       "would fail at its start and nothing be evaluated: give cpu_affinity none, or a "
                       "cores_per_worker of at least 1\n"), err
    spec = write_spec(tmp_path / "good.yaml", launcher={"plugin": "parsl", **twice, "cpu_affinity": "none"})
    assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err


def test_more_cores_per_worker_than_this_machine_has_are_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    """provider local, cores_per_worker 64 on 2 cores: process_worker_pool started 0 workers
    ("Manager will spawn 0 workers"), and the run waited for ever without a word (helper-81)."""
    monkeypatch.setenv("PARSL_CORES", "2")
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "parsl", "provider": "local", "cores_per_worker": 64})
    assert main([str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [(f"hpo-run: {spec}: launcher.cores_per_worker: cores_per_worker 64 is more than the "
                                "2 cores of this machine, where provider local starts the workers: Parsl would "
                                "start none and the run wait for ever; give at most 2")], err
    for fits in ({"cores_per_worker": 2}, {"provider": "slurm"}, {"launcher": "srun"}):  # elsewhere: not known here
        spec = write_spec(tmp_path / "good.yaml", launcher={"plugin": "parsl", "provider": "local",
                                                            "cores_per_worker": 64, **fits})
        assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err


def test_as_completed_yields_what_finished_before_a_timeout_as_the_standard_library_does() -> None:
    """ParslPool.as_completed waits in slices to look at the interchange; with a timeout
    that has run out it still yields the futures already done, then raises TimeoutError,
    as concurrent.futures.as_completed does.  Plain concurrent futures and an executor
    stand-in with a live interchange: the waiting logic alone is under test."""
    import concurrent.futures
    import subprocess
    import sys
    from types import SimpleNamespace

    from dnnp_hpo.plugins.launchers.parsl_launcher import ParslPool

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pool = ParslPool(SimpleNamespace(run_dir="."), SimpleNamespace(bad_state_is_set=False, interchange_proc=alive))
        done, waiting = concurrent.futures.Future(), concurrent.futures.Future()
        done.set_result(1)
        for timeout in (0, -1, 0.2):
            seen = []
            with pytest.raises(TimeoutError):
                for future in pool.as_completed([done, waiting], timeout=timeout):
                    seen.append(future)  # noqa: PERF402 - list() would lose them when it raises
            assert seen == [done]
        assert list(pool.as_completed([done], timeout=0)) == [done]
    finally:
        alive.kill()
        alive.wait()


GOOD = [
    {"provider": "local", "launcher": "srun", "launcher_options": "--overlap"},  # hpo-run inside an allocation
    {"provider": "local", "launcher": "jsrun"},
    {"provider": "lsf", "launcher": "simple"},
    {"provider": "lsf", "launcher": "single_node"},
    {"provider": "slurm", "launcher": "simple"},
    {"provider": "slurm", "gpus_per_node": 4, "constraint": "gpu", "available_accelerators": 4,
     "cpu_affinity": "block", "walltime": "06:00:00", "drain_period": 13800},
    {"provider": "lsf", "workers_per_node": 3, "available_accelerators": ["0,1", "2,3", "4,5"],
     "cpu_affinity": "list:0-13:14-27:28-41"},
    {"available_accelerators": ["GPU-5c6a1d2e-0000-1111-2222-333344445555", "MIG-GPU-5c6a/1/0"]},
]


@pytest.mark.parametrize("block", GOOD, ids=repr)
def test_legitimate_blocks_pass_the_spec_check(block: dict, tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path / "good.yaml", launcher={"plugin": "parsl", **block})
    assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("said", "read"), [
    ("/r/parsl/000/submit_scripts/parsl.hpo_htex.block-1.1765.2.sh: line 7: x: command not found",
     "the block script: line 7: x: command not found"),
    # dash and Parsl's own messages quote the path: the quotes stay a pair
    ("'/r/parsl/000/submit_scripts/parsl.hpo_htex.block-0.1765.2.sh' exited", "'the block script' exited"),
    ('cannot open "parsl.hpo_htex.block-12.9.sh"', 'cannot open "the block script"')])
def test_a_block_s_script_is_named_alike_in_every_block_s_reason(said: str, read: str) -> None:
    """Each block's stderr names its own script; the engine-lost line says one reason for
    blocks that failed alike (helper-106), and a quoted path kept its closing quote alone."""
    from dnnp_hpo.plugins.launchers.parsl_launcher import _BLOCK_SCRIPT

    assert _BLOCK_SCRIPT.sub("the block script", said) == read
