"""Trainer plugin ``function``: evaluate a Python callable instead of training.

``trainer: {plugin: function, callable: "package.module:func"}`` calls
``func(params) -> sequence of floats`` (one per objective, in spec order; or a mapping of
objective names to values) on the
workers.  Tests and optimizer benchmarks use it (ZDT, DTLZ) to exercise everything but
the neural-network training.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from dnnp_hpo.errors import SpecError, TrainingFailed, exit_call, shown
from dnnp_hpo.evaluation import ERROR, Trial
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.run import RunContext


def load_callable(reference: str) -> Callable[..., Any]:
    """Import ``package.module:attribute``; SpecError naming what is wrong."""
    module_name, sep, attribute = reference.partition(":")
    # Dotted names only: importlib takes '..x' as a relative import and raises TypeError,
    # and a name that is not an identifier cannot be a module or an attribute anyway.
    if not sep or not all(part.isidentifier() for part in (*module_name.split("."), *attribute.split("."))):
        raise SpecError(f"expected 'package.module:function' (dotted Python names), got {reference!r}",
                        "callable")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"cannot import {module_name!r}: {exc}", "callable") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise SpecError(f"{module_name!r} has no attribute {attribute!r}", "callable")
        target = getattr(target, part)
    if not callable(target):
        raise SpecError(f"{reference!r} is not callable", "callable")
    return target


def _check_takes_params(function: Callable[..., Any], reference: str) -> None:
    """SpecError unless ``function`` can be called with the parameters alone.

    Checked here so that a wrong signature is one line before the run, not a TypeError
    recorded for every evaluation.
    """
    try:
        # The callable's own signature: a decorator's wrapper (functools.wraps) is what is
        # called, whatever the wrapped function takes.
        signature = inspect.signature(function, follow_wrapped=False)
    except (TypeError, ValueError):  # some builtins have no signature to read: trust them
        return
    try:
        signature.bind({})
    except TypeError:
        raise SpecError(f"{reference} has the signature {signature}: expected a function of one "
                        "argument, the dict of parameters", "callable") from None


@attrs.frozen
class FunctionTrainer:
    """Fields of the ``trainer:`` block."""

    callable: str

    def prepare(self, run: RunContext) -> PreparedFunction:
        _check_takes_params(load_callable(self.callable), self.callable)
        return PreparedFunction(self.callable, tuple(run.objective_names))

    def render(self, trial: Trial) -> None:
        return None

    def train(self, trial: Trial) -> Mapping[str, float]:
        raise RuntimeError("FunctionTrainer.train: call prepare(run) first and use what it returns")


@attrs.frozen
class PreparedFunction(FunctionTrainer):
    """The checked trainer, sent to the workers: the callable and the objectives it scores."""

    objectives: tuple[str, ...]  #: the run's objective names, in spec order

    def prepare(self, run: RunContext) -> PreparedFunction:
        return self

    def train(self, trial: Trial) -> Mapping[str, float]:
        try:
            result = load_callable(self.callable)(dict(trial.params))
        except SystemExit as exc:  # core would catch it too; here the reason names the callable
            raise TrainingFailed(f"{self.callable} called {exit_call(exc)}", status=ERROR) from None
        if isinstance(result, Mapping):
            # Metric names to values, as any trainer returns them (its keys were taken for
            # the values: "'energy_rmse': 'energy_rmse' (a str)"); core checks them.
            return result
        # Not list() under an except TypeError: a generator that fails part-way raises its
        # own error, which is what its author needs to read.
        values = list(result) if isinstance(result, Iterable) and not isinstance(result, (str, bytes)) else None
        if values is None or len(values) != len(self.objectives):
            # The callable's mistake, not the candidate's: status error, as a plugin's.
            got = (f"{len(values)} values" if values is not None
                   else f"a {type(result).__name__} ({shown(result)})")
            raise TrainingFailed(f"{self.callable} returned {got} for {len(self.objectives)} objectives: expected "
                                 "their values in spec order, or a mapping of objective names to values",
                                 status=ERROR)
        return dict(zip(self.objectives, values))


@hookimpl
def dnnp_hpo_trainers() -> dict[str, type]:
    return {"function": FunctionTrainer}
