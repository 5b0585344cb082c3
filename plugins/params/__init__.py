"""Built-in parameter types: ``float`` (optionally log-scaled), ``int`` and ``choice``.

A gene is a real number; these classes say how it starts, how far mutation may take it
and what value it decodes to.  Registered through the same hook a third-party type uses.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import attrs

from dnnp_hpo.errors import SpecError, short_number, shown
from dnnp_hpo.hookspecs import hookimpl

# Errors are SpecErrors keyed by the field, so the user sees ``space.rcut.init: ...``.

#: largest magnitude of an int parameter's values: its gene must tell v - 0.5 from v + 0.5,
#: and floats past 2**52 step by 1 or more (init [1e17, 1e17 + 3] decoded every gene to one value)
MAX_INT = 2**52


def _check_interval(what: str, interval: tuple[float, float]) -> None:
    low, high = interval
    if not low < high:
        raise SpecError(f"[{low}, {high}] is empty: expected [low, high] with low < high", what)
    # Genes are floats drawn in and mutated across the interval: its width must be one
    # (-1e308 to 1e308 is 2e308, infinite, and overflows generation 0).
    try:
        width = float(high) - float(low)
    except OverflowError:  # an int beyond any float
        width = math.inf
    if not math.isfinite(width):
        raise SpecError(f"[{short_number(low)}, {short_number(high)}] is wider than a float can hold: expected a range "
                        f"whose width high - low is at most {sys.float_info.max:.6g}", what)


def _check_sigma(sigma: float | None) -> None:
    # None: not given; only variation: paper mutates by it, and that optimizer asks for it.
    if sigma is not None and not sigma > 0:
        raise SpecError(f"expected a positive number, got {sigma}", "sigma")


def _decoded_log(value: float) -> float:
    """``value`` taken to its log-scaled gene and back, as a candidate would get it; inf
    where that overflows."""
    try:
        return 10.0 ** math.log10(value)
    except OverflowError:
        return math.inf


def _decoded_ends(parameter: FloatParameter | IntParameter) -> tuple[float, float]:
    # decode() is non-decreasing, so its values at the gene bounds are the lowest and the
    # highest any candidate takes (mutation never leaves the bounds)
    low, high = parameter.gene_bounds
    return (parameter.decode(low), parameter.decode(high))


def _check_within(init: tuple[float, float], bounds: tuple[float, float] | None) -> None:
    if bounds is not None and not (bounds[0] <= init[0] and init[1] <= bounds[1]):
        raise SpecError(f"init {list(init)} must lie within bounds {list(bounds)}", "bounds")


def _check_range(init: tuple[float, float], sigma: float | None, bounds: tuple[float, float] | None) -> None:
    """A numeric parameter's ``init``, ``sigma`` and optional ``bounds``."""
    _check_interval("init", init)
    _check_sigma(sigma)
    if bounds is not None:
        _check_interval("bounds", bounds)
        _check_within(init, bounds)


@attrs.frozen
class FloatParameter:
    """A real value.  With ``log: true`` the gene is log10(value) and sigma is in decades."""

    init: tuple[float, float]
    sigma: float | None = None
    bounds: tuple[float, float] | None = None
    log: bool = False

    def __attrs_post_init__(self) -> None:
        _check_range(self.init, self.sigma, self.bounds)
        if self.log:
            for what, interval in (("init", self.init), ("bounds", self.bounds)):
                if interval is not None and min(interval) <= 0:
                    raise SpecError(f"log: true needs positive values (their log10 is the gene), got "
                                    f"{list(interval)}", what)
                # log10 rounds: the largest floats come back from 10**gene past the largest
                # float, and decode() raised OverflowError mid-run once mutation reached them.
                for value in interval or ():
                    if not math.isfinite(_decoded_log(value)):
                        raise SpecError(f"log: true decodes the gene {math.log10(value)!r} (log10 of {value!r}) "
                                        "as 10**gene, beyond a float: expected values up to 1.7976e308, got "
                                        f"{list(interval)}", what)

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

    @property
    def value_range(self) -> tuple[float, float]:
        """The lowest and highest value a candidate can take: the spec check refuses a
        constraint none of them meets (core/constraints.py never_holds)."""
        return _decoded_ends(self)


