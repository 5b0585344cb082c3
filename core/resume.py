"""Whether a run directory may be continued, and with what: the resume policy.

``hpo-run`` on a directory that holds a run resumes it, shows its front when it is
finished, or extends it with a larger budget; what would mix two searches in one journal
(other objectives, parameters, decodings, data, optimizer) is refused in one line naming
the key, some of it only without ``--force``.  Optimizers read :func:`journal_holdings`
and :func:`recorded_settings` in their ``prepare`` to refuse a budget below what the
run has sent out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.errors import SpecError, checked
from dnnp_hpo.fingerprint import DataDigest, recorded_digests
from dnnp_hpo.hookspecs import Extendable, FixedOnResume
from dnnp_hpo.journal import (
    DATA_DIGESTS,
    FILENAME,
    FINISHED,
    RESOLVED,
    SPEC,
    TEMPLATE_DIGEST,
    VERSIONS,
    Journal,
)
from dnnp_hpo.journalcheck import DamagedJournal, EmptyJournal, NewerJournal, NotAJournal
from dnnp_hpo.journalschema import INTERRUPTED, RUNNING
from dnnp_hpo.notice import LOG_NAME
from dnnp_hpo.run import RunContext
from dnnp_hpo.runlock import LOCK, check_writable


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


#: Keys that say where a run executes, not what it searches: a resume may change them
#: without --force (more workers, a run started on a laptop moved to a cluster, jsrun for
#: srun, the run directory moved).  Each is the key or a prefix of dotted keys.
#: ``optimizer.source``: where a replicates run reads its search's journal from (written
#: relative to the working directory, like run_dir); which members it gives is the
#: optimizer's own check (Replicates.prepare), so a run resumed from elsewhere, its source
#: written otherwise, goes on
PLACEMENT = ("run_dir", "launcher", "trainer.launch_prefix", "optimizer.source")


def is_placement(key: str) -> bool:
    """Whether a spec key (dotted, as :func:`spec_differences` gives it) says where the run
    runs rather than what it searches: such a change is let through on resume."""
    return any(key == p or key.startswith(f"{p}.") for p in PLACEMENT)


def _optimizer_plugin(spec: Mapping[str, Any]) -> Any:
    optimizer = spec.get("optimizer")
    return optimizer.get("plugin") if isinstance(optimizer, Mapping) else None


def parameter_names(spec: Mapping[str, Any]) -> list[Any]:
    """The parameters of a raw spec's ``space``, in order: a genome has one gene per
    parameter, in this order."""
    space = spec.get("space")
    return list(space) if isinstance(space, Mapping) else []


def _not_continued(run: RunContext, what: str, before: Sequence[Any], now: Sequence[Any], key: str, where: str,
                   why: str = "") -> SpecError:
    """The refusal of a resume whose ``what`` (objectives, parameters) differ from the run's:
    one the journal cannot be continued with, not even with --force."""
    return SpecError(f"{run.run_dir} holds a run of the {what} {', '.join(map(str, before))}, which cannot be "
                     f"continued with {', '.join(map(str, now))}, not even with --force{why}: choose another "
                     "run_dir", key, where)


def _objective_names(spec: Mapping[str, Any]) -> list[Any]:
    objectives = spec.get("objectives")
    if not isinstance(objectives, list):
        return []
    return [o.get("name") if isinstance(o, Mapping) else o for o in objectives]


def spec_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two raw specs."""
    return _flat_differences(_flatten(old), _flat_spec(new))


def _flat_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A raw spec's dotted keys, its values as the journal holds them (JSON: a tuple a list)."""
    return _flatten(json.loads(json.dumps(spec)))


