"""The ``parsl`` launcher end to end: local, LSF + jsrun, Slurm + srun.

LSF and Slurm cannot exist on this machine: the ``standins`` fixture puts STAND-IN
``bsub``/``bjobs``/``bkill``/``jsrun`` and ``sbatch``/``squeue``/``scancel``/``sacct``/
``srun`` (tests/standins) first on PATH.  They run the job script Parsl writes locally
and answer in the formats Parsl parses, so Parsl's real LSFProvider, SlurmProvider,
JsrunLauncher and SrunLauncher code runs end to end; the ``jsrun``/``srun`` stand-ins
record their arguments, which is how the tests see each training launched through the
trainer's ``launch_prefix``.  The trainer is the TEST-ONLY ``launched_zdt1`` of
hpo_launcher_helpers (the DeePMD trainer was not ready when these tests were written).
Everything listens on 127.0.0.1; Parsl's usage tracking is off.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import hpo_launcher_helpers as helpers
import pytest
from cli_testutil import hpo_run
from launchers_testutil import assert_every_evaluation_once, run_in_process, write_spec

from dnnp_hpo.plugins.launchers.parsl_launcher import ParslLauncher


def test_parsl_local_end_to_end(tmp_path: Path, worker_env) -> None:
    spec = write_spec(tmp_path / "parsl-local.yaml", pop_size=6, generations=1,
                      launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2})
    started = time.monotonic()
    run_dir = run_in_process(spec)
    rows = assert_every_evaluation_once(run_dir, 12)
    assert {r["status"] for r in rows} == {"ok"}
    assert "provider local with launcher single_node" in (run_dir / "launcher.log").read_text()
    assert "127.0.0.1" in (run_dir / "launcher.log").read_text()
    print(f"parsl local run: {time.monotonic() - started:.2f} s")


def test_usage_tracking_off_and_loopback(tmp_path: Path) -> None:
    from types import SimpleNamespace

    config = ParslLauncher(provider="local").build_config(SimpleNamespace(run_dir=tmp_path))
    assert config.usage_tracking == 0
    assert config.executors[0].address == "127.0.0.1"
    assert config.executors[0].all_addresses == {"127.0.0.1"}


def test_absent_interface_is_one_line_and_exit_3(tmp_path: Path, hpo_run_exe: Path) -> None:
    """A cluster spec's ``interface:ib0`` run where there is no such interface: the real
    ``hpo-run`` says so in one line naming the key and this host's interfaces, exits 3 (could
    not launch) and has evaluated nothing; a spec that names it is still valid (--dry-run),
    as a cluster's spec is checked on a laptop."""
    from dnnp_hpo.journal import Journal

    spec = write_spec(tmp_path / "noif.yaml", pop_size=4, generations=0,
                      launcher={"plugin": "parsl", "provider": "local", "address": "interface:nope0"})
    dry = hpo_run(str(spec), "--dry-run", timeout=120)
    assert dry.returncode == 0, dry.stderr
    done = hpo_run(str(spec), timeout=120)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("hpo-run: could not launch: launcher.address: 'interface:nope0' is not an address ")
    assert "lo" in lines[0].rpartition("its network interfaces: ")[2].split(", ")
    with Journal.of(tmp_path / "run-noif", readonly=True) as journal:
        assert journal.evaluations() == []
    # the same line beside the run's records (a batch job's stderr may be gone by then)
    assert lines[0].removeprefix("hpo-run: ") in (tmp_path / "run-noif" / "launcher.log").read_text()