@attrs.frozen
class IntParameter:
    """A whole number in ``[lo, hi]``: the gene rounded to the nearest integer.

    ``init`` and ``bounds`` are integers (the spec refuses ``1.5``); the gene ranges reach
    half a unit past each end, ``[lo - 0.5, hi + 0.5]``, so every integer owns a bin of
    width 1 and generation 0 draws each one equally often.  Were the gene range
    ``[lo, hi]`` itself, ``lo`` and ``hi`` would own half-width bins and turn up half as
    often as the integers between them.
    """

    init: tuple[int, int]
    sigma: float | None = None
    bounds: tuple[int, int] | None = None

    def __attrs_post_init__(self) -> None:
        _check_range(self.init, self.sigma, self.bounds)
        for what, interval in (("init", self.init), ("bounds", self.bounds)):
            if interval is not None and max(map(abs, interval)) > MAX_INT:
                raise SpecError(f"[{short_number(interval[0])}, {short_number(interval[1])}]: expected whole numbers from "
                                f"-2**52 to 2**52 ({MAX_INT:,}): the gene is a float, which beyond that cannot "
                                "tell neighbouring integers apart", what)

    @staticmethod
    def _gene_range(interval: tuple[int, int]) -> tuple[float, float]:
        return (interval[0] - 0.5, interval[1] + 0.5)

    @property
    def gene_init(self) -> tuple[float, float]:
        return self._gene_range(self.init)

    @property
    def gene_bounds(self) -> tuple[float, float]:
        return self._gene_range(self.bounds or self.init)

    def decode(self, gene: float) -> int:
        # Clipped: a gene on the closed upper edge hi + 0.5 rounds up to hi + 1.
        low, high = self.bounds or self.init
        return int(min(max(math.floor(gene + 0.5), low), high))

    @property
    def value_range(self) -> tuple[int, int]:
        """The lowest and highest value a candidate can take (as FloatParameter's)."""
        return _decoded_ends(self)


@attrs.frozen
class ChoiceParameter:
    """One of ``choices``: ``choices[floor(gene) % n]``, as the paper (2.2.2), except at
    the closed upper end of the gene's bounds (see :meth:`decode`).

    The default init range and bounds are ``[0, n]``, so every choice is equally likely.
    """

    choices: tuple[Any, ...]
    sigma: float | None = None
    init: tuple[float, float] | None = None
    bounds: tuple[float, float] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.choices:
            raise SpecError("empty: expected a list of at least one value", "choices")
        seen: dict[tuple[type, Any], int] = {}
        for i, value in enumerate(self.choices):
            if not isinstance(value, (str, int, float, bool)):
                raise SpecError(f"{'null' if value is None else shown(value)} must be a string or a number",
                                f"choices.{i}")
            if isinstance(value, float) and not math.isfinite(value):
                # Written into an input it failed every training that drew it, blamed on the
                # template's line ("which JSON cannot hold"; helper-110).
                raise SpecError(f"{value} is not a finite number, which no training input holds (quote it, "
                                f"'{value}', for the word)", f"choices.{i}")
            # typed: YAML's 1, 1.0 and true are equal in Python, not in a rendered input
            first = seen.setdefault((type(value), value), i)
            if first != i:
                raise SpecError(f"{value!r} is listed already (choices.{first}): list each value once (twice, "
                                "it would be drawn twice as often)", f"choices.{i}")
        _check_sigma(self.sigma)
        for what, interval in (("init", self.init), ("bounds", self.bounds)):
            if interval is not None:
                _check_interval(what, interval)
        _check_within(self.gene_init, self.bounds)

    @property
    def init_warning(self) -> str | None:
        """What start-up warns of when ``init``, without ``bounds``, is narrower than the n
        choices: a choice is never drawn, nor reached by mutation (the bounds are the init
        range).  ``init: [0, 2]`` for three, read as "indices 0 to 2", left the third out of
        every candidate without a word (helper-94).  A warning, not a refusal: a run
        recorded with such a spec must still resume and show its front, and narrower
        ``bounds`` given as such hold a gene to fewer choices on purpose."""
        if self.bounds is not None:
            return None
        low, high = self.gene_init
        n = len(self.choices)
        first = math.floor(low)
        reachable = {i % n for i in range(first, min(math.ceil(high), first + n))}
        if len(reachable) == n:
            return None
        never = ", ".join(str(c) for i, c in enumerate(self.choices) if i not in reachable)
        return (f"[{short_number(low)}, {short_number(high)}] covers {len(reachable)} of the {n} choices: {never} "
                "will never be drawn, nor reached by mutation (a gene's whole part picks the choice); a range "
                f"{n} wide, such as [0, {n}] (the default), draws every choice (to hold the gene to fewer "
                "on purpose, give bounds as well)")

    @property
    def values(self) -> tuple[Any, ...]:
        """Every value it decodes to: start-up tries each one (hookspecs.ParameterType)."""
        return self.choices

    @property
    def gene_init(self) -> tuple[float, float]:
        return self.init or (0.0, float(len(self.choices)))

    @property
    def gene_bounds(self) -> tuple[float, float]:
        return self.bounds or self.gene_init

    def decode(self, gene: float) -> Any:
        index = math.floor(gene)
        if gene == self.gene_bounds[1] and index == gene:
            # The closed upper end, where a mutation clips a gene, belongs to the interval
            # below it (as an int's upper edge does): floor(n) % n wrapped it to the first
            # choice, which then took the clipped genes of both ends (the paper's code
            # does: 0.6% of genes at its sigmas, the first of 3 choices drawn 46% of the
            # time at sigma 1).
            index -= 1
        return self.choices[index % len(self.choices)]


@hookimpl
def dnnp_hpo_parameter_types() -> dict[str, type]:
    return {"float": FloatParameter, "int": IntParameter, "choice": ChoiceParameter}
