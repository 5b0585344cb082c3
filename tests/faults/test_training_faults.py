"""Promise 1: a training that crashes, is killed, hangs or leaves a broken lcurve.out is
recorded as failed with the right reason and the MAXINT fitness, and the run goes on.

The trainer is the real ``deepmd`` plugin on a real local Dask cluster, writing to the
real journal.  Its ``command`` is the stand-in ``faults_dp.py`` (tests/faults), because
real DeePMD-kit cannot be made to crash, hang or cut its learning curve on demand; the
test at the end uses real ``dp`` for the faults it can show: a training killed from
outside with SIGKILL (as the OOM killer does) and one past its time limit.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from faults_testutil import (
    MAXINT,
    assert_recorded_once,
    deepmd_spec,
    run_in_process,
    write_plan,
    write_spec,
)
from proc_testutil import processes_with

# fault injected -> (status, words of the recorded reason)
EXPECTED = {
    "crash": ("failed", "exited with status 3: RuntimeError: injected crash of the training"),
    "sigkill": ("failed", "was killed by signal 9 (SIGKILL)"),
    "hang": ("timeout", "killed at the time limit of 0.1 min"),
    "truncated": ("failed", "lcurve.out has a header but no complete data rows"),
    "empty": ("failed", "lcurve.out has no header line"),
    "nan": ("failed", "rmse_e_val is nan at step 100"),
    "garbage": ("failed", "lcurve.out line 1: data before the header line"),
    "no_lcurve": ("failed", "the training wrote no lcurve.out"),
    "wrong_columns": ("failed", "lcurve has no column(s) rmse_f_val"),
    "negative": ("failed", "rmse_e_val is negative (-1) at step 100"),
    "binary_stderr": ("failed", "exited with status 5: \ufffd\ufffd bad bytes\ufffd RuntimeError: oops (see "),
}


def test_every_training_fault_is_recorded_with_its_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    faults = list(EXPECTED)
    pop_size = len(faults) + 1  # one healthy training in generation 0 as well
    plan = write_plan(tmp_path / "plan.json", faults)
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(
        tmp_path / "run", pop_size=pop_size, generations=1, timeout_minutes=0.1,
        env={"FAULTS_PLAN": str(plan)}))
    run_dir = run_in_process(spec)

    evaluations = assert_recorded_once(run_dir, 2 * pop_size)
    injected = {}
    for evaluation in evaluations:
        fault = (evaluation.trial.workdir / "fault.txt").read_text()
        injected[fault] = injected.get(fault, 0) + 1
        if fault == "ok":
            assert evaluation.status == "ok", evaluation.reason
            assert all(math.isfinite(v) and v < MAXINT for v in evaluation.fitness)
            continue
        status, words = EXPECTED[fault]
        assert (evaluation.status, fault) == (status, fault), evaluation.reason
        assert words in evaluation.reason, (fault, evaluation.reason)
        assert evaluation.reason.isprintable() and ": (see" not in evaluation.reason, evaluation.reason
        assert evaluation.fitness == (MAXINT, MAXINT) and evaluation.metrics == {}
        assert evaluation.trial.generation == 0
    assert {f: n for f, n in injected.items() if f != "ok"} == dict.fromkeys(faults, 1)
    # The search went on past the failures: generation 1 was trained, and healthy.
    assert [e.status for e in evaluations if e.trial.generation == 1] == ["ok"] * pop_size


# ---- real DeePMD-kit ------------------------------------------------------------------


def _dp_spec(tmp_path: Path, demo_data: Path, *, numb_steps: int, timeout_minutes: float,
             marker: str, pop_size: int) -> Path:
    from faults_testutil import REPO

    template = (REPO / "configs" / "templates" / "deepmd_se_e2_a_demo.json").read_text()
    spec = deepmd_spec(
        tmp_path / "run", pop_size=pop_size, workers=2, timeout_minutes=timeout_minutes,
        command=["dp", "--tf", "train", "input.json", "--skip-neighbor-stat"],
        env={"OMP_NUM_THREADS": "1", "DP_INTRA_OP_PARALLELISM_THREADS": "1",
             "DP_INTER_OP_PARALLELISM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "FAULTS_MARK": marker},
        settings={"train_systems": str(demo_data / "train"), "valid_systems": str(demo_data / "valid"),
                  "numb_steps": numb_steps, "decay_steps": 50, "disp_freq": 10},
        paths=["train_systems", "valid_systems"],
    )
    spec["space"] = {
        "start_lr": {"type": "float", "init": [1e-3, 3e-3], "sigma": 1e-4},
        "stop_lr": {"type": "float", "init": [1e-6, 1e-5], "sigma": 1e-6},
        "rcut": {"type": "float", "init": [5.0, 6.0], "sigma": 0.1},
        "rcut_smth": {"type": "float", "init": [1.0, 2.0], "sigma": 0.1},
        "scale_by_worker": {"type": "choice", "choices": ["linear"], "sigma": 0.5},
        "desc_activ_func": {"type": "choice", "choices": ["tanh"], "sigma": 0.5},
        "fitting_activ_func": {"type": "choice", "choices": ["tanh"], "sigma": 0.5},
    }
    return write_spec(tmp_path / "spec.yaml", spec, template=template)


@pytest.mark.slow
def test_real_dp_killed_by_sigkill_and_real_dp_past_its_time_limit(tmp_path: Path, demo_data: Path) -> None:
    """Two real ``dp`` trainings too long for their limit; one is SIGKILLed from outside
    once it has started writing lcurve.out (the OOM killer), the other runs into the limit.

    The limit, 30 s, is well past the moment a dp writes lcurve.out (7 s after the run
    starts here, two at once on two cores; twice that with another test process beside
    them): the SIGKILL comes first."""
    marker = f"dp-{os.getpid()}-{time.monotonic_ns()}"
    spec = _dp_spec(tmp_path, demo_data, numb_steps=100000, timeout_minutes=0.5, marker=marker, pop_size=2)
    killed: list[int] = []

    def oom_killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for pid, cmdline in processes_with("FAULTS_MARK", marker):
                try:
                    cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
                except OSError:
                    continue
                if "train" in cmdline and (cwd / "lcurve.out").exists():  # it is training
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.2)

    thread = threading.Thread(target=oom_killer, daemon=True)
    thread.start()
    started = time.monotonic()
    run_dir = run_in_process(spec)
    elapsed = time.monotonic() - started
    thread.join(5)
    assert killed, "no dp training was seen running"
    evaluations = assert_recorded_once(run_dir, 2)
    outcomes = sorted((e.status, e.reason) for e in evaluations)
    assert outcomes[0][0] == "failed" and "was killed by signal 9 (SIGKILL)" in outcomes[0][1], outcomes
    assert outcomes[1] == ("timeout", "killed at the time limit of 0.5 min (the whole process group)"), outcomes
    assert all(e.fitness == (MAXINT, MAXINT) for e in evaluations)
    assert processes_with("FAULTS_MARK", marker) == []
    print(f"real dp: one SIGKILLed, one timed out at 30 s; run took {elapsed:.1f} s")