def _both_values(run_spec: Mapping[str, Any], given: Mapping[str, Any], keys: Sequence[str]) -> str:
    """``keys`` with their values in the spec the journal records and in the one given:
    ``optimizer.generations: 2 as recorded, 1 here``; the first three, then the names.
    As recorded, not as run: a --force session that lowered the budget left the record."""
    ran, here = _flatten(run_spec), _flat_spec(given)

    def value(flat: Mapping[str, Any], key: str) -> str:
        if key not in flat:
            return "not set"
        text = json.dumps(flat[key], ensure_ascii=False)
        return text if len(text) <= 40 else f"{text[:40]}..."

    named = [f"{k}: {value(ran, k)} as recorded, {value(here, k)} here" for k in keys[:3]]
    return ", ".join(named + list(keys[3:8])) + (" ..." if len(keys) > 8 else "")


def _flat_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k, None) != b.get(k, None) or (k in a) != (k in b))


def resolved_settings(run: RunContext) -> dict[str, Any]:
    """The trainer's and optimizer's settings with every default filled in, as JSON values.

    Recorded when a run starts and compared on resume beside the raw spec: a newer
    dnnp-hpo may fill in a key the spec leaves out with another default (it has:
    ``nsga2``'s ``variation``), which would change the search half-way without a word.
    """
    blocks = {"trainer": run.experiment.trainer, "optimizer": run.experiment.optimizer}
    settings = {name: attrs.asdict(block) for name, block in blocks.items() if attrs.has(type(block))}
    return json.loads(json.dumps(settings, default=str))


def _refilled(stored: Mapping[str, Any] | None, run: RunContext) -> str | None:
    """What this dnnp-hpo fills in differently from the one that started the run, or None."""
    if stored is None:  # a journal from before settings were recorded
        return None
    old_flat, new_flat = _flatten(stored), _flatten(resolved_settings(run))
    changed = [k for k in _flat_differences(old_flat, new_flat) if not is_placement(k)]
    if not changed:
        return None
    def value(flat: Mapping[str, Any], key: str) -> str:
        return repr(flat[key]) if key in flat else "not there"

    shown = "; ".join(f"{k}: {value(old_flat, k)} then, {value(new_flat, k)} now" for k in changed[:3])
    return shown + (" ..." if len(changed) > 3 else "")


def _unless_defaulted(differences: list[str], stored: Mapping[str, Any], run: RunContext,
                      resolved: Mapping[str, Any] | None) -> list[str]:
    """``differences`` less the keys one spec writes out and the other leaves to a default
    that gives the same value: ``sigma_decay: 0.85`` written out then and left out now (the
    shipped configs dropped it) is the same search.  Known from the settings with every
    default filled in that the run recorded (:func:`resolved_settings`; none in a journal
    from before they were kept, where every difference stays)."""
    if resolved is None:
        return differences
    then, now = _flatten(resolved), _flatten(resolved_settings(run))
    ran, given = _flatten(stored), _flat_spec(run.raw_spec)
    return [k for k in differences
            if (k in ran) == (k in given) or k not in then or k not in now or then[k] != now[k]]


def _refuse_fixed(run: RunContext, stored: Mapping[str, Any] | None, resolved: Mapping[str, Any] | None,
                  where: str) -> None:
    """SpecError for a key the run's optimizer cannot take another value of, not even with
    --force (:class:`~dnnp_hpo.hookspecs.FixedOnResume`): said at once, not after --force."""
    optimizer = run.experiment.optimizer
    if not isinstance(optimizer, FixedOnResume) \
            or _optimizer_plugin(stored or {}) != _optimizer_plugin(run.raw_spec):  # refused as such below
        return
    # By value, every default filled in: a key written out in one spec and left to its
    # default in the other is no change.  The value then is the one the run recorded with
    # its defaults filled in; a journal from before those were recorded has the spec's,
    # else the default (this version's).
    recorded, given, now = _flatten(resolved or {}), _flatten(stored or {}), _flatten(resolved_settings(run))
    fields = attrs.fields_dict(type(optimizer)) if attrs.has(type(optimizer)) else {}
    for name, why in optimizer.fixed_on_resume.items():
        key = f"optimizer.{name}"
        then = recorded.get(key, given.get(key, fields[name].default if name in fields else attrs.NOTHING))
        if then is not attrs.NOTHING and not isinstance(then, attrs.Factory) and then != now.get(key):
            before = json.dumps(then, ensure_ascii=False)
            raise SpecError(f"{run.run_dir} holds a run with {name} {before}, which it cannot change, not even "
                            f"with --force: {why}; resume it with {name}: {before}, or choose another run_dir",
                            key, where)


