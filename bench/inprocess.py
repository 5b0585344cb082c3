"""Drive the real optimizer in-process: same Study and NSGA2 plugin classes as hpo-run.

The quality benchmark measures the optimizer, not the engine: instead of a Dask pool it
gives the :class:`dnnp_hpo.study.Study` a :class:`SerialPool` that runs each evaluation
in the calling thread the moment it is submitted.  Observers (CSV records, journal) are
left out: the run context gets a hook caller with no plugins registered.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pluggy
import yaml

from dnnp_hpo import hookspecs
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.registry import load_registry
from dnnp_hpo.study import Study


class DoneFuture:
    """A future whose function already ran."""

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            self._value, self._error = fn(*args), None
        except Exception as exc:  # noqa: BLE001 - re-raised by result(), like a real future
            self._value, self._error = None, exc

    def done(self) -> bool:
        return True

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class SerialPool:
    """A :class:`dnnp_hpo.hookspecs.Pool` that evaluates in-process, one at a time."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> DoneFuture:
        return DoneFuture(fn, args)

    def as_completed(self, futures: Iterable[DoneFuture], timeout: float | None = None) -> Iterator[DoneFuture]:
        yield from futures  # all done: never a timeout

    @property
    def size(self) -> int:
        return 1


def function_spec(problem: str, n_var: int, n_obj: int, optimizer: dict[str, Any], seed: int,
                  sigma: float = 0.1) -> dict[str, Any]:
    """A spec for ``dnnp_hpo.problems:<problem>`` on [0, 1]^n_var (sigma 10% of the range)."""
    return {
        "name": f"bench-{problem}",
        "seed": int(seed),
        "space": {f"x{i}": {"type": "float", "init": [0.0, 1.0], "sigma": sigma} for i in range(n_var)},
        "objectives": [{"name": f"f{i + 1}"} for i in range(n_obj)],
        "trainer": {"plugin": "function", "callable": f"dnnp_hpo.problems:{problem}"},
        "optimizer": {"plugin": "nsga2", **optimizer},
        "launcher": {"plugin": "dask", "workers": 1},
    }


_REGISTRY = None
_QUIET = None


def run_inprocess(spec: dict[str, Any], pool: Any = None,
                  optimize: Callable[[Study], Sequence[Any]] | None = None) -> list[tuple[float, ...]]:
    """Run the spec's optimizer on ``pool`` (default: a SerialPool); return the final
    population's fitnesses.  ``optimize(study)``, if given, runs instead of the spec's
    optimizer and returns the final members (bench/tune.py: options no spec field sets)."""
    global _REGISTRY, _QUIET
    if _REGISTRY is None:
        _REGISTRY = load_registry()
        quiet = pluggy.PluginManager(hookspecs.PROJECT)
        quiet.add_hookspecs(hookspecs)
        _QUIET = quiet.hook
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump({**spec, "run_dir": str(Path(tmp) / "run")}), encoding="utf-8")
        run, trainer = prepare_run(path, _REGISTRY)
        run = attrs.evolve(run, hook=_QUIET)
        study = Study(run, trainer, pool or SerialPool())
        population = optimize(study) if optimize else run.experiment.optimizer.run(study, None)
    return [tuple(m.evaluation.fitness) for m in population]


def final_fitnesses(members: Sequence[Any]) -> list[tuple[float, ...]]:
    return [tuple(m.evaluation.fitness) for m in members]
