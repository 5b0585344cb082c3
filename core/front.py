"""The Pareto front of a set of evaluations, and the table printed at the end of a run."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from dnnp_hpo.evaluation import Evaluation

#: the paper's chemical accuracy (section 3.2), by :func:`normal_unit`: 4 meV/atom, 40 meV/A
DEFAULT_ACCURACY = {"ev/atom": 0.004, "ev/a": 0.04, "mev/atom": 4.0, "mev/a": 40.0}


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``points`` (minimised) that no other row dominates.

    Duplicated points are all kept: neither dominates the other.
    """
    points = np.asarray(points, dtype=float)
    keep = np.ones(len(points), dtype=bool)
    for i, p in enumerate(points):
        dominated_by = np.all(points <= p, axis=1) & np.any(points < p, axis=1)
        keep[i] = not dominated_by.any()
    return keep


def pareto_front(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """The successful evaluations on the exact front, sorted by the first objective.

    Each training once (a survivor is listed in several generations' populations); a
    genome trained more than once (replicates) is judged by each training, so its
    trainings that another training dominates are not on the front.
    """
    unique: dict[str, Evaluation] = {}
    for e in evaluations:
        if e.ok:
            unique.setdefault(e.trial.uuid, e)
    candidates = list(unique.values())
    if not candidates:
        return []
    mask = non_dominated(np.array([e.fitness for e in candidates]))
    return sorted((e for e, k in zip(candidates, mask) if k), key=lambda e: e.fitness)


def normal_unit(unit: str) -> str:
    """One spelling per unit: no spaces, lower case, Å (any of its three spellings in
    Unicode: one code point of two, or A and a combining ring) and angstrom as a."""
    unit = "".join(unicodedata.normalize("NFC", unit).split())
    if unit.startswith("MeV"):  # mega-, not milli-electronvolt: not lower-cased into meV
        unit = "mega" + unit[1:]
    return unit.lower().replace("angstrom", "a").replace("å", "a")


def default_limits(objectives: Iterable[tuple[str, str]]) -> dict[str, float]:
    """The paper's chemical-accuracy limit of each ``(name, unit)`` objective whose unit is
    an energy per atom or a force in eV or meV (no limit for any other)."""
    return {name: DEFAULT_ACCURACY[normal] for name, unit in objectives
            if (normal := normal_unit(unit)) in DEFAULT_ACCURACY}


def chemically_accurate(evaluation: Evaluation, objectives: Sequence[str],
                        thresholds: Mapping[str, float]) -> bool | None:
    """Whether every thresholded objective is at or below its threshold (None: no thresholds)."""
    if not thresholds:
        return None
    values = dict(zip(objectives, evaluation.fitness))
    return evaluation.ok and all(values[name] <= limit for name, limit in thresholds.items())


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
