"""Built-in parameter types: ``float`` (optionally log-scaled), ``int`` and ``choice``.

A gene is a real number; these classes say how it starts, how far mutation may take it
and what value it decodes to.  Registered through the same hook a third-party type uses.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.spec import Invalid


def _check_interval(what: str, interval: tuple[float, float]) -> None:
    low, high = interval
    if not low < high:
        raise Invalid(f"{what} [{low}, {high}] is empty: expected low < high")


def _check_sigma(sigma: float) -> None:
    if not sigma > 0:
        raise Invalid(f"sigma {sigma} must be positive")


@attrs.frozen
class FloatParameter:
    """A real value.  With ``log: true`` the gene is log10(value) and sigma is in decades."""

    init: tuple[float, float]
    sigma: float
    bounds: tuple[float, float] | None = None
    log: bool = False

    def __attrs_post_init__(self) -> None:
        _check_interval("init", self.init)
        _check_sigma(self.sigma)
        if self.bounds is not None:
            _check_interval("bounds", self.bounds)
            lo, hi = self.bounds
            if not (lo <= self.init[0] and self.init[1] <= hi):
                raise Invalid(f"init {list(self.init)} must lie within bounds {list(self.bounds)}")
        if self.log and min(self.init + (self.bounds or self.init)) <= 0:
            raise Invalid("log: true needs positive init and bounds")

    def _gene(self, value: float) -> float:
        return math.log10(value) if self.log else value

    @property
    def gene_init(self) -> tuple[float, float]:
        return (self._gene(self.init[0]), self._gene(self.init[1]))

    @property
    def gene_bounds(self) -> tuple[float, float]:
        lo, hi = self.bounds or self.init
        return (self._gene(lo), self._gene(hi))

    def decode(self, gene: float) -> float:
        return 10.0**gene if self.log else gene


@attrs.frozen
class IntParameter:
    """A whole number: the gene rounded to the nearest integer."""

    init: tuple[float, float]
    sigma: float
    bounds: tuple[float, float] | None = None

    def __attrs_post_init__(self) -> None:
        _check_interval("init", self.init)
        _check_sigma(self.sigma)
        if self.bounds is not None:
            _check_interval("bounds", self.bounds)

    @property
    def gene_init(self) -> tuple[float, float]:
        return self.init

    @property
    def gene_bounds(self) -> tuple[float, float]:
        return self.bounds or self.init

    def decode(self, gene: float) -> int:
        return int(math.floor(gene + 0.5))


@attrs.frozen
class ChoiceParameter:
    """One of ``choices``: ``choices[floor(gene) % n]``, exactly as the paper (2.2.2).

    The default init range and bounds are ``[0, n]``, so every choice is equally likely.
    """

    choices: tuple[Any, ...]
    sigma: float
    init: tuple[float, float] | None = None
    bounds: tuple[float, float] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.choices:
            raise Invalid("choices is empty: expected at least one value")
        for value in self.choices:
            if not isinstance(value, (str, int, float, bool)):
                raise Invalid(f"choice {value!r} must be a string or a number")
        _check_sigma(self.sigma)
        for what, interval in (("init", self.init), ("bounds", self.bounds)):
            if interval is not None:
                _check_interval(what, interval)

    @property
    def gene_init(self) -> tuple[float, float]:
        return self.init or (0.0, float(len(self.choices)))

    @property
    def gene_bounds(self) -> tuple[float, float]:
        return self.bounds or self.gene_init

    def decode(self, gene: float) -> Any:
        return self.choices[math.floor(gene) % len(self.choices)]


@hookimpl
def dnnp_hpo_parameter_types() -> dict[str, type]:
    return {"float": FloatParameter, "int": IntParameter, "choice": ChoiceParameter}
