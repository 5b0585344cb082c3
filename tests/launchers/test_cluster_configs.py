"""Shipped launcher configurations, batch scripts, and launcher-block mistakes.

* every YAML in configs/launchers validates with ``hpo-run FILE --dry-run``;
* the batch scripts pass ``bash -n`` and really run here, as they are (LSF's and Slurm's
  variables replaced by NODES=2): every Dask listener on loopback, no Dask process left
  behind; a WORKDIR on Summit's read-only home and a scheduler that cannot start are each
  one line before anything runs;
* a wrong launcher block is one line naming the key, exit status 2, no traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from launchers_testutil import REPO, VENV_BIN, assert_every_evaluation_once, write_spec

from dnnp_hpo.cli import main

LAUNCHER_SPECS = sorted((REPO / "configs" / "launchers").glob("*.yaml"))
BATCH_SCRIPTS = [REPO / "configs" / "lsf" / "summit-dask.lsf", REPO / "configs" / "slurm" / "frontier-dask.sbatch"]
SUMMIT = BATCH_SCRIPTS[0]


def test_the_shipped_files_exist() -> None:
    names = {p.name for p in LAUNCHER_SPECS}
    assert {"summit-dask.yaml", "summit-parsl.yaml", "frontier-parsl.yaml", "frontier-dask.yaml"} <= names
    assert all(p.exists() for p in BATCH_SCRIPTS)
    assert (REPO / "docs" / "hpc.md").exists()


@pytest.mark.parametrize("spec", LAUNCHER_SPECS, ids=lambda p: p.name)
def test_shipped_spec_validates_with_dry_run(spec: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(VENV_BIN / "hpo-run"), str(spec), "--dry-run"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "The spec is valid" in done.stdout
    assert not list(tmp_path.iterdir()), "--dry-run writes nothing"


@pytest.mark.parametrize("script", [*BATCH_SCRIPTS, REPO / "configs" / "dask-batch-node.sh"], ids=lambda p: p.name)
def test_batch_script_syntax(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


def _batch_env(worker_env: dict, tmp_path: Path, spec: Path, workdir: Path) -> dict:
    """What the scripts read, pointing at this checkout and its venv; nothing else set."""
    return {**worker_env, "DNNP_HPO_DIR": str(REPO), "SPEC": str(spec), "VENV": str(VENV_BIN.parent),
            "WORKDIR": str(workdir), "DASK_SCRATCH": str(tmp_path / "scratch"), "NODES": "2"}


def test_summit_refuses_a_workdir_in_home(tmp_path: Path, worker_env) -> None:
    """Summit's home is read-only from the compute nodes: every training would fail."""
    home = tmp_path / "home"
    env = {**_batch_env(worker_env, tmp_path, tmp_path / "spec.yaml", home / "runs" / "x"), "HOME": str(home)}
    done = subprocess.run(["bash", str(SUMMIT)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "read-only from Summit's compute nodes" in done.stderr and "$MEMBERWORK" in done.stderr
    assert not home.exists(), "nothing made, nothing started"


def test_a_scheduler_that_cannot_start_is_reported_at_once(tmp_path: Path, worker_env) -> None:
    """A scheduler that dies at start (here: an argument it refuses; on a cluster, a taken
    port) stops the script with its log's end, instead of hpo-run waiting wait_timeout."""
    env = {**_batch_env(worker_env, tmp_path, tmp_path / "spec.yaml", tmp_path / "job"),
           "DASK_SCHEDULER_ARGS": "--no-such-option"}
    started = time.monotonic()
    done = subprocess.run(["bash", str(SUMMIT)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, start_new_session=True, check=False)
    assert done.returncode == 3, done.stderr
    assert "dask scheduler exited at start" in done.stderr and "no-such-option" in done.stderr
    assert not (tmp_path / "job" / "run").exists(), "hpo-run never started"
    print(f"reported after {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("nodes", ["abc", "0"])
@pytest.mark.parametrize("script", BATCH_SCRIPTS, ids=lambda p: p.name)
def test_a_nodes_that_is_no_count_ends_the_job_before_anything_starts(script: Path, tmp_path: Path,
                                                                      worker_env, nodes: str) -> None:
    """NODES=abc: Slurm's script printed seq's error before batch_block's line, after the
    scheduler had started; Summit's set NODES=1 silently after a shell error.  NODES=0
    given as such: Summit's took it for a host file that found none, and ran one worker
    (helper-97)."""
    spec = write_spec(tmp_path / "small.yaml", launcher={"plugin": "dask", "workers": 2})
    env = {**_batch_env(worker_env, tmp_path, spec, tmp_path / "job"), "NODES": nodes}
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, start_new_session=True, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"batch_block: NODES (the number of compute nodes, one Dask worker each) is '{nodes}': "
                           "expected a whole number, 1 or more\n")
    assert not (tmp_path / "job" / "dask-scheduler.log").exists(), "no scheduler started"
    assert not (tmp_path / "scratch").exists()


@pytest.mark.slow
@pytest.mark.parametrize("script", BATCH_SCRIPTS, ids=lambda p: p.name)
def test_batch_script_runs_and_cleans_up(script: Path, tmp_path: Path, worker_env) -> None:
    """The batch script itself, run here as the batch node would run it (2 'nodes'), on
    the spec that ran on the laptop: its local block is replaced by the job's."""
    spec = write_spec(tmp_path / "small.yaml", pop_size=4, generations=1,
                      launcher={"plugin": "dask", "workers": 2, "wait_timeout": 300})
    workdir = tmp_path / "job"
    env = _batch_env(worker_env, tmp_path, spec, workdir)  # the scripts' own Dask arguments
    started = time.monotonic()
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180, start_new_session=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_every_evaluation_once(workdir / "run", 8)
    log = (workdir / "run" / "launcher.log").read_text()
    assert "2 worker(s)" in log and "min_workers=2" in log
    assert not (tmp_path / "scratch").exists(), "scratch removed at the end"
    # Loopback only, by default: the scheduler (its port free, not 8786), its HTTP server
    # (on even with --no-dashboard) and each worker's.
    logs = [(workdir / name).read_text() for name in ("dask-scheduler.log", "dask-worker-1.log", "dask-worker-2.log")]
    for text in logs:
        listens = [line.split(" at: ")[1].strip() for line in text.splitlines() if " at: " in line]
        assert len(listens) == 2 and all("127.0.0.1:" in where for where in listens), listens
    scheduler = next(line for line in logs[0].splitlines() if "Scheduler at:" in line)
    assert not scheduler.endswith(":8786"), scheduler
    leftovers = subprocess.run(["pgrep", "-f", "--", f"--scheduler-file {workdir}/scheduler.json"],
                               capture_output=True, text=True, check=False)
    assert leftovers.returncode == 1 and leftovers.stdout.strip() == "", "no Dask process left behind"
    print(f"{script.name}: {time.monotonic() - started:.2f} s; {log.strip().splitlines()[0]}")
    # The next job, given this one's WORKDIR and another node count, takes the run up
    # again (finished here: it shows its front) instead of refusing the changed launcher.
    again = subprocess.run(["bash", str(script)], cwd=tmp_path, env={**env, "NODES": "1"}, capture_output=True,
                           text=True, timeout=180, start_new_session=True, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"The run in {workdir / 'run'} is finished" in again.stdout
    assert_every_evaluation_once(workdir / "run", 8)
    log = (workdir / "dask-scheduler.log").read_text()
    assert log.count("=== job") == 2, "the first job's Dask log is kept"


def _job_training_twice(tmp_path: Path, worker_env: dict, grace: str | None = "5") -> subprocess.Popen:
    """The Summit script running a small spec in WORKDIR ``tmp_path/job`` (a session of its
    own, DASK_STOP_GRACE ``grace`` s, None: the script's default), returned once both its
    workers train (for 600 s)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = write_spec(tmp_path / "small.yaml", pop_size=4, generations=1,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "dask", "workers": 2, "wait_timeout": 300})
    env = {**_batch_env(worker_env, tmp_path, spec, tmp_path / "job"),
           "HPO_TEST_SLEEP": "600", "HPO_TEST_MARKERS": str(markers)}
    if grace is not None:
        env["DASK_STOP_GRACE"] = grace
    job = subprocess.Popen(["bash", str(SUMMIT)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(markers.iterdir())) < 2 and time.monotonic() < deadline:  # both workers training
        time.sleep(0.2)
    if len(list(markers.iterdir())) < 2:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        pytest.fail("the trainings never started")
    return job


@pytest.mark.slow
@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGINT], ids=["slurm", "lsf"])
def test_the_job_s_end_cleans_up_within_the_batch_system_s_grace(tmp_path: Path, worker_env, ending) -> None:
    """scancel, bkill or the time limit signals the whole job (SIGTERM to its process
    group, then SIGKILL 30 s later on Slurm's defaults, 10 s on LSF's): the script's
    clean-up asked the dead scheduler to shut down and waited a minute for it, so the
    job's key and scratch were never removed (helper-107); then it gave the trainings in
    flight DASK_STOP_GRACE (30 s by default), which the SIGKILL cut short.  At the job's
    end the scheduler is not asked and the trainings are not waited for; the key goes
    first.  LSF signals SIGINT first (then SIGTERM): the same within the same time."""
    job_dir = tmp_path / "job"
    job = _job_training_twice(tmp_path, worker_env, grace=None)
    try:
        assert (job_dir / "dask-tls" / "key.pem").exists()
        os.killpg(job.pid, ending)
        signalled = time.monotonic()
        _, stderr = job.communicate(timeout=90)
        took = time.monotonic() - signalled
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert took < 10, f"the clean-up took {took:.0f} s, beyond LSF's 10 s before SIGKILL: {stderr}"
    # hpo-run's status: stopped by the signal, or (a race the CI met) it saw the signalled
    # scheduler gone first: the engine lost, exit 3
    assert job.returncode in (128 + ending, 3), stderr
    assert not (job_dir / "dask-tls").exists(), "the job's key is left behind"
    assert not (tmp_path / "scratch").exists()


@pytest.mark.slow
def test_a_killed_hpo_run_does_not_leave_the_job_waiting_on_its_workers(tmp_path: Path, worker_env) -> None:
    """hpo-run killed (SIGKILL, an out-of-memory kill) while trainings ran: the script's
    cleanup sent the workers SIGTERM, and a worker running a task waited for it,
    "closing", so the job held its nodes until the walltime (helper-97, twice).  Now a
    grace period (DASK_STOP_GRACE, 30 s by default), then SIGKILL."""
    job = _job_training_twice(tmp_path, worker_env)
    try:
        driver = subprocess.run(["pgrep", "-s", str(job.pid), "-f", "bin/hpo-run"], capture_output=True, text=True,
                                check=False).stdout.split()
        assert len(driver) == 1, driver
        os.kill(int(driver[0]), signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = job.communicate(timeout=90)
        assert job.returncode == 128 + signal.SIGKILL, stderr  # hpo-run's status, as the job's
        assert time.monotonic() - killed < 45, "the job waited on its workers"
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    leftovers = subprocess.run(["pgrep", "-f", "--", f"--scheduler-file {tmp_path / 'job'}/scheduler.json"],
                               capture_output=True, text=True, check=False)
    assert leftovers.returncode == 1 and leftovers.stdout.strip() == "", "no Dask process left behind"
    assert not (tmp_path / "scratch").exists(), "scratch removed at the end"


BAD_BLOCKS = [
    ("launcher={plugin: dask, scheduler_file: s.json, address: 'tcp://h:1'}", "scheduler_file or address, not both"),
    ("launcher={plugin: dask, address: localhost}", "address must look like tcp://host:port"),
    ("launcher={plugin: dask, scheduler_file: s.json, workers: 3}", "workers is for a local cluster"),
    # each key named alone, with the flag it is where the workers are started (helper-107)
    ("launcher={plugin: dask, scheduler_file: s.json, threads_per_worker: 2}",
     ("launcher.threads_per_worker: threads_per_worker is for a local cluster; with scheduler_file or address give "
     "`dask worker --nthreads` where the scheduler and workers are started")),
    ("launcher={plugin: dask, address: 'tcp://h:1', dashboard: true}",
     ("launcher.dashboard: dashboard is for a local cluster; with scheduler_file or address give "
     "`dask scheduler --dashboard-address`")),
    ("launcher={plugin: dask, min_workers: 2}", "min_workers is for a joined cluster"),
    # read as left out: a cluster spec's blank scheduler_file ran a local cluster (helper-110)
    ("launcher={plugin: dask, scheduler_file: }", ("launcher.scheduler_file: null (an empty value): give the scheduler "
                                                   "file, or leave the key out for a local cluster on this machine")),
    ("launcher={plugin: dask, local_directory: ''}", "launcher.local_directory: an empty string: give the local"),
    ("launcher={plugin: dask, scheduler_file: $HPO_SURELY_UNSET/s.json}",
     "launcher.scheduler_file: environment variable HPO_SURELY_UNSET is not set"),
    ("launcher={plugin: dask, wait_timeout: 0}", "wait_timeout must be a positive number"),
    ("launcher={plugin: dask, wait_timeout: 5}", "wait_timeout is for a joined cluster"),
    ("launcher={plugin: parsl, provider: pbs}", "provider must be one of local, lsf, slurm"),
    ("launcher={plugin: parsl, provider: lsf, launcher: aprun}", "launcher must be one of"),
    ("launcher={plugin: parsl, provider: slurm, project: X}", "provider slurm calls it account"),
    ("launcher={plugin: parsl, provider: lsf, partition: X}", "provider lsf calls it queue"),
    ("launcher={plugin: parsl, provider: local, walltime: '01:00:00'}", "walltime is not a setting of provider local"),
    ("launcher={plugin: parsl, provider: lsf, walltime: '1h'}", "walltime must be HH:MM:SS"),
    ("launcher={plugin: parsl, provider: lsf, walltime: '00:00:30'}", "walltime must be at least a minute"),
    ("launcher={plugin: parsl, provider: slurm, init_blocks: 3, max_blocks: 1}",
     "init_blocks (3) is more than max_blocks (1)"),
    # Parsl's default max_blocks is 1, and it submitted two blocks (helper-97)
    ("launcher={plugin: parsl, provider: lsf, init_blocks: 2}", "init_blocks (2) is more than max_blocks (1, the default)"),
    ("launcher={plugin: parsl, provider: local, min_blocks: 2}", "min_blocks (2) is more than max_blocks (1, the default)"),
    ("launcher={plugin: parsl, heartbeat_threshold: 2, heartbeat_period: 30}",
     "heartbeat_threshold (2 s) must be more than heartbeat_period (30 s)"),
    ("launcher={plugin: parsl, launcher: single_node, launcher_options: -x}", "launcher_options are for jsrun"),
    ("launcher={plugin: parsl, provider: slurm, nodes_per_block: 0}", "nodes_per_block must be at least 1"),
    ("launcher={plugin: parsl, qeueu: batch}", "unknown key(s): qeueu"),
    ("launcher={plugin: parsl, address: 'tcp://1.2.3.4:5'}", "address must be an IP address"),
    ("launcher={plugin: parsl, address: 'interface:'}", "or 'interface:NAME', got 'interface:'"),
    # sbatch stops reading the header at the first line that is not a directive: the
    # account and partition after it were dropped without a word
    ("launcher={plugin: parsl, provider: slurm, scheduler_options: '--gpus-per-node=4'}",
     ("scheduler_options are lines of the block script's header, each a directive such as '#SBATCH "
     "--gpus-per-node=4' or '#BSUB -alloc_flags smt4'; got '--gpus-per-node=4'")),
    ("launcher={plugin: parsl, provider: lsf, scheduler_options: \"#BSUB -q debug\\n-alloc_flags smt4\"}",
     "got '-alloc_flags smt4'"),
]


@pytest.mark.parametrize(("assignment", "message"), BAD_BLOCKS, ids=[m for _, m in BAD_BLOCKS])
def test_bad_launcher_block_is_one_line(assignment: str, message: str, capsys, monkeypatch) -> None:
    monkeypatch.delenv("HPO_SURELY_UNSET", raising=False)
    status = main([str(REPO / "configs" / "zdt1-function.yaml"), "--dry-run", "--set", assignment])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "launcher" in err and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("block", "said"), [
    ("{plugin: dask, workers: 3}", ("dask: a local cluster of 3 worker process(es) on this machine, 1 thread(s) each; "
                                   "scratch in {run}/dask-scratch")),
    ("{plugin: dask, scheduler_file: /jobs/s.json, min_workers: 4, wait_timeout: 600}",
     "dask: joins the scheduler whose address is in /jobs/s.json, waiting up to 600 s for 4 worker(s)"),
    (("{plugin: parsl, provider: lsf, project: P, nodes_per_block: 2, max_blocks: 4, walltime: '02:00:00', "
     "workers_per_node: 6}"), ("parsl: HighThroughputExecutor on provider lsf with launcher jsrun; blocks of 2 node(s): "
     "1 at first, between 0 and 4, walltime 02:00:00; up to 6 worker(s) per node; submitted with bsub")),
    # Parsl's defaults filled in: one block of one node, Slurm's 10 minutes
    ("{plugin: parsl, provider: slurm, account: A}", ("parsl: HighThroughputExecutor on provider slurm with launcher "
     "srun; blocks of 1 node(s): 1 at first, between 0 and 1, walltime 00:10:00; up to 1 worker(s) per node; submitted "
     "with sbatch")),
    # provider local: the workers Parsl starts here (min(64, this machine's cores)), or
    # where jsrun or srun starts them (helper-98)
    ("{plugin: parsl, workers_per_node: 64, cores_per_worker: 1}", ("parsl: HighThroughputExecutor on provider local with "
     "launcher single_node; blocks of 1 node(s): 1 at first, between 0 and 1; {cores} worker(s); on this machine")),
    ("{plugin: parsl, provider: local, launcher: srun, nodes_per_block: 4}", ("parsl: HighThroughputExecutor on "
     "provider local with launcher srun; blocks of 4 node(s): 1 at first, between 0 and 1; up to 1 worker(s) per "
     "node; on the allocation's nodes, started with srun")),
])
def test_the_dry_run_says_what_the_launcher_would_start(block: str, said: str, capsys, tmp_path: Path) -> None:
    """--dry-run printed generation 0 and nothing of the launcher: a cluster spec's blocks,
    nodes and walltime were first seen in the real run, once submitted (helper-97)."""
    run = tmp_path / "run"
    assert main([str(REPO / "configs" / "zdt1-function.yaml"), "--dry-run", "--set", f"launcher={block}",
                 "--set", f"run_dir={run}"]) == 0
    cores = min(64, int(os.environ.get("PARSL_CORES") or os.cpu_count() or 1))
    assert f"Launcher: {said.format(run=run, cores=cores)}\n" in capsys.readouterr().out


@pytest.mark.parametrize(("block", "warned"), [
    ("{plugin: parsl, provider: slurm, account: X}",
     "blocks last 00:10:00 (Parsl's default: no walltime is given), less than trainer.timeout_minutes (90): "),
    ("{plugin: parsl, provider: lsf, walltime: '01:00:00'}", "blocks last 01:00:00, less than "),
    ("{plugin: parsl, provider: lsf, walltime: '01:30:00'}", None),
    ("{plugin: parsl, provider: local}", None),
])
def test_blocks_shorter_than_a_training_may_last_are_warned_of(block: str, warned: str | None, capsys) -> None:
    """A training still running at its block's walltime is killed with the block: Parsl's
    default walltime, 10 minutes, under the trainer's 90-minute limit ran every DeePMD
    training into it without a word."""
    status = main([str(REPO / "configs" / "quickstart.yaml"), "--dry-run", "--set", f"launcher={block}",
                   "--set", "trainer.timeout_minutes=90"])
    err = capsys.readouterr().err
    assert status == 0, err
    lines = [line for line in err.splitlines() if "launcher.walltime" in line]
    if warned is None:
        assert lines == [], err
    else:
        assert len(lines) == 1 and lines[0].startswith("hpo-run: warning: ") and warned in lines[0], err
        assert lines[0].endswith("is killed with it; give a walltime of 01:30:00 or more"), lines


def test_the_batch_block_joins_the_jobs_scheduler_keeping_what_it_can():
    from dnnp_hpo.plugins.launchers.batch_block import joined_block

    laptop = {"plugin": "dask", "workers": 2, "local_directory": "/tmp/x", "wait_timeout": 900, "shutdown": True}
    assert joined_block(laptop, "/w/scheduler.json", 100) == {
        "plugin": "dask", "wait_timeout": 900, "shutdown": True, "scheduler_file": "/w/scheduler.json",
        "min_workers": 100}
    parsl = {"plugin": "parsl", "provider": "lsf", "walltime": "12:00:00"}
    assert joined_block(parsl, "s.json", 2) == {"plugin": "dask", "scheduler_file": "s.json", "min_workers": 2}
    assert joined_block(None, "s.json", 2) == {"plugin": "dask", "scheduler_file": "s.json", "min_workers": 2}


def test_the_batch_block_keeps_a_misspelt_key_for_hpo_run_to_refuse(capsys) -> None:
    """Dropped with the local cluster's keys, ``wait_timout: 900`` ran the job with the
    default wait_timeout, without a word: hpo-run on the laptop refuses it."""
    from dnnp_hpo.plugins.launchers.batch_block import as_text, joined_block

    laptop = {"plugin": "dask", "workers": 2, "wait_timout": 900, "shutdwon": True}
    block = joined_block(laptop, "/w/scheduler.json", 4)
    assert block == {"plugin": "dask", "wait_timout": 900, "shutdwon": True, "scheduler_file": "/w/scheduler.json",
                     "min_workers": 4}
    status = main([str(REPO / "configs" / "zdt1-function.yaml"), "--dry-run", "--set", f"launcher={as_text(block)}"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "launcher: unknown key(s): shutdwon (did you mean shutdown?), wait_timout (did you mean wait_timeout?)" \
        in err, err


@pytest.mark.parametrize(("name", "gpus"), [("summit-parsl.yaml", 6), ("frontier-parsl.yaml", 8)])
def test_the_shipped_parsl_specs_train_one_candidate_per_gpu(name: str, gpus: int) -> None:
    """Each worker pinned to its own GPU (GCD), as many workers as the node has, a population
    that fills the block, and no training started in a block's last trainer timeout (120 min,
    paper-alcl3-kcl.yaml).  Before, one worker a node saw all its GPUs and used one."""
    import yaml

    from dnnp_hpo.plugins.launchers.parsl_launcher import ParslLauncher, _minutes

    spec = yaml.safe_load((REPO / "configs" / "launchers" / name).read_text())
    block = ParslLauncher(**{k: v for k, v in spec["launcher"].items() if k != "plugin"})
    assert len(block.available_accelerators) == block.workers == gpus
    assert sorted(block.available_accelerators, key=int) == [str(i) for i in range(gpus)]
    assert block.cpu_affinity == "block"
    assert spec["optimizer"]["pop_size"] == block.nodes_per_block * gpus
    assert block.drain_period <= (_minutes(block.walltime) - 120) * 60