def check_run_dir(run: RunContext, *, resume: bool, force: bool) -> RunContext:
    """Decide between a new run and a resumed one; refuse what would mix two runs.

    Returns the run context with ``resumed`` (and ``finished``) set.  Writes nothing.
    """
    journal_path = run.run_dir / FILENAME
    where = str(run.spec_path)
    if run.run_dir.exists() and not run.run_dir.is_dir():
        raise SpecError(f"{run.run_dir} is a file, not a directory: choose another run_dir", "run_dir", where)
    if not journal_path.exists():
        if resume:
            raise SpecError(f"--resume: {run.run_dir} holds no {FILENAME} to resume from", "run_dir", where)
        # What a driver stopped before its journal leaves (its lock; the line saying why,
        # a lock it could not write in a directory that was there before: helper-119)
        if run.run_dir.exists() and any(p.name not in (LOCK, LOG_NAME) for p in run.run_dir.iterdir()):
            raise SpecError(
                f"{run.run_dir} exists and is not a dnnp-hpo run: choose another run_dir "
                "(or --set run_dir=...) or remove it", "run_dir", where,
            )
        check_writable(run.run_dir, "run_dir", where)
        return run
    try:
        with Journal(journal_path, readonly=True) as journal:
            # The whole journal, once: a resume reads all of it, and a record it cannot
            # read would stop the run after its engine had started (exit 4, a traceback).
            # Not again at the second look, under the run lock: opening it checks its tables
            # and version, and what a driver may have added since was written by dnnp-hpo.
            if not run.resumed:
                journal.check()
            stored = journal.meta(SPEC, None)
            resolved = journal.meta(RESOLVED, None)
            digest = journal.meta(TEMPLATE_DIGEST, None)
            data = journal.meta(DATA_DIGESTS, None)
            finished = journal.meta(FINISHED, False)
            versions = journal.meta(VERSIONS, None)
    except EmptyJournal:
        stored = resolved = digest = data = versions = None
        finished = False
    except NewerJournal as exc:
        raise SpecError(str(exc), "run_dir", where) from None
    except DamagedJournal as exc:
        # Not "remove it": the journal is the run's one record, and left as it was.
        raise SpecError(f"{exc} (the journal is left as it was): choose another run_dir, or put back a copy of "
                        "the journal that reads", "run_dir", where) from None
    except NotAJournal as exc:
        raise SpecError(f"{exc}: choose another run_dir or remove it", "run_dir", where) from None
    if stored is None:
        # The driver died between creating the journal and recording the spec in it (or
        # could not record it: a full disk): nothing was run, so this is a fresh start.
        # Unless the directory holds what a run writes only after that: its records are
        # then elsewhere (a journal.sqlite copied without its -wal, or the -wal removed),
        # and a fresh start would write over them.
        ran = [p.name for p in (run.spec_as_run, run.evals_dir) if p.exists()]
        if ran:
            raise SpecError(
                f"{run.run_dir} holds a run's {' and '.join(ran)} but its {FILENAME} records nothing (copied without "
                f"its {FILENAME}-wal, or that file removed?): put the journal back with its -wal, or choose "
                "another run_dir", "run_dir", where,
            )
        return run
    differences = _unless_defaulted(spec_differences(stored, run.raw_spec), stored, run, resolved)
    moved = tuple(k for k in differences if is_placement(k))
    differences = [k for k in differences if not is_placement(k)]
    _refuse_fixed(run, stored, resolved, where)
    shown = ", ".join(differences[:8]) + (" ..." if len(differences) > 8 else "")
    extends = False
    # A spec that differs in nothing may still ask for more than the run holds: one whose
    # budget a --force session lowered, in a journal from before such a session recorded
    # its spec.
    larger = finished and _larger_budget(run)
    if finished and (differences or larger):
        # A finished run is taken up again only for more of the same search: a larger
        # budget, with --force.  Else nothing would be run with the new values, so say so
        # rather than print the old front as if they had been taken.
        if not differences and not force:
            raise SpecError(f"{run.run_dir} holds a run that finished short of this spec's budget (a --force "
                            "session lowered it): pass --force to extend it to this budget, or choose another "
                            f"run_dir (hpo-report {run.run_dir} reports it as it is)", "run_dir", where)
        if not (larger and force):
            extendable = isinstance(run.experiment.optimizer, Extendable)
            how = ("pass --force to extend it with the larger budget, or choose another run_dir" if larger else
                   "a finished run is only extended by a larger budget (nsga2's generations, nsga2-async's "
                   "max_births) with --force; give the recorded values to print its front, or choose another "
                   "run_dir to run them" if extendable else
                   f"its optimizer ({_optimizer_plugin(run.raw_spec)}) does not extend a finished run (an "
                   "optimizer plugin does with an extends(held) method: docs/plugins.md); give the recorded values "
                   "to print its front, or choose another run_dir to run them")
            # With the values: after a --force extension the journal holds the spec it was
            # extended with, and the spec file's own budget (generations: 1) read as a key
            # to change rather than the run's smaller past (helper-94).
            raise SpecError(f"{run.run_dir} holds a finished run: the keys that differ "
                            f"({_both_values(stored, run.raw_spec, differences)}) would not be used; {how}",
                            "run_dir", where)
        # From here on checked as an interrupted run resumed with --force.
        finished, extends = False, True
    before, now = _objective_names(stored), run.objective_names
    if before != now and not finished:
        # Not even with --force: the journal's fitnesses, ranks and checkpointed population
        # are of the old objectives, and a search on a mix of the two would be neither.
        raise _not_continued(run, "objectives", before, now, "objectives", where)
    parameters = parameter_names(stored)
    if parameters and parameters != list(run.space.names):
        if finished:
            # The same keys in another order differ in no key: the front was printed with
            # each gene under another parameter's name (helper-110).
            raise SpecError(f"{run.run_dir} holds a finished run of the parameters in the order "
                            f"{', '.join(map(str, parameters))}, and this spec lists them as "
                            f"{', '.join(run.space.names)}: its front would be shown under the wrong names; list "
                            "space in the run's order", "space", where)
        # Not even with --force: a genome is one gene per parameter, in this order; the
        # journal's genomes and checkpointed population would not decode (a ValueError,
        # exit 4, once the workers were up), or decode into other parameters.
        raise _not_continued(run, "parameters", parameters, run.space.names, "space", where,
                             " (its genomes have one gene per parameter, in order)")
    if not finished and not run.resumed:  # once: the look under the run lock reads the same genomes
        edited = any(k == "space" or k.startswith("space.") for k in differences)
        _check_same_decoding(run, journal_path, where, edited=edited, force=force)
    started_with, given = _optimizer_plugin(stored), _optimizer_plugin(run.raw_spec)
    if started_with is not None and started_with != given and not finished:
        # Not even with --force: a checkpoint's state (random generator, sigmas, births in
        # flight...) is only meaningful to the optimizer that wrote it (another one failed on
        # a missing key, or took the search's population for its own result), and the
        # journal's births were bred by it.
        raise SpecError(
            f"{run.run_dir} holds a run started with the {started_with} optimizer, which {given} cannot "
            "continue, not even with --force (its checkpoints and births are the starting optimizer's): "
            f"resume it with plugin: {started_with}, or run {given} in another run_dir", "optimizer.plugin", where,
        )
    if differences and not force:
        raise SpecError(
            f"{run.run_dir} holds a run of a different spec (keys that differ: {shown}); "
            "resume it with the spec it was started with, pass --force to continue anyway, "
            "or choose another run_dir", "run_dir", where,
        )
    if digest is not None and run.template_digest is not None and digest != run.template_digest \
            and not force and not finished:
        # The spec names the template's file; an edit of the file between two sessions
        # would mix candidates of two models in one search, with no key that differs.
        template = getattr(run.experiment.trainer, "template", None)
        what, key = (f"the template {template}", "trainer.template") if template else ("the trainer's input", "trainer")
        raise SpecError(
            f"{run.run_dir} holds a run started with another content of {what} "
            "(edited since); resume it with the template it was started with, pass --force to "
            "continue with the edited one, or choose another run_dir", key, where,
        )
    if data and not force and not finished:
        run = run.with_data_digests()
        _check_same_data(run, data, where)
    # A finished run only prints its front: nothing would be run with the new values.
    refilled = None if force or finished else _refilled(resolved, run)
    if refilled:
        recorded = ", ".join(f"{name} {version}" for name, version in (versions or {}).items())
        raise SpecError(
            f"{run.run_dir} was started by versions of dnnp-hpo or its plugins that filled in the spec's "
            f"defaults differently ({refilled}); resume it with those versions"
            f"{f' ({recorded})' if recorded else ''}, or pass --force to continue with the new values",
            "run_dir", where,
        )
    run = attrs.evolve(run, resumed=True, finished=bool(finished), extends=extends, moved=moved,
                       forced=force and not finished)
    if not finished:
        check_writable(run.run_dir, "run_dir", where)
        # prepare_run asked the optimizer before the run directory was looked at: ask it
        # again, now that it can see the run it resumes (a budget below the births the
        # journal already holds, raised with --force, say: journal_holdings()).
        checked(str(run.spec_path), "optimizer", lambda: run.experiment.optimizer.prepare(run))
    return run


