"""Constraints between parameters: ``a < b``, ``rcut_smth <= 3.5``; parsed, never eval'ed."""

from __future__ import annotations

import itertools
import math
import numbers
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from dnnp_hpo.errors import short_number

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}
#: a parameter name (core/space.py requires every parameter to have one of these)
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: ASCII digits: \d is any Unicode digit, and float() read 'x0 < \u0661' (Arabic-Indic one) as 1.0
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_OPERAND = rf"(?:{NAME}|{_NUMBER})"
_PATTERN = re.compile(rf"^\s*({_OPERAND})\s*(<=|>=|==|!=|<|>)\s*({_OPERAND})\s*$")


@attrs.frozen
class Constraint:
    """``left OP right``; each side a parameter name or a number."""

    text: str
    left: str | float
    op: str
    right: str | float

    def names(self) -> list[str]:
        return [side for side in (self.left, self.right) if isinstance(side, str)]

    def holds(self, params: Mapping[str, Any]) -> bool:
        """True when the decoded parameters satisfy the constraint."""
        def value(side: str | float) -> Any:
            return params[side] if isinstance(side, str) else side

        return bool(_COMPARATORS[self.op](value(self.left), value(self.right)))


def violated(constraints: Iterable[Constraint], params: Mapping[str, Any]) -> list[str]:
    """The text of each constraint that ``params`` break: a candidate is infeasible if any."""
    return [c.text for c in constraints if not c.holds(params)]


#: most pairs of values tried for a constraint between two parameters that list theirs;
#: beyond, it is not judged (a few choices each is the use)
MOST_PAIRS = 100_000


def never_holds(constraint: Constraint, space: Mapping[str, Any]) -> str | None:
    """Why no candidate can meet ``constraint``, judged from the values each parameter it
    names can take; None if some candidate can, or if that is not certain.

    ``x0 > 5`` with x0 in [0, 1] (a typo, or a range since narrowed) made every candidate
    infeasible: the run trained nothing and ended with no result, exit 1.  A parameter's
    values are those its type lists (``values``, a choice's), else the closed interval its
    type declares with ``value_range`` (the built-in float and int); a type with neither is
    not judged.  An interval stands for every value in it, so an int's gaps are never
    held against a constraint (``n == 1.5`` passes).
    """
    taken = {}
    for name in constraint.names():
        values = _values_taken(space[name])
        if values is None:
            return None
        taken[name] = values
    given = [side for side in (constraint.left, constraint.right) if not isinstance(side, str)]
    tried = {name: _tried(values, given + [v for other in taken if other != name for v in taken[other][1]])
             for name, values in taken.items()}
    if math.prod(len(values) for values in tried.values()) > MOST_PAIRS:
        return None
    if any(constraint.holds(dict(zip(tried, values))) for values in itertools.product(*tried.values())):
        return None
    said = " and ".join(_described(name, values) for name, values in taken.items())
    return f"{constraint.text!r} never holds (every candidate would be infeasible): {said}"


#: random candidates drawn to judge constraints together (none_together)
JOINT_SAMPLES = 20_000


