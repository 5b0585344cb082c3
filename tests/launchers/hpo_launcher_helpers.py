"""Test-only helpers the launcher tests send to workers (Dask workers, Parsl workers).

Importable by the worker processes because the tests put ``tests/launchers`` on their
PYTHONPATH.  Nothing here is shipped.

* :func:`slow_zdt1`: the ``function`` trainer's ZDT1 that sleeps first, so a worker
  can be killed while an evaluation runs on it; it leaves a marker file while running.
* :func:`held_zdt1`: ZDT1 that waits while a file exists, for a run kept on while the
  test looks at it.
* :class:`LaunchedZDT1`: a tiny TEST-ONLY trainer with a ``launch_prefix``, standing in
  for the DeePMD trainer (plugins/deepmd, being written separately and not ready when
  these tests were written): each "training" is a separate process, ``PREFIX... python
  -m hpo_launcher_helpers PARAMS_JSON``, started the way the DeePMD trainer starts
  ``dp train`` under ``jsrun``/``srun`` in the batch-node set-up (paper, section 2.2.5).
  Registered only in-process, through ``load_registry(extra_plugins=(this module,))``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs

from dnnp_hpo.errors import TrainingFailed
from dnnp_hpo.evaluation import Trial, make_workdir
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.problems import zdt1
from dnnp_hpo.process import run_command

SLEEP_VARIABLE = "HPO_TEST_SLEEP"  #: seconds slow_zdt1 sleeps (default 0.5)
MARKER_VARIABLE = "HPO_TEST_MARKERS"  #: directory where slow_zdt1 marks running evaluations


@contextmanager
def _marked(params: Mapping[str, float]) -> Iterator[None]:
    """``$HPO_TEST_MARKERS/<pid>.<ns>`` (the parameters) exists while the block runs."""
    markers = os.environ.get(MARKER_VARIABLE)
    marker = Path(markers) / f"{os.getpid()}.{time.monotonic_ns()}" if markers else None
    if marker is not None:
        marker.write_text(json.dumps(dict(params)))
    try:
        yield
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def slow_zdt1(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1 after a nap; marked while it runs (:func:`_marked`)."""
    with _marked(params):
        time.sleep(float(os.environ.get(SLEEP_VARIABLE, "0.5")))
        return zdt1(params)


HOLD_VARIABLE = "HPO_TEST_HOLD"  #: held_zdt1 waits while the file it names exists


def held_zdt1(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1 once ``$HPO_TEST_HOLD`` is gone (2 minutes at most): a run that stays on until
    the test has looked at it, however long that takes, and not longer. Marked while it
    runs (:func:`_marked`)."""
    with _marked(params):
        hold = os.environ.get(HOLD_VARIABLE)
        deadline = time.monotonic() + 120
        while hold and Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return zdt1(params)


def fail_always(attempts_dir: str) -> None:
    """Record the attempt, then fail as an engine-level task failure would."""
    Path(attempts_dir).mkdir(parents=True, exist_ok=True)
    (Path(attempts_dir) / f"{os.getpid()}.{time.monotonic_ns()}").touch()
    raise RuntimeError("boom: this task always fails")


@attrs.frozen
class LaunchedZDT1:
    """TEST-ONLY trainer: ZDT1 computed in a child process started through ``launch_prefix``."""

    launch_prefix: str = ""
    objectives: tuple[str, ...] = ()

    def prepare(self, run) -> LaunchedZDT1:
        return attrs.evolve(self, objectives=tuple(run.objective_names))

    def render(self, trial: Trial) -> None:
        return None

    def train(self, trial: Trial) -> Mapping[str, float]:
        workdir = make_workdir(trial)
        argv = [*shlex.split(self.launch_prefix), sys.executable, "-m", "hpo_launcher_helpers",
                json.dumps(dict(trial.params))]
        done = run_command(argv, workdir, stdout=workdir / "out.txt", stderr=workdir / "err.txt", timeout=120)
        if done.returncode != 0:
            raise TrainingFailed(f"exit {done.returncode}: {(workdir / 'err.txt').read_text()[-200:]}")
        values = json.loads((workdir / "result.json").read_text())
        return dict(zip(self.objectives, values))


@hookimpl
def dnnp_hpo_trainers() -> dict[str, type]:
    return {"launched_zdt1": LaunchedZDT1}


def main(argv: list[str]) -> int:
    """The "training": write ZDT1 of the JSON params to result.json in the working directory.

    With ``$HPO_TEST_MARKERS`` set it first leaves ``<parent pid>.<ns>`` there (the parent
    is the worker that started it) and sleeps ``$HPO_TEST_SLEEP`` seconds.
    """
    markers = os.environ.get(MARKER_VARIABLE)
    if markers:
        (Path(markers) / f"{os.getppid()}.{time.monotonic_ns()}").touch()
        time.sleep(float(os.environ.get(SLEEP_VARIABLE, "0.5")))
    Path("result.json").write_text(json.dumps(list(zdt1(json.loads(argv[0])))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


THREADS_VARIABLE = "HPO_TEST_THREADS"  #: file threads_zdt1 appends each evaluation's thread counts to


def threads_zdt1(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1, after noting the thread counts its worker would give a training."""
    with open(os.environ[THREADS_VARIABLE], "a", encoding="utf-8") as out:
        out.write(json.dumps({name: os.environ.get(name) for name in (
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS",
            "DP_INTER_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS")}) + "\n")
    return zdt1(params)


MODULES_VARIABLE = "HPO_TEST_MODULES"  #: file modules_zdt1 appends whether its worker imported bokeh to


def modules_zdt1(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1, after noting whether its worker process has imported bokeh."""
    import sys

    with open(os.environ[MODULES_VARIABLE], "a", encoding="utf-8") as out:
        out.write(json.dumps({"bokeh": "bokeh" in sys.modules}) + "\n")
    return zdt1(params)


def pandas_imported(params: Mapping[str, float]) -> tuple[float, float]:
    """1.0 as f1 where this worker process has imported pandas (which nothing in a run
    needs; Dask's version report imported it), 0.0 where not; f2 is x0."""
    return float("pandas" in sys.modules), float(params["x0"])
