"""Optimizer plugin ``replicates``: train the chosen members of a finished search again,
each with several new training seeds.

The paper trains every candidate once, and one training is a noisy measurement: six
trainings of one NequIP candidate differing only in the seed gave 0.0021 to 0.0154
eV/atom (docs/nequip.md), on both sides of the chemical-accuracy limit.  Before picking
a potential from the front, train its members a few more times::

    hpo-run experiment.yaml --set run_dir=runs/x-replicates --set seed=2 \\
        --set 'optimizer={plugin: replicates, source: runs/x, seeds: 3}'

It is an optimizer like any other, so the replicates run through the same trainer,
launcher, journal, resume and records as the search; each is a birth of its own, so it
gets a training seed of its own.  ``hpo-report`` of the replicates run tabulates each
candidate's mean and spread (docs/outputs.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import attrs

from dnnp_hpo.errors import SpecError
from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Study, hookimpl
from dnnp_hpo.journal import DATA_DIGESTS, FILENAME, FINISHED, SPEC, TEMPLATE_DIGEST, Checkpoint, Journal
from dnnp_hpo.journalcheck import EmptyJournal, NotAJournal
from dnnp_hpo.journalschema import RUNNING
from dnnp_hpo.paths import expand_path_text
from dnnp_hpo.plugins.nsga2.algorithm import ranked_members
from dnnp_hpo.resume import (
    changed_data,
    is_placement,
    journal_holdings,
    parameter_names,
    same_value,
    spec_differences,
)
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid, one_of
from dnnp_hpo.structure import spec_int
from dnnp_hpo.study import training_seed

MEMBERS = ("front", "population")


#: what a replicates run must share with its source: what is trained and how it is scored
#: (placement keys such as trainer.launch_prefix may differ)
SAME = ("space", "constraints", "objectives", "trainer")
MAX_SEEDS = 100


def _seed_count(_instance, attribute, value) -> None:
    if not 1 <= value <= MAX_SEEDS:
        raise Invalid(f"{attribute.name} must be from 1 to {MAX_SEEDS}, got {value}", attribute.name)


class Source(NamedTuple):
    """What a replicates run reads from its source run."""

    path: Path  #: its run directory
    spec: dict  #: the spec it was started with
    genomes: list[list[float]]  #: the chosen members', each once
    trained: list[tuple[int, dict]]  #: for each genome, a birth of it and the values it trained with
    generation: int  #: the generation they are of: the last recorded
    finished: bool  #: whether the search had finished
    template_digest: str | None  #: of the template it trained with (None: not recorded)
    data_digests: object  #: of its data, as its journal records them


def _breeding_only(key: str) -> bool:
    """Whether a spec key only says how offspring are bred (a parameter's mutation
    ``sigma``): replicates breed nothing, and train the source's genomes as they are."""
    parts = key.split(".")
    return len(parts) == 3 and parts[0] == "space" and parts[2] == "sigma"


