"""The Pareto front of a set of evaluations, and the table printed at the end of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dnnp_hpo.evaluation import Evaluation


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
