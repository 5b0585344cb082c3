"""The Pareto front of a set of evaluations, and the chemical accuracy its members are
judged by: the limits (per objective, from their units or given), how they are said, and
the rule (:func:`chemically_accurate`) that hpo-run's front table and hpo-report share.
The front table itself is :func:`dnnp_hpo.cli.front_tables`."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import moocore
import numpy as np

from dnnp_hpo.evaluation import RUNTIME, Evaluation

#: the paper's chemical accuracy (section 3.2), by :func:`normal_unit`: 4 meV/atom, 40 meV/A
DEFAULT_ACCURACY = {"ev/atom": 0.004, "ev/a": 0.04, "mev/atom": 4.0, "mev/a": 40.0}


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``points`` (minimised) that no other row dominates.

    Duplicated points are all kept: neither dominates the other.  No value may be NaN
    (moocore can then drop rows that nothing dominates); the callers pass successful
    evaluations, whose values hpo-run checked are finite.
    """
    points = np.asarray(points, dtype=float)
    if len(points) == 0:  # moocore wants a matrix, which an empty list is not
        return np.ones(0, dtype=bool)
    # keep_weakly: moocore would keep only the first of duplicated points on the front
    return moocore.is_nondominated(points, keep_weakly=True)


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


#: a unit to the power -1 after a space, a dot or a star (``eV Å^-1``, ``eV·Å⁻¹``, ``eV atom-1``)
_INVERSE = re.compile(r"[\s·*.]+([^\s·*./^-]+)\^?-1(?![\d.])")


def normal_unit(unit: str) -> str:
    """One spelling per unit: no spaces, lower case, Å (any of its three spellings in
    Unicode: one code point of two, or A and a combining ring) and angstrom as a, and a
    power -1 as a division (``eV Å^-1`` is ``eV/Å``)."""
    unit = unicodedata.normalize("NFC", unit).replace("⁻¹", "^-1").replace("\u2212", "-")  # a minus sign
    unit = _INVERSE.sub(r"/\1", unit)
    unit = "".join(unit.split())
    if unit.startswith("MeV"):  # mega-, not milli-electronvolt: not lower-cased into meV
        unit = "mega" + unit[1:]
    return unit.lower().replace("angstrom", "a").replace("å", "a")


def default_limits(objectives: Iterable[tuple[str, str]]) -> dict[str, float]:
    """The paper's chemical-accuracy limit of each ``(name, unit)`` objective whose unit is
    an energy per atom or a force in eV or meV (no limit for any other)."""
    return {name: DEFAULT_ACCURACY[normal] for name, unit in objectives
            if (normal := normal_unit(unit)) in DEFAULT_ACCURACY}


def accuracy_limits(objectives: Sequence[tuple[str, str]], given: Mapping[str, float]) -> dict[str, float]:
    """The chemical-accuracy limit of each ``(name, unit)`` objective, in their order: the
    one ``given`` (the spec's ``report.chemical_accuracy``, hpo-report's ``--accuracy``),
    else the paper's for its unit.  Given for one objective, a limit leaves the others'
    defaults in place: the paper's accuracy is both limits, and a forgotten one would call
    a model with 0.5 eV/Å force errors accurate.  An objective with neither has none."""
    defaults = default_limits(objectives)
    return {name: float(given.get(name, defaults.get(name, 0.0))) for name, _ in objectives
            if name in given or name in defaults}


def said_limits(objectives: Sequence[tuple[str, str]], limits: Mapping[str, float]) -> str:
    """``energy_rmse <= 0.004 eV/atom, force_rmse <= 0.04 eV/A``: each limit in its
    objective's unit, as hpo-run's front table, hpo-report's summary and figures say them."""
    units = dict(objectives)
    return ", ".join(f"{name} <= {limit:g} {units.get(name) or ''}".rstrip() for name, limit in limits.items())


def limits_text(objectives: Sequence[tuple[str, str]], limits: Mapping[str, float]) -> str:
    """:func:`said_limits`, and the objectives with no limit named (:func:`unlimited`)."""
    return "; ".join(part for part in (said_limits(objectives, limits), unlimited(objectives, limits)) if part)


def unlimited(objectives: Sequence[tuple[str, str]], limits: Mapping[str, float]) -> str:
    """``no limit for force_rmse (...)`` when some objectives have a limit and others none
    (else ""): a model is judged accurate on the limited ones only, so say which are not."""
    # the runtime is a cost, not an error: no accuracy limit to give it
    left = [name for name, _ in objectives if name not in limits and name != RUNTIME]
    if not limits or not left:
        return ""
    return (f"no limit for {left[0]} (give one in report.chemical_accuracy)" if len(left) == 1
            else f"no limits for {', '.join(left)} (give them in report.chemical_accuracy)")


def chemically_accurate(evaluation: Evaluation, objectives: Sequence[str],
                        thresholds: Mapping[str, float], *, succeeded: bool | None = None) -> bool | None:
    """Whether ``evaluation`` succeeded and every thresholded objective is at or below its
    threshold (None: no thresholds).

    ``succeeded`` says whether it counts as a success, by default its status ``ok``.
    hpo-report passes its own, stricter check (every value finite and below MAXINT): a
    journal written before hpo-run refused larger values can hold an ``ok`` at or above
    MAXINT, which the report counts as a failure and never as accurate.
    """
    if not thresholds:
        return None
    if not (evaluation.ok if succeeded is None else succeeded):
        return False
    values = dict(zip(objectives, evaluation.fitness))
    return all(values[name] <= limit for name, limit in thresholds.items())


def beside_limit(value: float, limit: float | None) -> float | str:
    """An objective's value as shown beside an accuracy flag (hpo-run's front table,
    summary.md): 4 significant digits (:func:`format_value`), or as many more as put it
    on its own side of the limit.  Else
    0.0040004 read "0.004" beside "not accurate" at a limit of 0.004, and a value just
    under a limit of 0.0040006 read "0.004001", above it, beside "accurate"."""
    if limit is None or not math.isfinite(value):
        return value
    side = (value > limit) - (value < limit)
    for digits in range(4, 18):
        text = f"{value:.{digits}g}"
        if (float(text) > limit) - (float(text) < limit) == side:
            return value if digits == 4 else text
    return repr(value)


def format_value(value: object) -> str:
    """A value as hpo-run's tables and progress display print it (a float to 4 significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
