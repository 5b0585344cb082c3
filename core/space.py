"""The search space: the genome layout and its decoder (paper, sections 2.2.1-2.2.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from dnnp_hpo.hookspecs import ParameterType


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
    def sigmas(self) -> list[float]:
        return [p.sigma for p in self.parameters.values()]

    def decode(self, genome: Sequence[float]) -> dict[str, Any]:
        """The named values a trainer sees for ``genome``."""
        if len(genome) != len(self.parameters):
            raise ValueError(f"genome has {len(genome)} genes, the space {len(self.parameters)}")
        return {name: p.decode(float(g)) for (name, p), g in zip(self.parameters.items(), genome)}
