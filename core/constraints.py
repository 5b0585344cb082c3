"""Constraints between parameters: ``a < b``, ``rcut_smth <= 3.5``; parsed, never eval'ed."""

from __future__ import annotations

import itertools
import math
import numbers
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
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


#: the comparisons as bounds on a difference: ``left - right`` is below 0 (strict) or at
#: most 0; ">" and ">=" swap the sides; "==" is both "<=" and ">="; "!=" bounds nothing
_AS_DIFFERENCES = {"<": ((False, True),), "<=": ((False, False),), ">": ((True, True),), ">=": ((True, False),),
                   "==": ((False, False), (True, False))}
#: the node every number hangs from (x < 0.3 is x - zero < 0.3)
_ZERO = ""


def _node(side: str | float) -> tuple[str, Fraction]:
    """A constraint's side as a node and an offset: a parameter is itself, a number is
    that much above :data:`_ZERO` (exactly: not float(), a choice may be 2**53 + 1)."""
    return (side, Fraction(0)) if isinstance(side, str) else (_ZERO, Fraction(side))


def _bounds_nothing(constraint: Constraint) -> bool:
    """Whether a side is a number read as inf (1e400): ``x < inf`` bounds nothing, and
    ``x > inf`` never holds alone, which never_holds says (helper-114)."""
    return any(isinstance(side, float) and math.isinf(side) for side in (constraint.left, constraint.right))


def none_together(constraints: Sequence[Constraint], space: Mapping[str, Any]) -> str | None:
    """Why no candidate can meet ``constraints`` together, though each alone can (never_holds
    judges that): ``x0 < 0.3`` beside ``x0 > 0.7``, or ``x0 < x1``, ``x1 < x2``, ``x2 < x0``,
    made every candidate infeasible and the run ended with no result (helper-110).  None
    if some candidate may meet them.

    Decided exactly, not by drawing candidates (a draw refused sets that only a small
    share of the space meets; helper-113): every constraint is a bound on a difference
    (``x - y < 0``, ``x - zero <= 0.3``), and so is each parameter's range, as never_holds
    reads it (an int's range whole, a choice's values as the range from the least to the
    greatest, so nothing is refused that some value meets; a type with neither is not
    judged, and the constraints are left to the run).  Such bounds cannot all hold
    exactly when their graph has a cycle of negative length, or of length 0 through a
    strict one (Bellman-Ford, in exact fractions); the message names the cycle's
    constraints and ranges."""
    if len(constraints) < 2:
        return None
    edges: list[tuple[str, str, Fraction, bool, str]] = []  # from, to, bound, strict, what

    def bound(left: str | float, right: str | float, strict: bool, what: str) -> None:
        # left - right < or <= 0: to - from <= weight reads as an edge from right to left
        (left_node, left_value), (right_node, right_value) = _node(left), _node(right)
        edges.append((right_node, left_node, right_value - left_value, strict, what))

    for constraint in constraints:
        if _bounds_nothing(constraint):
            continue
        for swapped, strict in _AS_DIFFERENCES.get(constraint.op, ()):
            left, right = (constraint.right, constraint.left) if swapped else (constraint.left, constraint.right)
            bound(left, right, strict, repr(constraint.text))
    for name in sorted({name for c in constraints for name in c.names()}):
        taken = _values_taken(space[name])
        if taken is None:
            return None
        low, high = min(taken[1]), max(taken[1])
        what = f"{name} from {_number(low)} to {_number(high)} (space.{name})"
        bound(name, high, False, what)  # not float(): a choice of 2**53 + 1, or 10**400 (helper-114)
        bound(low, name, False, what)
    cycle = _negative_cycle(edges)
    if cycle is None:
        return _forced_equal(constraints, edges)
    said = list(dict.fromkeys(cycle))
    rules = [w for w in said if w.startswith("'")]
    ranges = [w for w in said if not w.startswith("'")]
    return (f"{', '.join(rules)} cannot hold together{' with ' + ' and '.join(ranges) if ranges else ''} (each "
            "alone can): every candidate would be infeasible, nothing trained; drop or correct one")


def _forced_equal(constraints: Sequence[Constraint], edges: list[tuple[str, str, Fraction, bool, str]]) -> str | None:
    """Why a ``!=`` cannot hold beside the bounds, which allow its two sides one value
    only: ``x0 != x1`` beside ``x0 == x1``, or ``x0 != 1`` beside ``x0 >= 1`` on [0, 1]
    (helper-114).  The tightest bound on each difference (Floyd-Warshall; the bounds hold
    together, so there is no negative cycle) decides: both ways exactly, not strictly."""
    unequal = [c for c in constraints if c.op == "!=" and not _bounds_nothing(c)]
    if not unequal:
        return None
    nodes = sorted({node for edge in edges for node in edge[:2]} | {_ZERO})
    tightest: dict[tuple[str, str], tuple[Fraction, int]] = {}
    for start, end, weight, strict, _what in edges:
        tightest[start, end] = min(tightest.get((start, end), (weight, -strict)), (weight, -strict))
    for via in nodes:
        for start in nodes:
            if (start, via) not in tightest:
                continue
            for end in nodes:
                if (via, end) in tightest:
                    first, second = tightest[start, via], tightest[via, end]
                    through = (first[0] + second[0], first[1] + second[1])
                    if (start, end) not in tightest or through < tightest[start, end]:
                        tightest[start, end] = through
    for constraint in unequal:
        (left, lv), (right, rv) = _node(constraint.left), _node(constraint.right)
        gap = rv - lv  # left - right != gap, with left and right the nodes
        if left == right or (tightest.get((right, left)) == (gap, 0) and tightest.get((left, right)) == (-gap, 0)):
            sides = [str(side) if isinstance(side, str) else _number(side) for side in (constraint.left,
                                                                                        constraint.right)]
            return (f"{constraint.text!r} cannot hold beside the other constraints and the ranges, which leave "
                    f"{sides[0]} one value, {'that of ' if isinstance(constraint.right, str) else ''}{sides[1]}: "
                    "every candidate would be infeasible, nothing trained; drop or correct one")
    return None


def _negative_cycle(edges: list[tuple[str, str, Fraction, bool, str]]) -> list[str] | None:
    """The labels of a cycle of negative length, or of length 0 through a strict edge (a
    length is (sum of bounds, minus the number of strict edges), compared in that order);
    None if there is none.  Bellman-Ford from every node at once."""
    nodes = {node for edge in edges for node in edge[:2]}
    distance: dict[str, tuple[Fraction, int]] = {node: (Fraction(0), 0) for node in nodes}
    reached_by: dict[str, tuple[str, str]] = {}
    changed = None
    for _ in range(len(nodes)):
        changed = None
        for start, end, weight, strict, what in edges:
            via = (distance[start][0] + weight, distance[start][1] - strict)
            if via < distance[end]:
                distance[end], reached_by[end], changed = via, (start, what), end
        if changed is None:
            return None
    node = changed
    for _ in range(len(nodes)):  # walk back into the cycle
        node = reached_by[node][0]
    cycle, at = [], node
    while True:
        start, what = reached_by[at]
        cycle.append(what)
        at = start
        if at == node:
            return cycle[::-1]


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