@attrs.frozen
class Replicates:
    """``optimizer: {plugin: replicates, source: RUN_DIR, members: front, seeds: 3}``.

    ``source`` is the run directory of a search with the same ``space`` (relative to the
    working directory, like ``run_dir``; ``~`` and ``$VARIABLES`` are expanded);
    ``members`` picks from its last population the non-failed members of the first
    front (``front``) or all of them (``population``); each is trained ``seeds`` times.
    """

    source: str
    members: str = attrs.field(default="front", validator=one_of(MEMBERS))
    seeds: int = attrs.field(default=3, validator=_seed_count)

    def prepare(self, run: RunContext) -> None:
        """Check that the source run trained what this run would, and that the replicates'
        training seeds are new; SpecError if not."""
        source, spec, genomes, trained, generation, finished, template, data = self._read()
        if source == run.run_dir:
            raise SpecError("this run_dir is optimizer.source's, the search's: give the replicates a run_dir "
                            "of their own", "run_dir", rooted=True)
        differ = [k for k in spec_differences(spec, run.raw_spec)
                  if k.split(".")[0] in SAME and not is_placement(k) and not _breeding_only(k)]
        if differ:
            shown = ", ".join(differ[:4]) + (", ..." if len(differ) > 4 else "")
            raise SpecError(f"{source} was searched with another {shown}: replicates must train and score what "
                            "the search did (run the search's spec with this optimizer block)", "source")
        before, now = parameter_names(spec), list(run.space.names)
        if before != now:  # the same parameters in another order: no key differs
            # A genome is one gene per parameter, in order: the source's genomes would
            # decode onto other parameters, and train other candidates as its replicates.
            raise SpecError(f"{source} was searched with the parameters in the order {', '.join(map(str, before))}, "
                            f"and this spec lists them as {', '.join(now)}: its genomes would decode into other "
                            "values; list space in the search's order", "space", rooted=True)
        self._check_same_values(run, source, genomes, trained)
        self._check_same_input(run, source, template, data)
        # as the search read it: written quoted, '3' is the seed 3 (helper-112)
        if spec_int(spec.get("seed")) == run.experiment.seed:
            # Training seeds derive from (seed, birth number): with the search's seed, a
            # member at its own old birth number would repeat its training exactly.
            raise SpecError(f"{run.experiment.seed} is the seed of the search in optimizer.source: the replicates "
                            f"would repeat its training seeds; give them another, e.g. --set seed={run.experiment.seed + 1}",
                            "seed", rooted=True)
        self._check_new_trainings(run, source, genomes)
        if run.resumed and not run.finished:
            self._check_same_members(run, source, genomes)
            # Fewer trainings than the run has sent out (seeds lowered with --force): those
            # above would stay out of its population, the ones running 'running' for good.
            held, planned = journal_holdings(run.run_dir), len(genomes) * self.seeds
            if planned < held.births:
                raise SpecError(f"{self.seeds} of each of the {len(genomes)} {self.members} members of {source} make "
                                f"{planned} trainings, fewer than the {held.births} the run in {run.run_dir} has "
                                f"already sent out: resume it with the seeds it was started with, or choose "
                                "another run_dir", "seeds")
        if not finished and not run.resumed and not (run.run_dir / FILENAME).exists():
            # Its front may still change: say which one is replicated (a search that will
            # never be resumed is as good a source as a finished one).  Last, and only as a
            # run starts: a resume asks again once it has read the run_dir, and a warning
            # before a refusal made the refusal two lines.
            print(f"hpo-run: warning: {run.spec_path}: optimizer.source: {source} is not finished: its members "
                  f"are replicated as of its last recorded generation, {generation}", file=sys.stderr)

    def _check_new_trainings(self, run: RunContext, source: Path, genomes: list[list[float]]) -> None:
        """SpecError if a replicate would train a member with a training seed the source
        already trained it with: the same training again, no spread measured.  The spec's
        seed alone did not tell (a source resumed with --force and another seed trained
        its births before with the seed it was started with; helper-112).  Two columns of
        the source's journal, once (its every evaluation read whole took 8.5 s for 100,000;
        helper-113)."""
        try:
            with Journal.of(source, readonly=True) as journal:
                trainings = journal.trainings()
        except NotAJournal as exc:  # DamagedJournal: says which journal and what
            raise SpecError(str(exc), "source") from None
        for birth, genome in enumerate(genome for genome in genomes for _ in range(self.seeds)):
            seed = training_seed(run.experiment.seed, birth)
            if (tuple(genome), seed) in trainings:
                raise SpecError(f"with seed {run.experiment.seed}, birth {birth} of the replicates would train one of "
                                f"the members with the training seed {seed}, with which optimizer.source trained it "
                                f"already: give another seed, e.g. --set seed={run.experiment.seed + 1}",
                                "seed", rooted=True)

    @staticmethod
    def _check_same_values(run: RunContext, source: Path, genomes: list[list[float]],
                           trained: list[tuple[int, dict]]) -> None:
        """SpecError if this space reads a member's genome as other values than it trained
        with: the same spec, but a source recorded by a dnnp-hpo that read genes otherwise
        (a choice gene on its upper bound).  Its replicates would train another candidate,
        and hpo-report show the two as one candidate's spread."""
        for genome, (birth_id, params) in zip(genomes, trained):
            for (name, parameter), gene in zip(run.space.parameters.items(), genome):
                value = parameter.decode(float(gene))
                if not same_value(value, params.get(name)):
                    raise SpecError(
                        f"{source}: birth {birth_id} trained {name} = {params.get(name)!r}, which its gene {gene!r} "
                        f"now gives as {value!r} (recorded by a dnnp-hpo that read genes otherwise): its replicates "
                        "would train another candidate; replicate a search run with this version", "source")

    @staticmethod
    def _check_same_input(run: RunContext, source: Path, template: str | None, data: object) -> None:
        """SpecError if this run's template or data hold other content than the source
        trained with: the same spec (the file names) but an edited template trained
        another network as the members' replicates (helper-111).  The data are read once a
        session, at the first look (not again when a resume asks again)."""
        if template is not None and run.template_digest is not None and template != run.template_digest:
            template_file = getattr(run.experiment.trainer, "template", None)
            what = f"the template {template_file}" if template_file else "the trainer's input"
            raise SpecError(f"{source} was searched with another content of {what} (edited since): replicates "
                            "must train what the search did; put it back as it was", "source")
        changed = [] if run.resumed or not data else changed_data(data, run.with_data_digests().data_digests or ())
        if changed:
            raise SpecError(f"{source} was searched on other data than {', '.join(changed)} holds now (its content "
                            "changed since): replicates must train on what the search did; put the data back as "
                            "they were", "source")

    def _check_same_members(self, run: RunContext, source: Path, genomes: list[list[float]]) -> None:
        """SpecError if the members this run sent out are not the ones the source gives
        now, in the same order: the source was extended (or resumed) since, and a resume
        would set aside every training made, finished ones too, and replicate another
        front in this run (a shrunk front was blamed on ``seeds``, a grown one taken
        without a word; helper-111).  Every birth is sent out as the run starts, so the
        journal holds its members; a driver killed while sending them left a prefix."""
        with Journal.of(run.run_dir, readonly=True) as journal:
            if journal.generations():  # its one generation recorded: nothing is trained again
                return
            trials = {e.trial.birth_id: e.trial for e in (*journal.evaluations(), *journal.evaluations(RUNNING))}
        sent = list(dict.fromkeys(tuple(trials[b].genome) for b in sorted(trials)))
        now = [tuple(g) for g in genomes]
        # Every member sent out `seeds` times: the run started with these members, all of
        # them, and a member the source gives beside them now is a front grown since
        # (helper-112); fewer births sent: a driver killed while sending, a prefix.
        every_one_sent = len(trials) == len(sent) * self.seeds
        if sent != (now if every_one_sent else now[:len(sent)]):
            how = ("in another order" if sorted(sent) == sorted(now) else
                   f"{len(now)} of them now, where it sent out {len(sent)}")
            raise SpecError(f"{source} no longer gives the {self.members} members the run in {run.run_dir} "
                            f"replicates ({how}: the source has run on since, extended or resumed); replicate "
                            "its members now in another run_dir", "source")

    def _read(self) -> Source:
        """The source run (read again at each call: the optimizer keeps no state of its own)."""
        source = Path(expand_path_text(self.source, "source")).resolve()
        if source.name == FILENAME and source.is_file():
            raise SpecError(f"{source} is a run's journal: give the run directory that holds it, {source.parent}",
                            "source")
        if not (source / FILENAME).is_file():
            raise SpecError(f"{source} holds no {FILENAME}: expected the run directory of a search", "source")
        try:
            with Journal.of(source, readonly=True) as journal:
                spec = journal.meta(SPEC, {}) or {}
                generation = journal.generations()[-1]
                population = journal.population(generation)
                finished = bool(journal.meta(FINISHED, False))
                template, data = journal.meta(TEMPLATE_DIGEST, None), journal.meta(DATA_DIGESTS, None)
        except (EmptyJournal, IndexError):
            raise SpecError(f"{source}: the search has no finished generation yet", "source") from None
        except NotAJournal as exc:
            raise SpecError(str(exc), "source") from None
        chosen = [m for m in population if m.evaluation.ok and (self.members == "population" or m.rank == 1)]
        if not chosen:
            raise SpecError(f"{source}: its last population has no successful {self.members} member", "source")
        # A genome once, however often the source trained it (a replicates run as source).
        first = {m.evaluation.trial.genome: m.evaluation.trial for m in reversed(chosen)}
        genomes = list(dict.fromkeys(m.evaluation.trial.genome for m in chosen))
        return Source(source, spec, [list(g) for g in genomes],
                      [(first[g].birth_id, dict(first[g].params)) for g in genomes], generation, finished,
                      template, data)

    def planned_evaluations(self) -> int:
        return len(self._read().genomes) * self.seeds

    def initial_genomes(self, study: Study) -> list[list[float]]:
        """Each member's genome ``seeds`` times in a row."""
        return [genome for genome in self._read().genomes for _ in range(self.seeds)]

    def run(self, study: Study, checkpoint: Checkpoint | None = None) -> list[Member]:
        if checkpoint is not None:  # the one generation was recorded: nothing left to train
            return list(checkpoint.population)
        # On resume the Study hands back what finished (same births, same genomes) and
        # trains the rest.
        evaluations = study.evaluate(self.initial_genomes(study), generation=0)
        members = ranked_members(evaluations, study.n_objectives)  # as nsga2's generation 0
        study.generation_finished(0, members, {})
        return members


@hookimpl
def dnnp_hpo_optimizers() -> dict[str, type]:
    return {"replicates": Replicates}
