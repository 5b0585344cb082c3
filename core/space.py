"""The search space: the genome layout and its decoder (paper, sections 2.2.1-2.2.2)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from dnnp_hpo.constraints import NAME
from dnnp_hpo.errors import SpecError, shortened
from dnnp_hpo.hookspecs import ParameterType

#: names dnnp-hpo fills in itself: a trainer's ``$seed`` is each candidate's training seed
#: (core/training.py fills it in), so a parameter of that name would never reach the template
RESERVED = frozenset({"seed"})


def check_parameter_name(name: str) -> None:
    """SpecError unless ``name`` can be a parameter: a ``$name`` placeholder and a name in
    constraints both need ASCII letters, digits and ``_``, not starting with a digit."""
    if re.fullmatch(NAME, name) is None:
        raise SpecError(f"{shortened(name)} cannot name a parameter: expected letters, digits and _ (ASCII), "
                        "not starting with a digit, as $name placeholders and constraints use it", "space")
    if name in RESERVED:
        raise SpecError(f"{name!r} is filled in by dnnp-hpo (each candidate's training seed): "
                        "expected another parameter name", f"space.{name}")


def listed_values(parameter: ParameterType) -> tuple[Any, ...]:
    """Every value ``parameter`` decodes to when its type lists them (the optional
    ``values`` of the ParameterType protocol: a choice's choices); () for a range."""
    return tuple(getattr(parameter, "values", None) or ())


@attrs.frozen
class SearchSpace:
    """Parameters in spec order; gene ``i`` belongs to ``names[i]``."""

    parameters: Mapping[str, ParameterType]

    @property
    def names(self) -> list[str]:
        return list(self.parameters)

    @property
    def init_ranges(self) -> list[tuple[float, float]]:
        return [p.gene_init for p in self.parameters.values()]

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return [p.gene_bounds for p in self.parameters.values()]

    @property
    def sigmas(self) -> list[float | None]:
        return [p.sigma for p in self.parameters.values()]

    def decode(self, genome: Sequence[float]) -> dict[str, Any]:
        """The named values a trainer sees for ``genome``."""
        if len(genome) != len(self.parameters):
            raise ValueError(f"genome has {len(genome)} genes, the space {len(self.parameters)}")
        return {name: p.decode(float(g)) for (name, p), g in zip(self.parameters.items(), genome)}
