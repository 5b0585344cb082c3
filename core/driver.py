"""From a spec file to a finished run: the steps behind ``hpo-run``."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.errors import RecordsFailed, SpecError, checked, shown
from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Trainer
from dnnp_hpo.journal import (
    DATA_DIGESTS,
    FINISHED,
    OBJECTIVES,
    REPORT_SETTINGS,
    RESOLVED,
    SPEC,
    TEMPLATE_DIGEST,
    VERSIONS,
    Journal,
    JournalRecorder,
)
from dnnp_hpo.registry import Registry

# Holdings, journal_holdings and recorded_settings moved to dnnp_hpo.resume; docs/plugins.md
# named dnnp_hpo.driver.journal_holdings for an optimizer's prepare, so plugins written to
# it still import (one that fails stops every hpo-run command while it is installed).
from dnnp_hpo.resume import Holdings, journal_holdings, recorded_settings, resolved_settings  # noqa: F401
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import load_experiment
from dnnp_hpo.specfile import dump_yaml
from dnnp_hpo.study import Study
from dnnp_hpo.training import missing_setting


def prepare_run(spec_path: Path, registry: Registry, overrides: Sequence[str] = (),
                dry_run: bool = False) -> tuple[RunContext, Trainer]:
    """Validate everything a run needs, writing and launching nothing.

    Every user mistake comes out as a SpecError naming the file and the key.  ``dry_run``:
    for ``--dry-run`` (:attr:`RunContext.dry_run`).
    """
    experiment, raw = load_experiment(spec_path, registry, tuple(overrides))
    # run_dir comes expanded from the spec; the default is made of the name, which is not a
    # path, and nothing in it is expanded.
    run_dir = _run_dir(Path(experiment.run_dir or f"runs/{experiment.name}"), str(spec_path))
    run = RunContext(experiment=experiment, spec_path=spec_path, run_dir=run_dir,
                     raw_spec=raw, hook=registry.hook, dry_run=dry_run)
    for name, parameter in experiment.space.items():
        warning = getattr(parameter, "init_warning", None)  # optional in the ParameterType contract
        if warning:
            print(f"hpo-run: warning: {spec_path}: space.{name}.init: {warning}", file=sys.stderr)
    trainer = checked(str(run.spec_path), "trainer", lambda: experiment.trainer.prepare(run))
    _check_prepared(run, trainer)
    _check_picklable(run, trainer)
    # Before the optimizer's look: replicates compare them with their source run's.
    run = attrs.evolve(run, template_digest=template_digest(trainer), data_paths=_data_paths(trainer))
    checked(str(run.spec_path), "launcher", lambda: experiment.launcher.prepare(run))
    checked(str(run.spec_path), "optimizer", lambda: experiment.optimizer.prepare(run))
    # Render the first candidate's input now, so a broken template stops the run here.
    first = dry_run_trials(run, trainer)[0]
    rendered = checked(str(run.spec_path), "trainer", lambda: trainer.render(first))
    if rendered is not None and not isinstance(rendered, str):  # a plugin's bug: traceback, exit 4
        raise TypeError(f"{type(trainer).__name__}.render (trainer plugin {run.raw_spec['trainer']['plugin']!r}) "
                        f"returned a {type(rendered).__name__}, {shown(rendered)}: expected the input the "
                        "training gets as a str, or None for a trainer without an input file")
    return run, trainer


def check_data(run: RunContext) -> None:
    """SpecError for a data path of the run (its trainer's ``data_paths``) that does not
    exist, when the run is to train: every training would fail, and a data path typo
    spent a run directory on them.  Not for --dry-run (a spec checked before its data are
    in place) nor for a finished run, which is only read."""
    for path in run.data_paths:
        found = missing_setting(run, path)
        if found:
            raise SpecError(f"{found[1]}: every training would fail, so nothing is launched (--dry-run checks a "
                            "spec before its data are in place; data that only the workers' nodes hold: leave its "
                            "setting out of trainer.paths)", found[0], str(run.spec_path))


def _data_paths(trainer: Trainer) -> tuple[str, ...]:
    """The prepared trainer's ``data_paths`` (a command trainer's ``trainer.paths``
    settings, absolute), as strings; () for a trainer without them.  Not part of the
    trainer protocol: a plugin's own field of that name that is not a list or tuple of
    paths (a single string would be digested letter by letter, from ``/``) is left alone."""
    paths = getattr(trainer, "data_paths", ())
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, (str, os.PathLike)) for p in paths):
        return ()
    return tuple(map(os.fspath, paths))


def _run_dir(path: Path, where: str) -> Path:
    """``path`` resolved, or SpecError (key ``run_dir``) if a symbolic link on the way
    loops (Python < 3.13's resolve raises RuntimeError for it, later ones do not: then the
    run directory's stat says ELOOP).  Whatever else it is, check_run_dir says."""
    try:
        resolved = path.resolve()
        try:
            os.stat(resolved)
            looped = False
        except OSError as exc:  # missing, most often: a new run directory
            looped = exc.errno == errno.ELOOP
    except RuntimeError:  # "Symlink loop from ..."
        looped = True
    if looped:
        raise SpecError(f"{path}: a symbolic link on the way loops (it points, in the end, back to "
                        "itself): choose another run_dir", "run_dir", where)
    return resolved


def _check_prepared(run: RunContext, trainer: Any) -> None:
    """TypeError (a plugin's bug: its traceback, exit 4) if what the trainer's ``prepare``
    returned cannot train: None (a ``prepare`` that forgot ``return self``) or another
    object without ``render`` and ``train``.  Checked before anything is sent, not as an
    AttributeError on every worker."""
    missing = [name for name in ("render", "train") if not callable(getattr(trainer, name, None))]
    if missing:
        raise TypeError(f"{type(run.experiment.trainer).__name__}.prepare returned {shown(trainer)}, without "
                        f"{' and '.join(missing)}: expected the trainer the workers get ('return self' if nothing "
                        "changes)")


def _check_population(run: RunContext, population: Any, journal: Journal) -> None:
    """TypeError (a plugin's bug: its traceback, exit 4) unless the optimizer's ``run``
    returned a final population of :class:`Member` and recorded a generation: the run
    would be recorded as finished with no population, a journal no resume nor report
    could read again, even once the plugin is fixed (helper-128).  Left unfinished, the
    same command resumes it."""
    optimizer = f"{type(run.experiment.optimizer).__name__}.run"
    if not isinstance(population, Sequence) or not population:
        got = shown(population)
    else:
        got = next((f"a population with {shown(m)}" for m in population if not isinstance(m, Member)), None)
    if got is not None:
        raise TypeError(f"{optimizer} returned {got}: expected the final population, a non-empty list of "
                        "dnnp_hpo.evaluation.Member (evaluation, rank, distance)")
    if journal.checkpoint() is None:
        raise TypeError(f"{optimizer} ended without recording a generation: it must call "
                        "study.generation_finished at least once (the population and state a resume "
                        "and hpo-report start from)")


def _check_picklable(run: RunContext, trainer: Trainer) -> None:
    """The prepared trainer goes to every worker pickled (cloudpickle, as Dask and Parsl
    send it): one that cannot be is the plugin's bug (its traceback, exit 4), told now
    rather than when the first evaluation is sent."""
    import cloudpickle

    try:
        cloudpickle.dumps(trainer)
    except Exception as exc:
        raise TypeError(f"the prepared {type(trainer).__name__} cannot be pickled to the workers "
                        f"({type(exc).__name__}: {exc}): a trainer's prepare() must return plain data") from exc


def template_digest(trainer: Trainer) -> str | None:
    """The prepared trainer's ``input_digest()`` (an optional member of the trainer
    protocol: a command trainer's template, its text and placeholders), or None."""
    digest = getattr(trainer, "input_digest", None)
    return digest() if callable(digest) else None


def dry_run_trials(run: RunContext, trainer: Trainer):
    """Generation 0 as trials, decoded but not evaluated."""
    study = Study(run, trainer, pool=None)
    return [study.trial(g, 0) for g in run.experiment.optimizer.initial_genomes(study)]


def execute(run: RunContext, trainer: Trainer, registry: Registry) -> list[Member]:
    """Run (or resume) the search in the run directory; return the final population."""
    if run.finished:  # only read: it may lie where nothing can be written
        with Journal.of(run.run_dir, readonly=True) as journal:
            return journal.population(journal.generations()[-1])
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with Journal.of(run.run_dir) as journal:
        if journal.meta(FINISHED, False) and not run.extends:
            return journal.population(journal.generations()[-1])
        if not run.resumed or run.extends or run.forced:
            # One transaction: a journal holding the spec is a started run (check_run_dir).
            # A --force session (an extension too) records the spec it runs with, the run
            # now being that spec's (the same command again shows its front, a session
            # killed in it resumes without --force: a lowered budget's front was shown by
            # no spec); an extension is set unfinished with it, under the run lock, before
            # any launch.
            run = run.with_data_digests()
            experiment = run.experiment
            journal.set_metas({RESOLVED: resolved_settings(run), TEMPLATE_DIGEST: run.template_digest,
                               VERSIONS: registry.versions((experiment.trainer, experiment.optimizer,
                                                            experiment.launcher)),
                               DATA_DIGESTS: [d.to_json() for d in run.data_digests], SPEC: run.raw_spec,
                               **({FINISHED: False} if run.extends else {})})
            try:
                run.spec_as_run.write_text(dump_yaml(run.raw_spec), encoding="utf-8")
            except OSError as exc:  # the disk full: the machine's fault, resumable
                raise RecordsFailed(run.spec_as_run, exc) from None
        # Every session: hpo-report judges accuracy with the limits hpo-run's last front
        # table showed, in its units, also after a --force resume that changed them.
        journal.set_metas({REPORT_SETTINGS: run.raw_spec.get("report") or {},
                           OBJECTIVES: [{"name": o.name, "unit": o.unit} for o in run.experiment.objectives]})
        checkpoint = journal.checkpoint()
        finished = journal.evaluations(recorded=True)
        running = journal.running()
        run = attrs.evolve(run, recorded={e.trial.birth_id: e for e in finished})
        recorder = JournalRecorder(journal)
        registry.manager.register(recorder)
        try:
            with run.experiment.launcher.connect(run) as pool:
                # Once launched: an engine that cannot start leaves no progress display up.
                run.hook.dnnp_hpo_run_started(run=run)
                study = Study(run, trainer, pool, finished=finished, running=running)
                if checkpoint is not None:
                    study.restore(checkpoint.state)
                population = run.experiment.optimizer.run(study, checkpoint)
                _check_population(run, population, journal)
                # Recorded as finished before the engine is stopped: a stop that hangs or
                # is killed (kill -9 after Ctrl-C) leaves a finished run, not one to resume.
                run.hook.dnnp_hpo_run_finished(run=run, population=population)
        finally:
            registry.manager.unregister(recorder)
        return population