def test_an_address_this_host_cannot_bind_is_one_line_and_exit_3(tmp_path: Path, hpo_run_exe: Path) -> None:
    """A literal address that is not this host's (an IP literal: no name lookup) fails in
    the driver before Parsl's interchange would try to bind it, and hang the run."""
    spec = write_spec(tmp_path / "nobind.yaml", pop_size=4, generations=0,
                      launcher={"plugin": "parsl", "provider": "local", "address": "10.255.255.1"})
    done = hpo_run(str(spec), timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "launcher.address: '10.255.255.1' is not an address of this host" in done.stderr


def test_parsl_failed_app_is_retried_then_reported(tmp_path: Path, worker_env) -> None:
    """A failing app is re-run ``retries`` times by Parsl, then its future raises, which the
    study records as status ``lost`` with the MAXINT fitness (core/study.py)."""
    from types import SimpleNamespace

    attempts = tmp_path / "attempts"
    with ParslLauncher(provider="local", retries=1).connect(SimpleNamespace(run_dir=tmp_path)) as pool:
        future = pool.submit(helpers.fail_always, str(attempts))
        with pytest.raises(RuntimeError, match="boom"):
            future.result()
        assert list(pool.as_completed([future])) == [future]
    assert len(list(attempts.iterdir())) == 2, "one run and one retry"


def _launched(prefix: str) -> dict:
    return {"plugin": "launched_zdt1", "launch_prefix": prefix}


#: the function trainer's ZDT1 that fails unless it runs inside a jsrun or srun step
IN_STEP = {"plugin": "function", "callable": "parsl_gpu_helpers:in_step_zdt1"}


def _check_trainings_launched(standins, tool: str, prefix: str, rows: list[dict]) -> None:
    """Each evaluation's training went through ``prefix`` (once per evaluation)."""
    wanted = shlex.split(prefix)[1:]
    trainings = [argv for argv in standins.calls(tool) if "hpo_launcher_helpers" in argv]
    assert len(trainings) == len(rows)
    for argv in trainings:
        assert argv[: len(wanted)] == wanted


# With launcher jsrun (srun) the worker pool runs in a job step that holds its node, and
# each training runs directly in it (no launch_prefix: a second, nested step would wait
# for the resources the first holds, on a real cluster until the time limit; hpc.md).
# A training with a jsrun prefix is the other composition: launcher simple, the pool on
# the batch node, one jsrun step per training (multi-GPU Horovod, as in the paper).


@pytest.mark.slow
def test_parsl_lsf_with_jsrun(tmp_path: Path, standins) -> None:
    spec = write_spec(
        tmp_path / "parsl-lsf.yaml", pop_size=4, generations=1, trainer=IN_STEP,
        launcher={"plugin": "parsl", "provider": "lsf", "launcher": "jsrun", "nodes_per_block": 1,
                  "max_blocks": 1, "walltime": "00:20:00", "project": "TST123", "queue": "batch",
                  "workers_per_node": 2, "address": "127.0.0.1", "worker_init": "export HPO_IN_JOB=lsf"},
    )
    started = time.monotonic()
    run_dir = run_in_process(spec)
    elapsed = time.monotonic() - started
    rows = assert_every_evaluation_once(run_dir, 8)
    # every training ran inside the pool's jsrun step (in_step_zdt1 fails elsewhere)
    assert {r["status"] for r in rows} == {"ok"}, [r["reason"] for r in rows if r["status"] != "ok"]
    # Parsl submitted one block with bsub; the script has the spec's LSF settings ...
    (submitted,) = standins.calls("bsub")
    script = Path(submitted[-1]).read_text()
    for line in ("#BSUB -P TST123", "#BSUB -q batch", "#BSUB -nnodes 1", "#BSUB -W 20", "export HPO_IN_JOB=lsf"):
        assert line in script
    # ... and started the worker pool with jsrun (Parsl's JsrunLauncher), the only jsrun ...
    (pool,) = standins.calls("jsrun")
    assert pool[:4] == ["-n", "1", "-r", "1"] and pool[-1].endswith(".sh")
    # ... and the block was cancelled with bkill when the run ended: nothing left running.
    assert standins.calls("bkill")
    time.sleep(0.5)
    assert standins.live_jobs() == []
    print(f"parsl LSF+jsrun run: {elapsed:.2f} s")


@pytest.mark.slow
def test_parsl_lsf_simple_with_a_jsrun_per_training(tmp_path: Path, standins) -> None:
    """The multi-GPU composition of hpc.md: launcher simple keeps the pool on the batch node
    (no job step), and each training is a jsrun step of its own, through launch_prefix."""
    prefix = "jsrun -n1 -a6 -c42 -g6 -bpacked:7"  # the paper's per-training jsrun (hpc.md)
    spec = write_spec(
        tmp_path / "parsl-lsf-simple.yaml", pop_size=4, generations=1, trainer=_launched(prefix),
        launcher={"plugin": "parsl", "provider": "lsf", "launcher": "simple", "nodes_per_block": 2,
                  "max_blocks": 1, "walltime": "00:20:00", "project": "TST123", "workers_per_node": 2,
                  "cores_per_worker": 0.5, "address": "127.0.0.1"},
    )
    run_dir = run_in_process(spec, extra_plugins=(helpers,))
    rows = assert_every_evaluation_once(run_dir, 8)
    assert {r["status"] for r in rows} == {"ok"}, [r["reason"] for r in rows if r["status"] != "ok"]
    (submitted,) = standins.calls("bsub")
    assert "#BSUB -nnodes 2" in Path(submitted[-1]).read_text()
    # the pool was started by no jsrun; every jsrun was a training's, with the prefix
    assert all("hpo_launcher_helpers" in argv for argv in standins.calls("jsrun"))
    _check_trainings_launched(standins, "jsrun", prefix, rows)
    time.sleep(0.5)
    assert standins.live_jobs() == []


@pytest.mark.slow
def test_parsl_slurm_with_srun(tmp_path: Path, standins) -> None:
    spec = write_spec(
        tmp_path / "parsl-slurm.yaml", pop_size=4, generations=1, trainer=IN_STEP,
        launcher={"plugin": "parsl", "provider": "slurm", "nodes_per_block": 1, "max_blocks": 1,
                  "walltime": "00:20:00", "account": "TST123", "partition": "batch",
                  "workers_per_node": 2, "address": "127.0.0.1", "launcher_options": "--cpu-bind=none"},
    )
    started = time.monotonic()
    run_dir = run_in_process(spec)
    elapsed = time.monotonic() - started
    rows = assert_every_evaluation_once(run_dir, 8)
    # every training ran inside the pool's srun step (in_step_zdt1 fails elsewhere)
    assert {r["status"] for r in rows} == {"ok"}, [r["reason"] for r in rows if r["status"] != "ok"]
    (submitted,) = standins.calls("sbatch")
    script = Path(submitted[-1]).read_text()
    for line in ("#SBATCH --account=TST123", "#SBATCH --partition=batch", "#SBATCH --nodes=1",
                 "#SBATCH --time=20"):
        assert line in script
    assert standins.calls("sacct"), "Parsl probed sacct (the stand-in says accounting is off)"
    (pool,) = standins.calls("srun")  # the worker pool's step, the only srun
    assert pool[:2] == ["--ntasks", "1"] and "--cpu-bind=none" in pool and pool[-1].endswith(".sh")
    assert standins.calls("scancel")
    time.sleep(0.5)
    assert standins.live_jobs() == []
    print(f"parsl Slurm+srun run: {elapsed:.2f} s")


@pytest.mark.slow
def test_parsl_worker_pool_killed_mid_evaluation_loses_nothing(tmp_path: Path, worker_env,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL the worker pool (manager and worker) while an evaluation runs: Parsl notices the
    lost manager by its missing heartbeats, the strategy starts a new block, the app is re-run
    (or, had Parsl given up, recorded as lost): every evaluation still gets exactly one row."""
    import os
    import signal
    import threading

    import psutil

    markers = tmp_path / "running"
    markers.mkdir()
    monkeypatch.setenv(helpers.MARKER_VARIABLE, str(markers))
    monkeypatch.setenv(helpers.SLEEP_VARIABLE, "0.5")
    spec = write_spec(tmp_path / "parsl-kill.yaml", pop_size=4, generations=1,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                "heartbeat_period": 1, "heartbeat_threshold": 3, "retries": 2})
    killed: list[int] = []

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not killed:
            for marker in markers.iterdir():
                worker = psutil.Process(int(marker.name.split(".")[0]))
                manager = worker.parent()
                # the whole pool, as a lost node takes it: the busy worker first, then the
                # manager and its other (idle) worker, which would otherwise live on orphaned
                pool = [worker, manager, *(p for p in manager.children() if p.pid != worker.pid)]
                for proc in pool:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    started = time.monotonic()
    run_dir = run_in_process(spec)
    killer.join(5)
    assert killed, "no evaluation was seen running"
    rows = assert_every_evaluation_once(run_dir, 8)
    assert all(r["status"] in ("ok", "lost") for r in rows)
    # A new block replaced the lost one: the search went on (Parsl's default block error
    # handler would have failed every later task once the only block had failed).
    assert all(r["status"] == "ok" for r in rows if r["generation"] == "1")
    print(f"parsl pool killed mid-evaluation: statuses {sorted({r['status'] for r in rows})}, "
          f"run {time.monotonic() - started:.2f} s")


def test_a_scheduler_whose_commands_are_missing_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """provider lsf where there is no bsub (PATH holds this venv only): one line naming the
    key and the missing commands, exit 3, nothing submitted or evaluated.  Before, Parsl
    failed every block, gave the executor up and the run recorded its whole budget lost."""
    from cli_testutil import VENV_BIN, run_exe

    from dnnp_hpo.journal import Journal

    spec = write_spec(tmp_path / "nolsf.yaml", pop_size=4, generations=0,
                      launcher={"plugin": "parsl", "provider": "lsf", "address": "127.0.0.1"})
    done = run_exe([str(VENV_BIN / "hpo-run"), str(spec)], timeout=60, env={"PATH": str(VENV_BIN)})
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert ("could not launch: launcher.provider: provider lsf runs bsub, bjobs, bkill, and none of them is "
            "on PATH on ") in done.stderr
    assert not (tmp_path / "run-nolsf" / "parsl").exists(), "Parsl was not started"
    with Journal.of(tmp_path / "run-nolsf", readonly=True) as journal:
        assert journal.evaluations() == []


def test_blocks_that_failed_alike_are_one_reason(tmp_path: Path) -> None:
    """Each block's stderr names its own script (parsl.hpo_htex.block-1.<time>.sh: line 7:
    ...): two blocks that failed alike read as two reasons, the line cut in the second
    (helper-106).  The script is "the block script": one reason, its blocks listed."""
    broken = {"plugin": "parsl", "provider": "local", "block_failures": 2,
              "worker_init": "no-such-command-for-hpo-test || exit 1"}
    spec = write_spec(tmp_path / "gone.yaml", pop_size=2, generations=0, launcher=broken)
    done = hpo_run(str(spec), timeout=180)
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "; blocks 0, 1: " in last and last.count("command not found") == 1, last
    assert "stderr: the block script: line " in last and ".sh" not in last.split("submit_scripts")[1], last


@pytest.mark.slow
def test_an_executor_parsl_gives_up_stops_the_run_and_the_run_resumes(tmp_path: Path) -> None:
    """A worker_init that fails every block: Parsl gives the executor up after
    ``block_failures`` blocks, and hpo-run stops (exit 3, one line) instead of recording
    every remaining birth as lost; the same run then resumes on a working launcher and
    records each birth once, all trained."""
    from dnnp_hpo.journal import Journal

    broken = {"plugin": "parsl", "provider": "local", "worker_init": "exit 1", "block_failures": 1}
    spec = write_spec(tmp_path / "gone.yaml", pop_size=4, generations=1, launcher=broken)
    done = hpo_run(str(spec), timeout=180)
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hpo-run: the engine was lost: launcher: Parsl gave the executor up (")
    assert "fix the cause and run hpo-run again to resume" in last and "Traceback" not in done.stderr
    # Parsl's "the submit_scripts directory" is named, and so is the worker_init it ran first
    scripts = tmp_path / "run-gone" / "parsl" / "000" / "submit_scripts"
    assert (f"Parsl gave the executor up (each block's output is in {scripts}, and its script runs "
            "launcher.worker_init first; block 0: ") in last
    assert "exit code 1" in last
    assert "Check the stdout/stderr logs" not in last
    assert list(scripts.glob("*.sh.err")), "the directory named holds the blocks' output"
    with Journal.of(tmp_path / "run-gone", readonly=True) as journal:
        assert journal.evaluations() == [], "nothing recorded lost (or anything else) as finished"
        assert len(journal.running()) == 4, "generation 0 is pending, to be sent again"
    write_spec(spec, pop_size=4, generations=1, launcher={"plugin": "parsl", "provider": "local"})
    again = hpo_run(str(spec), timeout=180)
    assert again.returncode == 0, again.stderr
    rows = assert_every_evaluation_once(tmp_path / "run-gone", 8)
    assert {r["status"] for r in rows} == {"ok"}


@pytest.mark.parametrize("resolved", ["127.0.0.1", "127.0.1.1"])
def test_a_host_name_that_resolves_to_loopback_is_refused(monkeypatch, resolved: str) -> None:
    """The lsf and slurm default, ``address: hostname``, on a login node whose name maps to
    loopback (/etc/hosts): the compute nodes' workers could never register."""
    import parsl.addresses

    from dnnp_hpo.errors import LaunchFailed
    from dnnp_hpo.plugins.launchers.parsl_parts import resolve_address

    monkeypatch.setattr(parsl.addresses, "address_by_hostname", lambda: resolved)
    with pytest.raises(LaunchFailed, match=rf"^launcher.address: this host's name resolves to {resolved}, a loopback"):
        resolve_address("hostname")
    assert resolve_address("127.0.0.1") == "127.0.0.1"  # said outright, it is meant
    assert resolve_address("hostname", remote=False) == resolved  # provider local: workers are here


def test_failed_blocks_name_their_output_first_and_keep_parsls_pointer_without_it(tmp_path: Path) -> None:
    """Each block's own stderr (a host name before Lmod's error) made the reasons so long
    that the cut at 600 characters took the directory named at their end (helper-91)."""
    from types import SimpleNamespace

    from parsl.jobs.states import JobState, JobStatus

    from dnnp_hpo.plugins.launchers.parsl_launcher import _failed_blocks, _shortened

    pointer = ("Job is marked as MISSING since the workers failed to register to the executor. Check the "
               "stdout/stderr logs in the submit_scripts directory for more debug information")
    statuses = {}
    for block in range(3):
        err = tmp_path / f"block-{block}.err"
        err.write_text(f"node{block:03d}.cluster: Lmod has detected the following error: The following module(s) "
                       f"are unknown: 'deepmd-kit/3.2' {'x' * 150}\n")
        statuses[str(block)] = JobStatus(JobState.MISSING, message=pointer, exit_code=1, stderr_path=str(err))
    scripts = tmp_path / "submit_scripts"
    executor = SimpleNamespace(status_facade=statuses, provider=SimpleNamespace(script_dir=str(scripts)))
    cause = _shortened(_failed_blocks(executor, "module load deepmd-kit/3.2 || exit 1"), 600)
    assert cause.startswith(f"each block's output is in {scripts}, and its script runs launcher.worker_init first; "
                            "block 0: Job is marked as MISSING since the workers failed to register to the executor, "
                            "exit code 1, stderr: node000.cluster: Lmod"), cause
    assert "Check the stdout/stderr logs" not in cause
    # a provider without a script directory: Parsl's own pointer is all there is, kept
    executor = SimpleNamespace(status_facade=statuses, provider=SimpleNamespace())
    assert _failed_blocks(executor).startswith(f"block 0: {pointer}, exit code 1, stderr: node000")
