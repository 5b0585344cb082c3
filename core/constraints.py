"""Constraints between parameters: ``a < b``, ``rcut_smth <= 3.5``; parsed, never eval'ed."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

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
