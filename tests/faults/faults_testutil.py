"""Helpers of the fault tests: specs, running the real driver, reading the journal, and
finding the processes an evaluation left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cli_testutil
from cli_testutil import zdt_spec

from dnnp_hpo.evaluation import Evaluation
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.journal import Journal

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent
FAKE_DP = HERE / "faults_dp.py"
MAXINT = 2147483647.0  # numpy.iinfo(numpy.int32).max, the paper's failure fitness
#: a template with the keys the stand-in reads; ``$x`` is the searched value
TEMPLATE = '{"x": $x, "act": "${act}", "seed": $seed, "training": {"disp_file": "lcurve.out"}}'


def deepmd_spec(run_dir: Path, *, command: str | Sequence[str] | None = None, env: dict[str, str] | None = None,
                pop_size: int = 4, generations: int = 0, workers: int = 2, timeout_minutes: float = 5,
                template: str = "tmpl.json", **trainer: Any) -> dict[str, Any]:
    """A spec with the real ``deepmd`` trainer running ``command`` (default: the stand-in dp)."""
    return {
        "name": "faults",
        "seed": 3,
        "run_dir": str(run_dir),
        "space": {
            "x": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
            "act": {"type": "choice", "choices": ["tanh", "relu"], "sigma": 0.5},
        },
        "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}],
        "trainer": {
            "plugin": "deepmd", "template": template, "check_input": False,
            "command": command if isinstance(command, str) else list(command or [sys.executable, str(FAKE_DP)]),
            "env": env or {}, "timeout_minutes": timeout_minutes, **trainer,
        },
        "optimizer": {"plugin": "nsga2", "pop_size": pop_size, "generations": generations},
        "launcher": {"plugin": "dask", "workers": workers},
    }


def function_spec(run_dir: Path, *, pop_size: int = 4, generations: int = 1, workers: int = 2,
                  callable_: str = "dnnp_hpo.problems:zdt1", n: int = 4) -> dict[str, Any]:
    """A spec with the ``function`` trainer (ZDT1 by default)."""
    return zdt_spec(run_dir, n=n, pop_size=pop_size, generations=generations, workers=workers,
                    callable_=callable_, name="faults")


def write_spec(path: Path, spec: dict[str, Any], template: str | None = TEMPLATE) -> Path:
    """Write ``spec`` (and, beside it, the template ``tmpl.json``) and return the spec's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if template is not None:
        (path.parent / "tmpl.json").write_text(template, encoding="utf-8")
    return cli_testutil.write_spec(path, spec)


def write_plan(path: Path, faults: Sequence[str]) -> Path:
    """The plan the stand-in dp takes its faults from, one per run, in claim order."""
    path.write_text(json.dumps(list(faults)))
    return path


class Stopped(Exception):
    """Raised by :class:`StopAfterGenerationZero`."""


class StopAfterGenerationZero:
    """Plugin: the driver stops after recording generation 0: a run started and not
    finished, to be resumed with an edited spec, template or data."""

    @hookimpl
    def dnnp_hpo_generation_finished(self, generation):
        raise Stopped(generation)


def run_in_process(spec: Path, extra_plugins: Sequence[object] = ()) -> Path:
    """Validate and run ``spec`` here exactly as ``hpo-run`` does; the run directory."""
    from dnnp_hpo.driver import execute, prepare_run
    from dnnp_hpo.registry import load_registry
    from dnnp_hpo.resume import check_run_dir

    registry = load_registry(tuple(extra_plugins))
    run, trainer = prepare_run(spec, registry)
    run = check_run_dir(run, resume=False, force=False)
    execute(run, trainer, registry)
    return run.run_dir


def journal_evaluations(run_dir: Path) -> list[Evaluation]:
    """Every finished evaluation the journal holds, by birth."""
    with Journal.of(run_dir, readonly=True) as journal:
        return journal.evaluations()


def assert_recorded_once(run_dir: Path, expected: int) -> list[Evaluation]:
    """The journal holds one finished record per birth 0..expected-1, none still running,
    and the database is intact."""
    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
        births = Counter(e.trial.birth_id for e in evaluations)
        assert sorted(births) == list(range(expected)), f"births recorded: {sorted(births.elements())}"
        assert set(births.values()) == {1}, f"births recorded twice: {[b for b, n in births.items() if n > 1]}"
        assert journal.running() == [], "rows still marked running after the run ended"
        assert journal.integrity() == "ok"
        assert journal.meta("finished", False), "the run did not finish"
        return evaluations


def subprocess_env(**extra: str) -> dict[str, str]:
    """os.environ with this directory on PYTHONPATH and the venv's bin first on PATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def hpo_run(*args: str, cwd: Path, timeout: float = 300, prefix: Sequence[str] = (),
            **env: str) -> subprocess.CompletedProcess:
    """The real ``hpo-run`` console script (after ``prefix``, e.g. setpriv), wide terminal."""
    return subprocess.run([*prefix, str(VENV_BIN / "hpo-run"), *args], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=subprocess_env(COLUMNS="250", **env))


def joined_sleep_spec(tmp_path: Path, scheduler_file: Path, sleep_s: float) -> Path:
    """A deepmd spec (RUN_DIR tmp_path/run, 4 a generation, generations 0 and 1) whose
    trainings sleep ``sleep_s`` seconds, joined to the 2-worker cluster of ``scheduler_file``."""
    spec = deepmd_spec(tmp_path / "run", pop_size=4, generations=1,
                       env={"FAULTS_FAULT": "sleep", "FAULTS_SLEEP": str(sleep_s)})
    spec["launcher"] = {"plugin": "dask", "scheduler_file": str(scheduler_file), "min_workers": 2,
                        "wait_timeout": 120}
    return write_spec(tmp_path / "spec.yaml", spec)