def _larger_budget(run: RunContext) -> bool:
    """Whether the spec's budget reaches beyond what the finished run in ``run.run_dir``
    holds, as the optimizer says (:class:`~dnnp_hpo.hookspecs.Extendable`).  One that
    cannot say (replicates: one generation, trained in full) has no more to run; its
    checkpoint is its result."""
    optimizer = run.experiment.optimizer
    return isinstance(optimizer, Extendable) and optimizer.extends(journal_holdings(run.run_dir))


def _check_same_decoding(run: RunContext, journal_path: Path, where: str, *, edited: bool, force: bool) -> None:
    """SpecError if this space reads a recorded genome as other values than the ones its
    candidate trained with: even with --force when the spec's space was ``edited``.

    A genome is genes, not values: ``log: true`` turned off reads log10(lr) = -3 as lr = -3
    (clipped to the bounds, every new lr collapsed to one value), a type changed or the
    choices reordered give the journal's members other values than they trained, and the
    search goes on from a population that is not what was measured.  Widened bounds, a
    changed sigma or init range read every gene as before, and are let through (--force).
    Every resume looks, the spec's space edited or not: a dnnp-hpo that read genes
    otherwise may have written the journal (and a journal from before a --force session
    recorded its spec still holds the spec the run started with, which reads the births
    bred under the edited one as other values).
    """
    parameters = run.space.parameters
    with Journal(journal_path, readonly=True) as journal:
        for birth_id, genome, params in journal.genomes():
            for (name, parameter), gene in zip(parameters.items(), genome):
                value, trained = parameter.decode(float(gene)), params.get(name)
                if same_value(value, trained) or _clipped(parameter, float(gene)):
                    continue
                seen = f"birth {birth_id} trained {name} = {trained!r}, which its gene {gene!r} now gives as {value!r}"
                if edited:
                    raise SpecError(
                        f"{run.run_dir} holds a run whose genomes the edited space reads as other values ({seen}); "
                        "such a run cannot be continued, not even with --force: undo the change to "
                        f"space.{name}, or choose another run_dir", f"space.{name}", where)
                if not force:
                    raise SpecError(
                        f"{run.run_dir} holds births this space reads as other values ({seen}): bred under "
                        "another space (a resume with --force on an edited spec), or recorded by a dnnp-hpo "
                        "that read genes otherwise; resume with that space, pass --force to continue all the "
                        "same, or choose another run_dir", f"space.{name}", where)
                return


