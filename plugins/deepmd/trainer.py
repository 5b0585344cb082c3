"""Trainer plugin ``deepmd``: one DeePMD-kit training per candidate (paper, section 2.2.4).

For each candidate: a fresh directory ``RUN_DIR/evals/<uuid>/``, the template rendered
into ``input.json`` there, ``dp --tf train input.json`` run in it as an argument list in
a process group of its own (killed whole at the time limit), and the fitness read from
the last row of ``lcurve.out`` by column name.  :class:`DeepmdTrainer` holds the keys of
the ``trainer:`` block; :meth:`DeepmdTrainer.prepare` checks them against the run and
returns a :class:`PreparedDeepmd`, plain data sent to the workers.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import ERROR, TIMEOUT, Trial, make_workdir, one_line
from dnnp_hpo.process import run_command
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid

from .inputcheck import check_with_deepmd
from .lcurve import LcurveError, fitness, read_lcurve
from .template import Template, check_names, load_template, parse_rendered

INPUT = "input.json"
STDOUT = "stdout.log"
STDERR = "stderr.log"
RUNTIME = "runtime"  #: wall seconds of the training command, always returned as a metric
RESERVED = frozenset({"seed"})  #: placeholder names dnnp-hpo fills in itself
DEFAULT_COMMAND = ("dp", "--tf", "train", INPUT)
DEFAULT_METRICS = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val"}


def _argv(key: str):
    """attrs converter: a list of strings, or one string split like a shell would (no shell runs)."""

    def convert(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:
                raise Invalid(f"{key}: cannot split {value!r} into arguments: {exc}") from None
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
            return tuple(str(v) for v in value)
        raise Invalid(f"{key}: expected a list of strings, got {value!r}")

    return convert


def _env(value: Any) -> dict[str, str]:
    """attrs converter: environment values may be written as numbers (OMP_NUM_THREADS: 1)."""
    if not isinstance(value, Mapping):
        raise Invalid(f"env: expected a mapping of variable names to values, got {value!r}")
    out = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise Invalid(f"env.{name}: expected a string or a number, got {item!r}")
        out[str(name)] = str(item)
    return out


def _settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Invalid(f"settings: expected a mapping of placeholder names to values, got {value!r}")
    return {str(k): v for k, v in value.items()}


@attrs.frozen
class DeepmdTrainer:
    """The keys of ``trainer: {plugin: deepmd, ...}`` (docs/deepmd.md explains each)."""

    #: the input.json template, relative to the spec file
    template: str
    #: fixed placeholder values (numb_steps, data paths...), by placeholder name
    settings: dict[str, Any] = attrs.field(factory=dict, converter=_settings)
    #: names of settings that are file paths: relative to the spec file, rendered absolute
    paths: Any = attrs.field(default=(), converter=_argv("paths"))
    #: the training command, run in the evaluation directory
    command: Any = attrs.field(default=DEFAULT_COMMAND, converter=_argv("command"))
    #: put before the command (srun ..., jsrun -n1 -a6 -g6 ...)
    launch_prefix: Any = attrs.field(default=(), converter=_argv("launch_prefix"))
    #: added to the environment of the command
    env: Any = attrs.field(factory=dict, converter=_env)
    #: wall-clock limit of one training; the paper used 120
    timeout_minutes: float = 120.0
    #: metric name -> lcurve.out column
    metrics: dict[str, str] = attrs.field(factory=lambda: dict(DEFAULT_METRICS))
    #: fitness from the mean of the last k rows of lcurve.out (1: the last row, the paper's choice)
    last_rows: int = 1
    #: check rendered inputs with DeePMD-kit's argcheck at start-up (if DeePMD-kit is importable)
    check_input: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.timeout_minutes > 0:
            raise Invalid(f"timeout_minutes: expected a positive number, got {self.timeout_minutes}")
        if self.last_rows < 1:
            raise Invalid(f"last_rows: expected 1 or more, got {self.last_rows}")
        if not self.command:
            raise Invalid("command: expected at least the program to run")
        if RUNTIME in self.metrics:
            raise Invalid(f"metrics.{RUNTIME}: reserved for the wall time of the training")

    def prepare(self, run: RunContext) -> PreparedDeepmd:
        """Check template, settings and objectives; return what the workers get."""
        template = load_template(run.spec_relative(self.template))
        parameters = set(run.space.names)
        for name in self.settings:
            if name in RESERVED:
                raise SpecError(f"{name!r} is filled in by dnnp-hpo (a fresh training seed per "
                                "candidate): remove it from settings", f"settings.{name}")
            if name in parameters:
                raise SpecError(f"{name!r} is also a search parameter: it must be one or the other",
                                f"settings.{name}")
        check_names(template, parameters, set(self.settings), set(RESERVED))
        settings = dict(self.settings)
        for name in self.paths:
            if name not in settings:
                raise SpecError(f"{name!r} is not a key of settings", "paths")
            settings[name] = _absolute(run, name, settings[name])
        produced = [*self.metrics, RUNTIME]
        for objective in run.objective_names:
            if objective not in produced:
                raise SpecError(f"objective {objective!r} is not a metric of this trainer (it measures: "
                                f"{', '.join(produced)})", "metrics")
        prepared = PreparedDeepmd(
            template=template, settings=settings, data_paths=_listed_paths(settings, self.paths),
            command=self.command, launch_prefix=self.launch_prefix, env=self.env,
            timeout_minutes=self.timeout_minutes, metrics=dict(self.metrics), last_rows=self.last_rows,
        )
        prepared.check_samples(run, deepmd=self.check_input)
        _warn_missing(run, prepared.data_paths)
        return prepared

    def render(self, trial: Trial) -> str | None:
        raise RuntimeError("DeepmdTrainer.render: call prepare(run) first and use what it returns")

    def train(self, trial: Trial) -> Mapping[str, float]:
        raise RuntimeError("DeepmdTrainer.train: call prepare(run) first and use what it returns")


def _absolute(run: RunContext, name: str, value: Any) -> str | list[str]:
    """A path setting (or a list of them) made absolute: dp runs in the evaluation directory."""
    if isinstance(value, str) and value:
        return str(run.spec_relative(value))
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return [str(run.spec_relative(v)) for v in value]
    raise SpecError(f"listed in paths, so expected a path or a list of paths, got {value!r}",
                    f"settings.{name}")


def _listed_paths(settings: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        value = settings[name]
        out.extend(value if isinstance(value, list) else [value])
    return tuple(out)


def _warn_missing(run: RunContext, paths: tuple[str, ...]) -> None:
    # Not an error: the paper's spec ships with placeholders for the user's data and must
    # still pass --dry-run.  Each training checks again and fails at once if still missing.
    for path in paths:
        if not Path(path).exists():
            print(f"hpo-run: warning: {run.spec_path}: trainer.settings: data path {path} does not "
                  "exist; every training will fail until it does", file=sys.stderr)


def find_executable(name: str) -> str:
    """``name`` on PATH, else next to the running Python (a venv's ``dp`` without activating
    the venv), else ``name`` unchanged (the launch prefix's environment may know it)."""
    if os.sep in name:
        return name
    return shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable)) or name


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


