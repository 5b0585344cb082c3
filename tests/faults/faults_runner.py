"""``hpo-run`` with a test observer: ``python faults_runner.py OBSERVER ARG hpo-run-args...``.

The real console script's ``main``, with one more plugin registered:

* ``readonly GENERATION``: makes ``RUN_DIR/evals`` read-only (mode 0555) when the run
  starts (GENERATION -1) or once generation GENERATION is recorded, as a file system
  remounted read-only or a full quota would leave it;
* ``readonly-run GENERATION``: makes the whole run directory and the files in it
  read-only once generation GENERATION is recorded (a file system remounted read-only):
  the run's own records can no longer be written;
* ``rss FILE``: appends ``rss <evaluations> <kib>`` to FILE after every 100 evaluations,
  ``objects <evaluations> <n>`` (the live Trial and Evaluation objects of the driver)
  after every 500, and the driver's peak RSS (``peak <kib>``) when the run finishes.
"""

from __future__ import annotations

import gc
import resource
import sys
from pathlib import Path

from dnnp_hpo.evaluation import Evaluation, Trial
from dnnp_hpo.hookspecs import hookimpl


class ReadOnlyEvals:
    def __init__(self, generation: int) -> None:
        self.generation = generation

    @staticmethod
    def _lock(run) -> None:
        run.evals_dir.mkdir(parents=True, exist_ok=True)
        run.evals_dir.chmod(0o555)

    @hookimpl
    def dnnp_hpo_run_started(self, run) -> None:
        if self.generation < 0:
            self._lock(run)

    @hookimpl
    def dnnp_hpo_generation_finished(self, run, generation) -> None:
        if generation == self.generation:
            self._lock(run)


class ReadOnlyRun:
    def __init__(self, generation: int) -> None:
        self.generation = generation

    @hookimpl
    def dnnp_hpo_generation_finished(self, run, generation) -> None:
        if generation == self.generation:
            for path in run.run_dir.iterdir():
                if path.is_file():
                    path.chmod(0o444)
            run.run_dir.chmod(0o555)


def current_rss_kib() -> int:
    """Resident set size of this process now (Linux /proc), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.count = 0

    def _write(self, line: str) -> None:
        with open(self.path, "a") as handle:
            handle.write(line + "\n")

    @hookimpl
    def dnnp_hpo_evaluation_finished(self) -> None:
        self.count += 1
        if self.count % 100 == 0:
            self._write(f"rss {self.count} {current_rss_kib()}")
        if self.count % 500 == 0:
            live = sum(isinstance(o, (Trial, Evaluation)) for o in gc.get_objects())
            self._write(f"objects {self.count} {live}")

    @hookimpl
    def dnnp_hpo_run_finished(self) -> None:
        self._write(f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")  # KiB on Linux


def main(argv: list[str]) -> int:
    from dnnp_hpo import cli, registry

    kind, arg, rest = argv[0], argv[1], argv[2:]
    observers = {"readonly": lambda: ReadOnlyEvals(int(arg)), "readonly-run": lambda: ReadOnlyRun(int(arg)),
                 "rss": lambda: RssSampler(arg)}
    observer = observers[kind]()
    cli.load_registry = lambda: registry.load_registry((observer,))
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
