"""Optimizer plugin ``nsga2``: the paper's generational NSGA-II."""

from __future__ import annotations

import attrs
import numpy as np

from dnnp_hpo.hookspecs import Study, hookimpl
from dnnp_hpo.journal import Checkpoint
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid

from .algorithm import nsga2, random_genomes


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
        return random_genomes(np.random.default_rng(study.seed), study, self.pop_size)

    def run(self, study: Study, checkpoint: Checkpoint | None = None):
        # One generator for the whole search, seeded from the spec; generation 0 is
        # drawn from it first, exactly as initial_genomes() shows it to --dry-run.
        rng = np.random.default_rng(study.seed)
        initial = random_genomes(rng, study, self.pop_size)
        return nsga2(study, rng, self.pop_size, self.generations, self.sigma_decay,
                     None if checkpoint else initial, checkpoint)


@hookimpl
def dnnp_hpo_optimizers() -> dict[str, type]:
    return {"nsga2": NSGA2}
