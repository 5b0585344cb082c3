"""Optimizer plugin ``replicates``: train the chosen members of a finished search again,
each with several new training seeds.

The paper trains every candidate once, and one training is a noisy measurement: six
trainings of one NequIP candidate differing only in the seed gave 0.0021 to 0.0154
eV/atom (docs/nequip.md), on both sides of the chemical-accuracy limit.  Before picking
a potential from the front, train its members a few more times::

    hpo-run experiment.yaml --set run_dir=runs/x-replicates \\
        --set 'optimizer={plugin: replicates, source: runs/x, seeds: 3}'

It is an optimizer like any other, so the replicates run through the same trainer,
launcher, journal, resume and records as the search; each is a birth of its own, so it
gets a training seed of its own.  ``hpo-report`` of the replicates run tabulates each
candidate's mean and spread (docs/outputs.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import toolz
from leap_ec.multiobjective.ops import crowding_distance_calc

from dnnp_hpo.errors import SpecError
from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Study, hookimpl
from dnnp_hpo.journal import FILENAME, Checkpoint, EmptyJournal, Journal, NotAJournal
from dnnp_hpo.plugins.nsga2.algorithm import TrainedProblem, as_members, pareto_rank_sort
from dnnp_hpo.plugins.nsga2.asynchronous import individual
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid

MEMBERS = ("front", "population")


def _members(_instance, attribute, value) -> None:
    if value not in MEMBERS:
        raise Invalid(f"{attribute.name} must be one of {', '.join(MEMBERS)}, got {value!r}")


def _at_least_one(_instance, attribute, value) -> None:
    if value < 1:
        raise Invalid(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class Replicates:
    """``optimizer: {plugin: replicates, source: RUN_DIR, members: front, seeds: 3}``.

    ``source`` is the run directory of a search with the same ``space`` (relative to the
    working directory, like ``run_dir``; ``~`` and ``$VARIABLES`` are expanded);
    ``members`` picks from its last population the non-failed members of the first
    front (``front``) or all of them (``population``); each is trained ``seeds`` times.
    """

    source: str
    members: str = attrs.field(default="front", validator=_members)
    seeds: int = attrs.field(default=3, validator=_at_least_one)

    def prepare(self, run: RunContext) -> None:
        """Check that the source run can give members of this run's space; SpecError if not."""
        source, spec, _ = self._read()
        if source == run.run_dir:
            raise SpecError("source is this run's own run_dir: give the replicates a run_dir of their own",
                            "source")
        names = list(spec.get("space", {})) if isinstance(spec, dict) else []
        if names != run.space.names:
            raise SpecError(f"{source} searched {', '.join(map(str, names)) or 'another space'}, this spec "
                            f"{', '.join(run.space.names)}: use the search's spec with another optimizer block",
                            "source")

    def _read(self) -> tuple[Path, dict, list[list[float]]]:
        """The source run's directory, spec and chosen members' genomes (read again at each
        call: the optimizer keeps no state of its own)."""
        source = Path(os.path.expandvars(self.source)).expanduser().resolve()
        if not (source / FILENAME).is_file():
            raise SpecError(f"{source} holds no {FILENAME}: expected the run directory of a search", "source")
        try:
            with Journal.of(source, readonly=True) as journal:
                spec = journal.meta("spec", {}) or {}
                population = journal.population(journal.generations()[-1])
        except (EmptyJournal, IndexError):
            raise SpecError(f"{source}: the search has no finished generation yet", "source") from None
        except NotAJournal as exc:
            raise SpecError(str(exc), "source") from None
        chosen = [m for m in population if m.evaluation.ok and (self.members == "population" or m.rank == 1)]
        if not chosen:
            raise SpecError(f"{source}: its last population has no successful {self.members} member", "source")
        return source, spec, [list(m.evaluation.trial.genome) for m in chosen]

    def planned_evaluations(self) -> int:
        return len(self._read()[2]) * self.seeds

    def initial_genomes(self, study: Study) -> list[list[float]]:
        """Each member's genome ``seeds`` times in a row."""
        return [genome for genome in self._read()[2] for _ in range(self.seeds)]

    def run(self, study: Study, checkpoint: Checkpoint | None = None) -> list[Member]:
        # One generation; on resume the Study hands back what finished (same births, same
        # genomes) and trains the rest.
        evaluations = study.evaluate(self.initial_genomes(study), generation=0)
        problem = TrainedProblem(study.n_objectives)
        ranked = toolz.pipe([individual(e, problem) for e in evaluations], pareto_rank_sort, crowding_distance_calc)
        members = as_members(ranked)
        study.generation_finished(0, members, {})
        return members


@hookimpl
def dnnp_hpo_optimizers() -> dict[str, type]:
    return {"replicates": Replicates}
