"""Test-only pieces for the resume tests, importable by the Dask workers (on PYTHONPATH).

``FileTrainer`` is a deterministic trainer that leaves its result in its evaluation
directory (as DeePMD leaves lcurve.out) and can harvest it; every training appends
its birth id to a log so a test can count trainings.  Run as a script, this module is
``hpo-run`` with an observer that SIGKILLs the driver at a chosen event.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import attrs

from dnnp_hpo.evaluation import make_workdir
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.problems import zdt1

RESULT = "result.json"


@attrs.frozen
class FileTrainer:
    """ZDT1 as a 'training' that takes ``seconds`` and writes result.json."""

    log: str
    seconds: float = 0.05
    objectives: tuple[str, ...] = ()

    def prepare(self, run):
        return attrs.evolve(self, objectives=tuple(run.objective_names))

    def render(self, trial):
        return None

    def train(self, trial):
        workdir = make_workdir(trial)
        time.sleep(self.seconds)
        values = dict(zip(self.objectives, zdt1(trial.params)))
        # Written whole or not at all: a worker stopped mid-write when the driver is
        # SIGKILLed left an empty result.json once, which harvest then failed to parse.
        (workdir / f"{RESULT}.part").write_text(json.dumps(values))
        os.replace(workdir / f"{RESULT}.part", workdir / RESULT)
        with open(self.log, "a") as handle:
            handle.write(f"{trial.birth_id}\n")
        return values

    def harvest(self, trial):
        result = trial.workdir / RESULT
        return json.loads(result.read_text()) if result.exists() else None


class Plugin:
    @hookimpl
    def dnnp_hpo_trainers(self):
        return {"file": FileTrainer}


class Killer:
    """SIGKILLs the driver at the n-th ``event`` (before the journal records it)."""

    def __init__(self, event: str, n: int) -> None:
        self.event, self.n, self.seen = event, n, 0

    def _tick(self, event: str) -> None:
        if event == self.event:
            self.seen += 1
            if self.seen == self.n:
                os.kill(os.getpid(), signal.SIGKILL)

    @hookimpl(tryfirst=True)
    def dnnp_hpo_evaluation_finished(self):
        self._tick("evaluation_finished")

    @hookimpl(tryfirst=True)
    def dnnp_hpo_evaluation_started(self):
        self._tick("evaluation_started")

    @hookimpl(tryfirst=True)
    def dnnp_hpo_generation_finished(self):
        self._tick("generation_finished")


def main(argv: list[str]) -> int:
    """``python resumable.py EVENT N hpo-run-args...`` (EVENT none: never kill)."""
    from dnnp_hpo import cli, registry

    event, n, rest = argv[0], int(argv[1]), argv[2:]
    extras = (Plugin(),) if event == "none" else (Plugin(), Killer(event, n))
    cli.load_registry = lambda: registry.load_registry(extras)
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