_NOISE = ("implib-gen:",)  # DeePMD-kit's CUDA stub complains at exit on CPU-only machines
_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit)\b.*")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name  # SIGKILL: the out-of-memory killer's signal
    except ValueError:
        return "unknown signal"


def stderr_reason(path: Path, limit: int = 65536) -> str:
    """The line of the command's stderr that best says why it failed.

    The last exception line of a Python traceback (``FileNotFoundError: ...``) if there is
    one, else the last non-empty line; lines of known exit-time noise are skipped.
    """
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip() and not line.strip().startswith(_NOISE)]
    for line in reversed(lines[-50:]):
        if _ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else ""


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
        try:
            (workdir / INPUT).write_text(text, encoding="utf-8")
        except OSError as exc:  # a full or read-only file system
            raise TrainingFailed(f"cannot write {workdir / INPUT}: {exc.strerror or exc}", status=ERROR) from None
        missing = [p for p in self.data_paths if not Path(p).exists()]
        if missing:
            raise TrainingFailed(f"data path(s) not found: {', '.join(missing)}")
        argv = [*self.launch_prefix, *self.command]
        index = len(self.launch_prefix)  # resolve the program, not the launcher
        argv[index] = find_executable(argv[index])
        try:
            done = run_command(argv, workdir, stdout=workdir / STDOUT, stderr=workdir / STDERR,
                               env=self.env, timeout=self.timeout_minutes * 60)
        except OSError as exc:
            raise TrainingFailed(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        if done.timed_out:
            raise TrainingFailed(f"killed at the time limit of {self.timeout_minutes:g} min "
                                 f"(the whole process group)", status=TIMEOUT)
        if done.returncode != 0:
            how = (f"was killed by signal {-done.returncode} ({_signal_name(-done.returncode)})"
                   if done.returncode < 0 else f"exited with status {done.returncode}")
            raise TrainingFailed(one_line(f"{self.command[0]} {how}: "
                                          f"{stderr_reason(workdir / STDERR)} (see {workdir / STDERR})"))
        lcurve = workdir / disp_file(parse_rendered(text, INPUT), INPUT)
        try:
            result = fitness(read_lcurve(lcurve), self.metrics, self.last_rows)
        except LcurveError as exc:
            raise TrainingFailed(str(exc)) from None
        result[RUNTIME] = done.elapsed
        return result
