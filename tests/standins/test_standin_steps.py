"""Job steps of the jsrun/srun stand-ins, and steps started inside them.

A real jsrun or srun started inside a job step that holds its node's cores and GPUs
(a Parsl worker pool started by jsrun/srun, say) waits for them until the job's time
limit.  The stand-ins give their tasks the step's variables (SLURM_STEP_ID, SLURM_PROCID;
JSM_NAMESPACE_RANK) and refuse such a nested step at once, with a message, instead of
running it as if the node were free; ``srun --overlap`` (inner or outer) shares them.
A step started by the batch script itself is no nested step.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

BIN = Path(__file__).resolve().parent / "bin"


def environ(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "STANDIN_STATE_DIR": str(tmp_path / "state"), "STANDIN_LOG": str(tmp_path / "calls.jsonl")}
    return {k: v for k, v in env.items() if not k.startswith(("SLURM_", "JSM_", "LSB_", "STANDIN_STEP"))}


def run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=tmp_path, env=environ(tmp_path), capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("outer", [["srun", "-n1"], ["srun", "-N", "1", "--exact"], ["jsrun", "-n1", "-a1"]])
@pytest.mark.parametrize("inner", [["srun", "-N1", "-n1"], ["jsrun", "-n1", "-a6", "-c42", "-g6"]])
def test_a_step_inside_a_step_is_refused(tmp_path: Path, outer: list[str], inner: list[str]) -> None:
    done = run(tmp_path, *outer, *inner, "touch", "ran")
    assert done.returncode == 1, done.stderr
    assert f"{inner[0]} (stand-in): would wait for resources held by step " in done.stderr, done.stderr
    assert not (tmp_path / "ran").exists(), "the nested command never runs"


@pytest.mark.parametrize("argv", [
    ["srun", "-n1", "srun", "--overlap", "-n1"],
    ["srun", "--overlap", "-n1", "srun", "-n1"],
])
def test_srun_overlap_shares_the_step(tmp_path: Path, argv: list[str]) -> None:
    done = run(tmp_path, *argv, "touch", "ran")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran").exists()


def test_the_tasks_get_the_steps_variables(tmp_path: Path) -> None:
    show = 'echo "$SLURM_STEP_ID $SLURM_STEPID $SLURM_PROCID $SLURM_NTASKS"'
    first = run(tmp_path, "srun", "-n2", "sh", "-c", show)
    second = run(tmp_path, "srun", "-n1", "sh", "-c", show)
    assert sorted(first.stdout.splitlines()) == ["0 0 0 2", "0 0 1 2"], first.stderr
    assert second.stdout.splitlines() == ["1 1 0 1"], "the next step of the job"
    jsm = run(tmp_path, "jsrun", "-n1", "-a2", "sh", "-c", 'echo "$JSM_NAMESPACE_RANK $JSM_NAMESPACE_SIZE"')
    assert sorted(jsm.stdout.splitlines()) == ["0 2", "1 2"], jsm.stderr


@pytest.mark.parametrize(("submit", "launch"), [("sbatch", "srun -N1 -n2"), ("bsub", "jsrun -n1 -a2")])
def test_a_step_of_the_batch_script_runs(tmp_path: Path, submit: str, launch: str) -> None:
    """The batch script holds no step: its jsrun/srun (the per-training prefix of the
    batch-node set-up) starts one."""
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\n{launch} sh -c 'echo task >> {tmp_path}/tasks'\n")
    done = run(tmp_path, submit, str(script))
    assert done.returncode == 0, done.stderr
    rc = next((tmp_path / "state").glob("*/rc"), None)
    deadline = time.monotonic() + 30
    while (rc is None or not rc.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
        rc = next((tmp_path / "state").glob("*/rc"), None)
    assert rc is not None and rc.read_text().strip() == "0"
    assert (tmp_path / "tasks").read_text().splitlines() == ["task", "task"]
