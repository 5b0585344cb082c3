"""Trainer plugin ``nequip``: one NequIP training per candidate.

The same steps as the ``deepmd`` trainer, with NequIP's file formats: a fresh directory
``RUN_DIR/evals/<uuid>/``, the YAML template rendered into ``config.yaml`` there,
``nequip-train -cn config.yaml hydra.run.dir=.`` run in it as an argument list in a
process group of its own (killed whole at the time limit), and the fitness read by
column name from the ``metrics.csv`` of the template's Lightning CSVLogger.
:class:`NequipTrainer` holds the keys of the ``trainer:`` block (docs/nequip.md);
:meth:`NequipTrainer.prepare` checks them and returns a :class:`PreparedNequip`, plain
data sent to the workers.

The keys shared with the ``deepmd`` trainer (settings, paths, command, launch_prefix,
env, timeout_minutes, metrics, last_rows) are read by the converters of
:mod:`dnnp_hpo.training`, which also runs the command, so both trainers accept exactly
the same values and report failures with the same reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo import training
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial, make_workdir
from dnnp_hpo.plugins.deepmd.lcurve import LcurveError, fitness
from dnnp_hpo.plugins.deepmd.template import Template, check_names
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid

from .metrics import read_metrics
from .template import INTERPOLATION_HINT, load_yaml_template, parse_config, render_yaml

CONFIG = "config.yaml"
STDOUT = "stdout.log"
STDERR = "stderr.log"
#: Hydra writes its outputs (and NequIP its checkpoints) in the evaluation directory.
DEFAULT_COMMAND = ("nequip-train", "-cn", CONFIG, "hydra.run.dir=.")
#: Per-atom energy (eV/atom, as DeePMD's rmse_e_val) and force (eV/A) RMSE on the validation set.
DEFAULT_METRICS = {"energy_rmse": "val0_epoch/per_atom_energy_rmse", "force_rmse": "val0_epoch/forces_rmse"}


@attrs.frozen
class NequipTrainer:
    """The keys of ``trainer: {plugin: nequip, ...}`` (docs/nequip.md explains each)."""

    #: the config.yaml template, relative to the spec file
    template: str
    #: fixed placeholder values (max_epochs, data paths...), by placeholder name
    settings: dict[str, Any] = attrs.field(factory=dict, converter=training.settings_converter)
    #: names of settings that are file paths: relative to the spec file, rendered absolute
    paths: Any = attrs.field(default=(), converter=training.argv_converter("paths"))
    #: the training command, run in the evaluation directory
    command: Any = attrs.field(default=DEFAULT_COMMAND, converter=training.argv_converter("command"))
    #: put before the command (srun ..., jsrun -n1 -a1 -g1 ...)
    launch_prefix: Any = attrs.field(default=(), converter=training.argv_converter("launch_prefix"))
    #: added to the environment of the command
    env: Any = attrs.field(factory=dict, converter=training.env_converter)
    #: wall-clock limit of one training
    timeout_minutes: float = 120.0
    #: metric name -> metrics.csv column
    metrics: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_METRICS))
    #: fitness from the mean of the last k validation epochs (1: the last one)
    last_rows: int = 1
    #: where the template's CSVLogger writes, relative to the evaluation directory
    metrics_file: str = "metrics.csv"

    def __attrs_post_init__(self) -> None:
        training.check_command_keys(self.command, self.timeout_minutes, self.metrics, self.last_rows)
        if Path(self.metrics_file).is_absolute() or ".." in Path(self.metrics_file).parts:
            raise Invalid(f"metrics_file: expected a path inside the evaluation directory, "
                          f"got {self.metrics_file!r}")

    def prepare(self, run: RunContext) -> PreparedNequip:
        """Check template, settings and objectives; return what the workers get."""
        template = load_yaml_template(run.spec_relative(self.template))
        training.check_settings(run, self.settings)
        parameters = set(run.space.names)
        try:
            check_names(template, parameters, set(self.settings), set(training.RESERVED))
        except SpecError as exc:
            hint = f" {INTERPOLATION_HINT}" if "with no value" in exc.message else ""
            raise SpecError(exc.message + hint, exc.key) from None
        settings = training.absolute_settings(run, self.settings, self.paths)
        training.check_objectives(run, self.metrics)
        prepared = PreparedNequip(
            template=template, settings=settings, data_paths=training.listed_paths(settings, self.paths),
            command=self.command, launch_prefix=self.launch_prefix, env=self.env,
            timeout_minutes=self.timeout_minutes, metrics=dict(self.metrics), last_rows=self.last_rows,
            metrics_file=self.metrics_file,
        )
        prepared.check_samples(run)
        training.warn_missing(run, prepared.data_paths)
        return prepared

    def render(self, trial: Trial) -> str | None:
        raise RuntimeError("NequipTrainer.render: call prepare(run) first and use what it returns")

    def train(self, trial: Trial) -> Mapping[str, float]:
        raise RuntimeError("NequipTrainer.train: call prepare(run) first and use what it returns")


@attrs.frozen
class PreparedNequip:
    """The checked trainer: plain data, pickled to the workers."""

    template: Template
    settings: dict[str, Any]  #: path settings already absolute
    data_paths: tuple[str, ...]
    command: tuple[str, ...]
    launch_prefix: tuple[str, ...]
    env: dict[str, str]
    timeout_minutes: float
    metrics: dict[str, str]
    last_rows: int
    metrics_file: str

    def prepare(self, run: RunContext) -> PreparedNequip:
        return self

    def values(self, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Every placeholder value for one candidate."""
        return {**self.settings, **params, "seed": seed}

    def render(self, trial: Trial) -> str:
        """The ``config.yaml`` of ``trial``; SpecError if nequip-train could not use it."""
        text = render_yaml(self.template, self.values(trial.params, trial.seed))
        parse_config(text, self.template.path)
        return text

    def check_samples(self, run: RunContext) -> None:
        """Render the middle of the space, and each value of every choice parameter, and
        check each rendering as a NequIP config (so a bad choice fails at start-up)."""
        space = run.space
        middle = space.decode([(lo + hi) / 2 for lo, hi in space.init_ranges])
        samples = [middle]
        for name, parameter in space.parameters.items():
            samples.extend({**middle, name: choice} for choice in getattr(parameter, "choices", ()))
        for params in samples:
            parse_config(render_yaml(self.template, self.values(params, 0)), self.template.path)

    def train(self, trial: Trial) -> dict[str, float]:
        """Train ``trial`` in its own directory; TrainingFailed with the reason if no fitness."""
        text = self.render(trial)
        workdir = make_workdir(trial)
        training.write_input(workdir / CONFIG, text, self.data_paths)
        elapsed = training.run_training(self.command, self.launch_prefix, self.env, self.timeout_minutes,
                                        workdir, stdout=workdir / STDOUT, stderr=workdir / STDERR)
        try:
            lcurve = read_metrics(workdir / self.metrics_file, list(self.metrics.values()))
            result = fitness(lcurve, self.metrics, self.last_rows)
        except LcurveError as exc:
            raise TrainingFailed(str(exc)) from None
        result[training.RUNTIME] = elapsed
        return result
