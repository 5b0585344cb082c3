"""Optimizer plugin ``nsga2``: the paper's generational NSGA-II."""

from __future__ import annotations

import attrs

from dnnp_hpo.hookspecs import Study, hookimpl
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid

from .algorithm import nsga2, random_genomes, seed_streams


def _positive(_instance, attribute, value) -> None:
    if value <= 0:
        raise Invalid(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class NSGA2:
    """``optimizer: {plugin: nsga2, pop_size: 100, generations: 6, sigma_decay: 0.85}``.

    ``generations`` counts the generations after the initial population (generation 0),
    so the paper's run is ``generations: 6``: 7 x pop_size evaluations.
    """

    pop_size: int = attrs.field(default=100, validator=_positive)
    generations: int = attrs.field(default=6)
    sigma_decay: float = attrs.field(default=0.85, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.generations < 0:
            raise Invalid(f"generations must be 0 or more, got {self.generations}")

    def prepare(self, run: RunContext) -> None:
        """Nothing to check beyond the fields."""

    def initial_genomes(self, study: Study) -> list[list[float]]:
        seed_streams(study.seed)
        return random_genomes(study, self.pop_size)

    def run(self, study: Study):
        initial = self.initial_genomes(study)
        return nsga2(study, self.pop_size, self.generations, self.sigma_decay, initial)


@hookimpl
def dnnp_hpo_optimizers() -> dict[str, type]:
    return {"nsga2": NSGA2}
