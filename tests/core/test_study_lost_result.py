"""A training reported finished whose result is lost before the Study looks.

Dask keeps a result on the worker that computed it; when that worker dies, the future
goes back to pending and Dask computes it again.  Between the pool's ``as_completed``
reporting it done and the Study looking at which futures are done, nothing may be done
any more: the Study raised ``ValueError: min() arg is an empty sequence`` (exit 4), seen
once in tests/core/test_worker_crashes.py on a real cluster whose trainings crash their
workers.  A real cluster cannot be made to lose a result in that gap on cue, so the pool
here is a stand-in for that one behaviour (threads run the real trainings); the Study,
the trainer and the evaluation records are the real ones.
"""

from __future__ import annotations

import concurrent.futures

import attrs
import pluggy
from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo import hookspecs
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.registry import load_registry
from dnnp_hpo.study import Study


class RelapsingFuture:
    """A finished future that reads as pending once it has been reported done, until its
    result is asked for (as a Dask future whose worker died while it was being reported)."""

    def __init__(self, future: concurrent.futures.Future) -> None:
        self.future = future
        self.relapsed = False

    def done(self) -> bool:
        return self.future.done() and not self.relapsed

    def result(self):
        self.relapsed = False  # computed again: Dask's result() waits for that
        return self.future.result()


class RelapsingPool:
    def __init__(self) -> None:
        self.executor = concurrent.futures.ThreadPoolExecutor(2)

    def submit(self, fn, /, *args):
        return RelapsingFuture(self.executor.submit(fn, *args))

    def as_completed(self, futures, timeout=None):
        by_inner = {f.future: f for f in futures}
        for inner in concurrent.futures.as_completed(list(by_inner), timeout=timeout):
            reported = by_inner[inner]
            reported.relapsed = True  # lost right after it was reported
            yield reported

    @property
    def size(self) -> int:
        return 2


def test_a_result_lost_after_it_was_reported_is_taken_when_computed_again(tmp_path):
    run, trainer = prepare_run(write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", n=2)), load_registry())
    observers = pluggy.PluginManager(hookspecs.PROJECT)  # none: no progress display, no journal
    observers.add_hookspecs(hookspecs)
    pool = RelapsingPool()
    study = Study(attrs.evolve(run, hook=observers.hook), trainer, pool)
    try:
        evaluations = study.evaluate([[0.25, 0.5], [0.75, 0.5]], generation=0)
    finally:
        pool.executor.shutdown()
    assert [e.status for e in evaluations] == ["ok", "ok"]
    assert [e.trial.params for e in evaluations] == [{"x0": 0.25, "x1": 0.5}, {"x0": 0.75, "x1": 0.5}]
    assert study.pending == 0
