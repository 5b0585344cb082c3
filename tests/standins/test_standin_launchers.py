"""The jsrun/srun stand-ins read their options as the real tools do.

* compact short options (``-n1 -a6 -bpacked:7``), separate values (``-n 1``), long options
  with ``=`` or a separate value, grouped flags, ``--``: the command and its arguments
  are what follows the options, never an option's value;
* jsrun starts ``-n`` resource sets x ``-a`` tasks (or ``-p`` tasks), srun ``-n`` tasks,
  else ``--ntasks-per-node`` x ``-N``, else one per node;
* an option the stand-in does not know is refused (exit 1, one message), nothing run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

BIN = Path(__file__).resolve().parent / "bin"


def run(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
               "STANDIN_STATE_DIR": str(tmp_path / "state"), "STANDIN_LOG": str(tmp_path / "calls.jsonl")}
    for name in [k for k in environ if k.startswith(("SLURM_", "JSM_", "STANDIN_STEP"))]:
        del environ[name]
    return subprocess.run(list(argv), cwd=tmp_path, env={**environ, **(env or {})}, capture_output=True,
                          text=True, timeout=60, check=False)


def ranks(done: subprocess.CompletedProcess) -> list[str]:
    return sorted(done.stdout.split(), key=int)


def test_jsrun_the_documented_prefix_runs_the_command_with_its_arguments(tmp_path: Path) -> None:
    """hpc.md's and summit-dask.yaml's prefix: one resource set of 6 tasks."""
    done = run(tmp_path, "jsrun", "-n1", "-a6", "-c42", "-g6", "-bpacked:7", "echo", "hi", "there")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["hi there"] * 6


@pytest.mark.parametrize(("argv", "expected"), [
    (["-n", "2", "-a", "3"], 6),                          # resource sets x tasks per set
    (["-n2", "-a3", "-c", "4"], 6),
    (["--nrs", "2", "--tasks_per_rs=2", "--bind", "none"], 4),
    (["--nrs=3"], 3),
    (["-p4", "-n1"], 4),                                  # -p/--np: the number of tasks
    (["-n", "1", "-r", "1"], 1),                          # Parsl's JsrunLauncher
    (["-c42", "-g6"], 1),
    (["--", "-n5"], None),                                # after --, the command
])
def test_jsrun_tasks(tmp_path: Path, argv: list[str], expected: int | None) -> None:
    command = ["sh", "-c", 'echo "$JSM_NAMESPACE_RANK"']
    done = run(tmp_path, "jsrun", *argv, *command)
    if expected is None:
        assert done.returncode == 127 and "cannot run '-n5'" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert ranks(done) == [str(r) for r in range(expected)]


@pytest.mark.parametrize(("argv", "expected"), [
    (["-N1", "-n8", "-c7"], 8),
    (["-N", "1", "-n", "8", "-c", "7"], 8),
    (["--nodes=1", "--ntasks=2", "--cpus-per-task=7", "--gpus-per-task=1", "--gpu-bind=closest", "--exact"], 2),
    (["--ntasks", "3", "-l", "--cpu-bind=none"], 3),     # Parsl's SrunLauncher
    (["-N", "1", "-n", "1", "--gpus-per-node", "8", "--exclusive"], 1),
    (["-N2"], 2),                                          # one task per node
    (["-N2", "--ntasks-per-node=2"], 4),
    (["-lu", "-n2"], 2),                                   # grouped flags
    (["-N1", "--ntasks-per=2"], 2),                        # an unambiguous prefix, as getopt_long takes
    (["--exclusive=user", "-K1", "-n", "2"], 2),           # optional arguments, attached
])
def test_srun_tasks(tmp_path: Path, argv: list[str], expected: int) -> None:
    done = run(tmp_path, "srun", *argv, "sh", "-c", 'echo "$SLURM_PROCID"')
    assert done.returncode == 0, done.stderr
    assert ranks(done) == [str(r) for r in range(expected)]


@pytest.mark.parametrize(("argv", "message"), [
    (["srun", "--no-such", "touch", "ran"], "unrecognized option '--no-such'"),
    (["srun", "--ntask", "2", "touch", "ran"], "unrecognized option '--ntask': it is ambiguous"),
    (["srun", "-z", "touch", "ran"], "invalid option -- 'z'"),
    (["srun", "--exact=1", "touch", "ran"], "option '--exact' doesn't allow an argument"),
    (["srun", "--gpus", "touch", "ran"], None),  # the value is 'touch': 'ran' is no command
    (["srun", "-n", "x", "touch", "ran"], "--ntasks: invalid number 'x'"),
    (["jsrun", "--nodes", "1", "touch", "ran"], "unrecognized option '--nodes'"),
    (["jsrun", "-N1", "touch", "ran"], "invalid option -- 'N'"),
    (["jsrun", "-n"], "option requires an argument -- 'n'"),
    (["jsrun", "-n0", "touch", "ran"], "--nrs: must be at least 1"),
])
def test_a_command_line_the_real_tool_refuses_is_refused(tmp_path: Path, argv: list[str], message) -> None:
    done = run(tmp_path, *argv)
    assert done.returncode != 0
    assert not (tmp_path / "ran").exists()
    if message is not None:
        assert done.returncode == 1
        assert f"{argv[0]} (stand-in): {message}" in done.stderr, done.stderr


def test_no_command_is_an_error(tmp_path: Path) -> None:
    done = run(tmp_path, "srun", "-n1")
    assert done.returncode == 2 and "no command given" in done.stderr