def none_together(constraints: list[Constraint], space: Mapping[str, Any], seed: int = 0) -> str | None:
    """Why no candidate may meet ``constraints`` together, though each alone can (never_holds
    judges that): ``x0 < 0.3`` beside ``x0 > 0.7``, or ``x0 < x1`` beside ``x1 < x0``, made
    every candidate infeasible and the run ended with no result (helper-110).

    Judged as never_holds judges one, from the values each parameter can take (a type
    that declares neither ``values`` nor ``value_range`` leaves the constraints to the
    run): :data:`JOINT_SAMPLES` candidates, each parameter drawn half the time from its
    range (or its listed values) and half from the values that decide a comparison (its
    range's ends, and the numbers and other parameters' ends the constraints compare it
    with), so ``rcut >= 8.0`` on [4, 8] or ``nsteps == 400000`` is met (a seeded draw:
    the same spec, the same verdict), stopping at the first that meets them all.  None
    if one does, or for a single constraint."""
    if len(constraints) < 2:
        return None
    import random

    names = sorted({name for c in constraints for name in c.names()})
    taken = {name: _values_taken(space[name]) for name in names}
    if any(values is None for values in taken.values()):
        return None
    compared = [side for c in constraints for side in (c.left, c.right) if not isinstance(side, str)]
    ends = [v for kind, values in taken.values() if kind == "range" for v in values]
    special = {name: _tried(values, compared + ends) for name, values in taken.items()}
    rng = random.Random(seed)

    def draw(name: str) -> Any:
        kind, values = taken[name]
        if rng.random() < 0.5:
            return rng.choice(special[name])
        return rng.choice(values) if kind == "listed" else rng.uniform(*values)

    for _ in range(JOINT_SAMPLES):
        if not violated(constraints, {name: draw(name) for name in names}):
            return None
    texts = ", ".join(repr(c.text) for c in constraints)
    return (f"{texts} held together for none of {JOINT_SAMPLES:,} candidates drawn from the parameters' values "
            "(each alone can hold): every candidate would be infeasible, nothing trained; drop or correct one")


def _values_taken(parameter: Any) -> tuple[str, tuple[Any, ...]] | None:
    """("listed", values) or ("range", (low, high)) of a parameter; None if not known as numbers."""
    from dnnp_hpo.space import listed_values  # space imports NAME from here

    listed = listed_values(parameter)
    taken = ("listed", listed) if listed else ("range", tuple(getattr(parameter, "value_range", None) or ()))
    # Strings are the spec check's own message; NaN compares false with everything.
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                  and not (isinstance(v, float) and math.isnan(v)) for v in taken[1])
    return taken if taken[1] and numeric else None


def _tried(taken: tuple[str, tuple[Any, ...]], toward: list[Any]) -> list[Any]:
    """The values of one parameter a constraint is tried with: every listed one, or an
    interval's ends and the other side's values brought into it (the ends decide an order,
    the nearest point an equality)."""
    kind, values = taken
    if kind == "listed":
        return list(values)
    low, high = values
    return [low, high, *(min(max(v, low), high) for v in toward)]


def _described(name: str, taken: tuple[str, tuple[Any, ...]]) -> str:
    kind, values = taken
    if kind == "range":
        return f"{name} takes values from {_number(values[0])} to {_number(values[1])} (space.{name})"
    shown = ", ".join(_number(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
    return f"{name} takes only the values {shown} (space.{name})"


def _number(value: Any) -> str:
    if not isinstance(value, float):  # an int may be beyond any float (a choice of 400 digits)
        return short_number(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _operand(token: str) -> str | float:
    return token if re.fullmatch(NAME, token) else float(token)


def parse_constraint(text: Any) -> Constraint:
    """Parse one constraint; ValueError with what is expected if it does not fit."""
    if not isinstance(text, str):
        # ValueError, like every other way a constraint can be wrong: callers report one kind
        raise ValueError(f"expected a comparison such as 'stop_lr < start_lr', got {text!r}")  # noqa: TRY004
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"cannot parse {text!r}: expected NAME OP NAME or NAME OP NUMBER with OP one of < <= > >= == != "
            "(a NUMBER in ASCII digits, as 0.5 or 1e-3)"
        )
    left, op, right = match.groups()
    constraint = Constraint(text, _operand(left), op, _operand(right))
    if not constraint.names():
        raise ValueError(f"{text!r} compares two numbers: name at least one parameter")
    if constraint.left == constraint.right:
        # A typo (x0 < x0 for x0 < x1): no candidate would ever be feasible, or none infeasible.
        verdict = "never holds (every candidate would be infeasible)" if op in ("<", ">", "!=") else "always holds"
        raise ValueError(f"{text!r} compares {left} with itself, so it {verdict}: name two parameters, "
                         "or a parameter and a number")
    return constraint