def same_value(value: Any, trained: Any) -> bool:
    """Whether a decoded value is the one recorded, typed (1, 1.0 and true differ in a
    rendered input): as a JSON round trip gives it back (a tuple as a list, NaN as NaN)."""
    if type(value) is type(trained) and value == trained:
        return True
    return json.dumps(value) == json.dumps(trained)


def _clipped(parameter: Any, gene: float) -> bool:
    """Whether ``gene`` lies outside the parameter's new bounds and decodes as its nearest
    bound: a range narrowed (allowed with --force: a member outside new bounds is bred as
    if on the nearest bound), which an int parameter's decoding clips as well."""
    low, high = parameter.gene_bounds
    if low <= gene <= high:
        return False
    return json.dumps(parameter.decode(gene)) == json.dumps(parameter.decode(min(max(gene, low), high)))


def changed_data(stored: Any, now: Sequence[DataDigest]) -> list[str]:
    """The paths of ``now`` whose content differs from the journal's ``data_digests``
    (``stored``), compared in order, not by place (a run moved to a cluster with its data
    reads them elsewhere).  A path that held nothing then (every training failed at once)
    or holds nothing now (every one will) is not compared: nothing trained on both."""
    then = recorded_digests(stored)
    if len(then) != len(now):
        return [d.path for d in now] or ["(none)"]
    return [new.path for old, new in zip(then, now)
            if old is not None and None not in (old.sha256, new.sha256) and old.sha256 != new.sha256]


