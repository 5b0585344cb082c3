"""Trainer plugin ``deepmd``: one DeePMD-kit training per candidate (paper, section 2.2.4).

For each candidate: a fresh directory ``RUN_DIR/evals/<uuid>/``, the template rendered
into ``input.json`` there, ``dp --tf train input.json`` run in it as an argument list in
a process group of its own (killed whole at the time limit), and the fitness read from
the last row of ``lcurve.out`` by column name.  :class:`DeepmdTrainer` holds the keys of
the ``trainer:`` block; :meth:`DeepmdTrainer.prepare` checks them against the run and
returns a :class:`PreparedDeepmd`, plain data sent to the workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import attrs

from dnnp_hpo import training
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial, make_workdir
from dnnp_hpo.run import RunContext

from .inputcheck import check_with_deepmd
from .lcurve import LcurveError, fitness, read_lcurve
from .template import Template, check_names, load_template, parse_rendered

INPUT = "input.json"
STDOUT = "stdout.log"
STDERR = "stderr.log"
DEFAULT_COMMAND = ("dp", "--tf", "train", INPUT)
DEFAULT_METRICS = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val"}


@attrs.frozen
class DeepmdTrainer:
    """The keys of ``trainer: {plugin: deepmd, ...}`` (docs/deepmd.md explains each)."""

    #: the input.json template, relative to the spec file
    template: str
    #: fixed placeholder values (numb_steps, data paths...), by placeholder name
    settings: dict[str, Any] = attrs.field(factory=dict, converter=training.settings_converter)
    #: names of settings that are file paths: relative to the spec file, rendered absolute
    paths: Any = attrs.field(default=(), converter=training.argv_converter("paths"))
    #: the training command, run in the evaluation directory
    command: Any = attrs.field(default=DEFAULT_COMMAND, converter=training.argv_converter("command"))
    #: put before the command (srun ..., jsrun -n1 -a6 -g6 ...)
    launch_prefix: Any = attrs.field(default=(), converter=training.argv_converter("launch_prefix"))
    #: added to the environment of the command
    env: Any = attrs.field(factory=dict, converter=training.env_converter)
    #: wall-clock limit of one training; the paper used 120
    timeout_minutes: float = 120.0
    #: metric name -> lcurve.out column
    metrics: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_METRICS))
    #: fitness from the mean of the last k rows of lcurve.out (1: the last row, the paper's choice)
    last_rows: int = 1
    #: check rendered inputs with DeePMD-kit's argcheck at start-up (if DeePMD-kit is importable)
    check_input: bool = True

    def __attrs_post_init__(self) -> None:
        training.check_command_keys(self.command, self.timeout_minutes, self.metrics, self.last_rows)

    def prepare(self, run: RunContext) -> PreparedDeepmd:
        """Check template, settings and objectives; return what the workers get."""
        template = load_template(run.spec_relative(self.template))
        training.check_settings(run, self.settings)
        parameters = set(run.space.names)
        check_names(template, parameters, set(self.settings), set(training.RESERVED))
        settings = training.absolute_settings(run, self.settings, self.paths)
        training.check_objectives(run, self.metrics)
        prepared = PreparedDeepmd(
            template=template, settings=settings, data_paths=training.listed_paths(settings, self.paths),
            command=self.command, launch_prefix=self.launch_prefix, env=self.env,
            timeout_minutes=self.timeout_minutes, metrics=dict(self.metrics), last_rows=self.last_rows,
        )
        prepared.check_samples(run, deepmd=self.check_input)
        training.warn_missing(run, prepared.data_paths)
        return prepared

    def render(self, trial: Trial) -> str | None:
        raise RuntimeError("DeepmdTrainer.render: call prepare(run) first and use what it returns")

    def train(self, trial: Trial) -> Mapping[str, float]:
        raise RuntimeError("DeepmdTrainer.train: call prepare(run) first and use what it returns")


def disp_file(data: Mapping[str, Any], where: str) -> str:
    """``training.disp_file`` of a rendered input: a relative path that stays inside the
    evaluation directory (else every training would read, or write, the same file)."""
    training = data.get("training")
    name = training.get("disp_file", "lcurve.out") if isinstance(training, Mapping) else "lcurve.out"
    path = PurePosixPath(name) if isinstance(name, str) else None
    if path is None or path.is_absolute() or ".." in path.parts or not path.parts:
        raise SpecError(f"{where}: training.disp_file must be a file name inside the evaluation directory, "
                        f"got {name!r}", "template")
    return name


@attrs.frozen
class PreparedDeepmd:
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

    def prepare(self, run: RunContext) -> PreparedDeepmd:
        return self

    def values(self, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Every placeholder value for one candidate."""
        return {**self.settings, **params, "seed": seed}

    def render(self, trial: Trial) -> str:
        """The ``input.json`` of ``trial``; SpecError if it is not a JSON object."""
        text = self.template.render(self.values(trial.params, trial.seed))
        parse_rendered(text, self.template.path)
        return text

    def check_samples(self, run: RunContext, deepmd: bool) -> None:
        """Render the middle of the space, and each value of every choice parameter, and
        have each checked as JSON and (if asked and installed) by DeePMD-kit's argcheck."""
        space = run.space
        middle = space.decode([(lo + hi) / 2 for lo, hi in space.init_ranges])
        samples = [(middle, "")]
        for name, parameter in space.parameters.items():
            for choice in getattr(parameter, "choices", ()):
                samples.append(({**middle, name: choice}, f"{name}={choice!r}"))
        for params, what in samples:
            data = parse_rendered(self.template.render(self.values(params, 0)), self.template.path)
            disp_file(data, f"{self.template.path}{f' ({what})' if what else ''}")
            if deepmd:
                check_with_deepmd(data, self.template.path, what)

    def train(self, trial: Trial) -> dict[str, float]:
        """Train ``trial`` in its own directory; TrainingFailed with the reason if no fitness."""
        text = self.render(trial)
        workdir = make_workdir(trial)
        training.write_input(workdir / INPUT, text, self.data_paths)
        elapsed = training.run_training(self.command, self.launch_prefix, self.env, self.timeout_minutes,
                                        workdir, stdout=workdir / STDOUT, stderr=workdir / STDERR)
        lcurve = workdir / disp_file(parse_rendered(text, INPUT), INPUT)
        try:
            result = fitness(read_lcurve(lcurve), self.metrics, self.last_rows)
        except LcurveError as exc:
            raise TrainingFailed(str(exc)) from None
        result[training.RUNTIME] = elapsed
        return result
