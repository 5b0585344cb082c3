"""From a spec file to a finished run: the steps behind ``hpo-run``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from dnnp_hpo.errors import SpecError
from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Trainer
from dnnp_hpo.registry import Registry
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import load_experiment
from dnnp_hpo.study import Study

SPEC_AS_RUN = "spec.yaml"


def prepare_run(spec_path: Path, registry: Registry, overrides: Sequence[str] = ()) -> tuple[RunContext, Trainer]:
    """Validate everything a run needs, writing and launching nothing.

    Every user mistake comes out as a SpecError naming the file and the key.
    """
    experiment, raw = load_experiment(spec_path, registry, tuple(overrides))
    run_dir = Path(experiment.run_dir or f"runs/{experiment.name}").expanduser().resolve()
    run = RunContext(experiment=experiment, spec_path=spec_path, run_dir=run_dir,
                     raw_spec=raw, hook=registry.hook)
    try:
        trainer = _checked(run, "trainer", lambda: experiment.trainer.prepare(run))
        _checked(run, "launcher", lambda: experiment.launcher.prepare(run))
        _checked(run, "optimizer", lambda: experiment.optimizer.prepare(run))
        # Render the first candidate's input now, so a broken template stops the run here.
        first = dry_run_trials(run, trainer)[0]
        _checked(run, "trainer", lambda: trainer.render(first))
    except SpecError as exc:
        raise exc.located(str(spec_path)) from None
    return run, trainer


def _checked(run: RunContext, prefix: str, step):
    try:
        return step()
    except SpecError as exc:
        raise exc.located(str(run.spec_path), prefix) from None


def dry_run_trials(run: RunContext, trainer: Trainer):
    """Generation 0 as trials, decoded but not evaluated."""
    study = Study(run, trainer, pool=None)
    return [study.trial(g, 0) for g in run.experiment.optimizer.initial_genomes(study)]


def check_fresh_run_dir(run: RunContext) -> None:
    if run.run_dir.exists() and any(run.run_dir.iterdir()):
        raise SpecError(
            f"{run.run_dir} already holds a run: choose another run_dir (or --set run_dir=...) "
            "or remove it", "run_dir", str(run.spec_path),
        )


def execute(run: RunContext, trainer: Trainer) -> list[Member]:
    """Create the run directory, run the optimizer on the launcher, return the survivors."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / SPEC_AS_RUN).write_text(yaml.safe_dump(run.raw_spec, sort_keys=False), encoding="utf-8")
    run.hook.dnnp_hpo_run_started(run=run)
    with run.experiment.launcher.connect(run) as pool:
        study = Study(run, trainer, pool)
        population = run.experiment.optimizer.run(study)
    run.hook.dnnp_hpo_run_finished(run=run, population=population)
    return population