def _check_same_data(run: RunContext, stored: Any, where: str) -> None:
    """SpecError if a data path the run trained on holds other content now
    (:func:`changed_data`)."""
    changed = changed_data(stored, run.data_digests or ())
    if changed:
        # Not a key of the spec: a dataset regenerated in place, or $DATA set elsewhere.
        raise SpecError(
            f"{run.run_dir} holds a run whose trainings read other data than {', '.join(changed)} holds now "
            "(its content changed since the run started); resume it with the data it was started with, "
            "pass --force to continue on the new data, or choose another run_dir", "trainer.paths", where,
        )


@attrs.frozen
class Holdings:
    """What a run's journal holds: what a resumed search must still account for."""

    births: int  #: births sent out: the highest birth id + 1 (0: none)
    finished: int  #: births recorded finished (any final status)
    running: int  #: births still ``running``: sent out, never recorded (the driver stopped)
    generation: int  #: the highest generation a birth was sent out in (-1: none)
    #: births sent out in ``generation`` while no population of it is recorded (0 once one
    #: is): a generational search resumed there breeds that generation again, as many
    open_births: int = 0


def journal_holdings(run_dir: Path) -> Holdings:
    """The :class:`Holdings` of the journal in ``run_dir`` (read only), for an optimizer's
    ``prepare`` on a resumed run (``run.resumed``): a budget smaller than what the run has
    already sent out would leave births out of every population, and those still running
    ``running`` for good."""
    with Journal.of(run_dir, readonly=True) as journal:
        births = journal.births()
        generations = journal.generations()
    generation = max((g for _, g, _ in births), default=-1)
    return Holdings(births=max((birth_id + 1 for birth_id, _, _ in births), default=0),
                    finished=len({b for b, _, status in births if status not in (RUNNING, INTERRUPTED)}),
                    running=len({b for b, _, status in births if status == RUNNING}),
                    generation=generation,
                    open_births=0 if generation in generations else len({b for b, g, _ in births if g == generation}))


def recorded_settings(run_dir: Path) -> Mapping[str, Any]:
    """The trainer's and optimizer's settings the run in ``run_dir`` last ran with, every
    default filled in (:func:`resolved_settings`; {} from a journal before they were kept)."""
    with Journal.of(run_dir, readonly=True) as journal:
        return journal.meta(RESOLVED, None) or {}
