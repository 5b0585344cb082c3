"""What every trainer that runs a training command in the evaluation directory shares.

The ``deepmd`` and ``nequip`` trainers (and a third-party one) differ in their input
format and in where they read the metrics, not in how the ``trainer:`` keys for the
command are read, nor in how the command is run and its failures reported.  Those parts
live here once, so the trainers accept the same values and fail with the same reasons:
the keys in :class:`CommandTrainer`, the training itself in :class:`PreparedCommand`,
both subclassed by each trainer, and the helpers they are made of.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs

from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import ERROR, RUNTIME, TIMEOUT, Trial, last_write, make_workdir, one_line
from dnnp_hpo.paths import absent, data_location
from dnnp_hpo.process import run_command
from dnnp_hpo.run import RunContext
from dnnp_hpo.shellsyntax import warn_shell_syntax
from dnnp_hpo.space import RESERVED, SearchSpace, listed_values
from dnnp_hpo.spec import Invalid
from dnnp_hpo.template import Template

STDOUT = "stdout.log"  #: the training command's output, in the evaluation directory
STDERR = "stderr.log"
TRACEBACK = "Traceback (most recent call last)"  #: how a Python training's crash starts in its output


def argv_converter(key: str) -> Callable[[Any], tuple[str, ...]]:
    """attrs converter: a list of strings, or one string split like a shell would (no shell runs)."""

    def convert(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:
                raise Invalid(f"cannot split {value!r} into arguments: {exc}", key) from None
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
            return tuple(str(v) for v in value)
        raise Invalid(f"expected a list of strings, got {value!r}", key)

    return convert


def env_converter(value: Any) -> dict[str, str]:
    """attrs converter: environment values may be written as numbers (OMP_NUM_THREADS: 1)."""
    if not isinstance(value, Mapping):
        raise Invalid(f"expected a mapping of variable names to values, got {value!r}", "env")
    out = {}
    for name, item in value.items():
        # What the system cannot put in an environment: every training failed with
        # "illegal environment variable name" (or "embedded null byte") after --dry-run passed.
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            quote = " (YAML reads true and false as booleans: quote the name)" if isinstance(name, bool) else ""
            raise Invalid(f"expected a variable name (not empty, without '=' or NUL), got {name!r}{quote}", "env")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise Invalid(f"expected a string or a number, got {item!r}", f"env.{name}")
        out[name] = str(item)
    return out


def settings_converter(value: Any) -> dict[str, Any]:
    """attrs converter: fixed placeholder values, keyed by placeholder name."""
    if not isinstance(value, Mapping):
        raise Invalid(f"expected a mapping of placeholder names to values, got {value!r}", "settings")
    return {str(k): v for k, v in value.items()}


def absolute_paths(run: RunContext, name: str, value: Any) -> str | list[str]:
    """A path setting (or a list of them) made absolute: the training runs in the evaluation directory."""
    if isinstance(value, str) and value:
        return str(run.spec_relative(value, f"settings.{name}"))
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return [str(run.spec_relative(v, f"settings.{name}")) for v in value]
    raise SpecError(f"listed in paths, so expected a path or a list of paths, got {value!r}",
                    f"settings.{name}")


def listed_paths(settings: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
    """Every path the settings ``names`` hold, lists flattened."""
    out: list[str] = []
    for name in names:
        value = settings[name]
        out.extend(value if isinstance(value, list) else [value])
    return tuple(out)


def missing_data(run: RunContext, path: str, relative: bool = True) -> str | None:
    """What to say of a data path that does not exist (None: it does); ``relative``: it
    may have been written relative (then where it was looked for is said)."""
    problem = absent(data_location(path))
    if problem is None:
        return None
    # Where it was looked for: a path written relative (mydata/train) is read from the
    # spec file's directory, not from where hpo-run was started.
    where = f" (a relative path is read from the spec file's directory, {run.spec_path.parent.resolve()})"
    return f"data path {path} {problem}{where if relative else ''}"


def data_setting(run: RunContext, path: str) -> tuple[str | None, bool]:
    """The ``trainer.settings`` name listed in ``trainer.paths`` that gave the absolute
    data ``path`` (None: none of a command trainer's), and whether it was written relative."""
    trainer = run.raw_spec.get("trainer")
    settings = trainer.get("settings") if isinstance(trainer, Mapping) else None
    names = trainer.get("paths") if isinstance(trainer, Mapping) else None
    if not isinstance(settings, Mapping) or not isinstance(names, list):
        return None, True
    for name in names:
        value = settings.get(name)
        written = value if isinstance(value, list) else [value]
        try:
            resolved = absolute_paths(run, name, value)
        except SpecError:
            continue
        for text, absolute in zip(written, resolved if isinstance(resolved, list) else [resolved]):
            if absolute == path:
                return name, not os.path.isabs(os.path.expanduser(os.path.expandvars(str(text))))
    return None, True


def warn_missing(run: RunContext, paths: tuple[str, ...]) -> None:
    """Under ``--dry-run``, warn on stderr about each of ``paths`` that does not exist.

    Only a warning there: the paper's spec ships with placeholders for the user's data and
    must still pass it.  A run that is to train refuses to start instead (exit 2, one line,
    :func:`dnnp_hpo.driver.check_data`, over the prepared trainer's ``data_paths``): every
    training would fail, and the run directory would be spent on them."""
    if not run.dry_run:
        return
    for path in paths:
        found = missing_setting(run, path)
        if found:
            print(f"hpo-run: warning: {run.spec_path}: {found[0]}: {found[1]}; every training will fail "
                  "until it does", file=sys.stderr)


def missing_setting(run: RunContext, path: str) -> tuple[str, str] | None:
    """The spec key of a data path that does not exist (``trainer.settings.<name>``: the
    dry run's warning named ``trainer.settings`` alone, helper-121) and what to say of it;
    None if it exists."""
    name, relative = data_setting(run, path)
    missing = missing_data(run, path, relative)
    return None if missing is None else (f"trainer.settings{f'.{name}' if name else ''}", missing)


def is_count(value: Any) -> bool:
    """Whether ``value`` is a whole number of at least 1 (steps, epochs): ``500`` or
    ``500.0``, not ``0``, ``-1``, ``true``, ``2.5``, ``inf`` or a string."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value >= 1 and value == int(value))


def warn_missing_program(run: RunContext, command: Sequence[str], key: str = "command") -> None:
    """Warn on stderr when the training program (or, ``key`` ``launch_prefix``, the
    launcher in front of it) is not found from here."""
    # Not an error, as with data paths: on a cluster the workers' PATH (modules loaded in
    # the batch script, a launch prefix's environment) may hold what the login node lacks.
    if not command:
        return
    program = command[0]
    if os.sep in program and not os.path.isabs(program):
        print(f"hpo-run: warning: {run.spec_path}: trainer.{key}: {program!r} is a relative path: it runs in "
              "each evaluation directory (RUN_DIR/evals/<uuid>), so it is looked up from there; give an "
              "absolute path", file=sys.stderr)
    elif os.sep in program:  # an absolute path: looked up nowhere else
        problem = absent(program)
        if problem is not None:
            print(f"hpo-run: warning: {run.spec_path}: trainer.{key}: {program!r} {problem} on this "
                  "host; every training will fail unless it exists where the workers run", file=sys.stderr)
    elif find_executable(program) == program:
        print(f"hpo-run: warning: {run.spec_path}: trainer.{key}: {program!r} is not on this host's PATH "
              "(nor next to its Python); every training will fail unless the workers find it",
              file=sys.stderr)


def find_executable(name: str) -> str:
    """``name`` on PATH, else next to the running Python (a venv's ``dp`` without activating
    the venv), else ``name`` unchanged (the launch prefix's environment may know it)."""
    if os.sep in name:
        return name
    return shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable)) or name


_NOISE = ("implib-gen:",)  # DeePMD-kit's CUDA stub complains at exit on CPU-only machines
_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit)\b.*")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name  # SIGKILL: the out-of-memory killer's signal
    except ValueError:
        return "unknown signal"


def output_tail(path: Path, limit: int = 262144) -> str:
    """The last ``limit`` bytes of a command's output file, decoded; "" if unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def stderr_reason(path: Path, limit: int = 65536) -> str:
    """The line of the command's stderr that best says why it failed.

    The last exception line of a Python traceback (``FileNotFoundError: ...``) if there is
    one, else the last non-empty line; lines of known exit-time noise are skipped.
    """
    lines = output_tail(path, limit).splitlines()
    lines = [line.strip() for line in lines if line.strip() and not line.strip().startswith(_NOISE)]
    for line in reversed(lines[-50:]):
        if _ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else ""


def ended_cleanly(workdir: Path, marks: Sequence[str]) -> bool:
    """Whether the command's output in ``workdir`` says its training ran to the end: one of
    ``marks`` (the lines the program logs when it has finished training) in stdout.log or
    stderr.log, and no Python traceback after the last of them.  No marks, no end seen: a
    training SIGKILLed half-way leaves no traceback, so silence proves nothing."""
    found = False
    for name in (STDOUT, STDERR):
        text = output_tail(workdir / name)
        after = max((text.rfind(mark) for mark in marks), default=-1)
        found = found or after >= 0
        if TRACEBACK in text[max(after, 0):]:
            return False
    return found


def runtime_on_disk(workdir: Path, input_name: str) -> float:
    """The wall seconds of the training in ``workdir`` as its file times tell them: from the
    input's (written just before the command started) to the newest file in the directory
    (the last thing the training wrote).  A little short of what :func:`run_training`
    measures: the program's exit after its last write is not seen (0.1 s for ``dp``'s CUDA
    stub warning, about 2 s of ``nequip-train``'s shutdown here)."""
    start = (workdir / input_name).stat().st_mtime
    return last_write(workdir, since=start) - start


def write_input(path: Path, text: str, data_paths: Sequence[str]) -> None:
    """Write the rendered input to ``path``, then check the data is there; TrainingFailed if not."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a full or read-only file system: not the candidate's fault
        raise TrainingFailed(f"cannot write {path}: {exc.strerror or exc}", status=ERROR) from None
    missing = [p for p in data_paths if absent(data_location(p))]
    if missing:
        raise TrainingFailed(f"data path(s) not found: {', '.join(missing)}")


def run_training(command: Sequence[str], launch_prefix: Sequence[str], env: Mapping[str, str],
                 timeout_minutes: float, workdir: Path, stdout: Path, stderr: Path) -> float:
    """Run ``launch_prefix + command`` in ``workdir``; its wall seconds, or TrainingFailed saying why not."""
    if not command or not command[0]:
        # What a trainer's spec validation should have refused (check_command_keys does):
        # said, rather than an IndexError recorded for every candidate.
        raise TrainingFailed("the training command is empty: expected at least the program to run "
                             "(the trainer should refuse this command when the spec is read)", status=ERROR)
    argv = [*launch_prefix, *command]
    index = len(launch_prefix)  # resolve the program, not the launcher
    argv[index] = find_executable(argv[index])
    try:
        done = run_command(argv, workdir, stdout=stdout, stderr=stderr, env=env, timeout=timeout_minutes * 60)
    except OSError as exc:
        raise TrainingFailed(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    if done.timed_out:
        raise TrainingFailed(f"killed at the time limit of {timeout_minutes:g} min "
                             f"(the whole process group)", status=TIMEOUT)
    if done.returncode != 0:
        how = (f"was killed by signal {-done.returncode} ({_signal_name(-done.returncode)})"
               if done.returncode < 0 else f"exited with status {done.returncode}")
        said = stderr_reason(stderr)
        # The status is the launcher's (srun, jsrun), which may have failed before the
        # program started: "dp exited" sent the user to look at dp.
        who = f"{command[0]} (started by {Path(launch_prefix[0]).name})" if launch_prefix else command[0]
        raise TrainingFailed(one_line(f"{who} {how}{f': {said}' if said else ''} (see {stderr})"))
    return done.elapsed


MAX_TIMEOUT_MINUTES = 525_600


def check_command_keys(command: Sequence[str], timeout_minutes: float, metrics: Mapping[str, str],
                       last_rows: int, launch_prefix: Sequence[str] = ()) -> None:
    """Invalid (for ``__attrs_post_init__``) if one of the keys every such trainer has is wrong."""
    # Finite: an infinite limit passed validation, then failed every training at start-up.
    if not 0 < timeout_minutes <= MAX_TIMEOUT_MINUTES:
        raise Invalid(f"expected a positive number of minutes up to {MAX_TIMEOUT_MINUTES} "
                      f"(365 days), got {timeout_minutes}", "timeout_minutes")
    if last_rows < 1:
        raise Invalid(f"expected 1 or more, got {last_rows}", "last_rows")
    if not command:
        raise Invalid("expected at least the program to run", "command")
    if not command[0].strip():
        raise Invalid(f"expected the program to run first, got {command[0]!r}", "command")
    if launch_prefix and not launch_prefix[0].strip():  # every training: "cannot start ''" (helper-110)
        raise Invalid(f"expected the launcher to run first (jsrun, srun), got {launch_prefix[0]!r}",
                      "launch_prefix")
    if RUNTIME in metrics:
        raise Invalid("reserved for the wall time of the training", f"metrics.{RUNTIME}")


def check_settings(run: RunContext, settings: Mapping[str, Any]) -> None:
    """SpecError if a setting is filled in by dnnp-hpo or is also a search parameter."""
    parameters = set(run.space.names)
    for name in settings:
        if name in RESERVED:
            raise SpecError(f"{name!r} is filled in by dnnp-hpo (a fresh training seed per "
                            "candidate): remove it from settings", f"settings.{name}")
        if name in parameters:
            raise SpecError(f"{name!r} is also a search parameter: it must be one or the other",
                            f"settings.{name}")


def absolute_settings(run: RunContext, settings: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """``settings`` with each setting named in ``paths`` made absolute (see :func:`absolute_paths`)."""
    out = dict(settings)
    for name in paths:
        if name not in out:
            raise SpecError(f"{name!r} is not a key of settings", "paths")
        out[name] = absolute_paths(run, name, out[name])
    return out


def check_objectives(run: RunContext, metrics: Mapping[str, str],
                     defaults: Mapping[str, str] | None = None, key: str = "metrics") -> None:
    """SpecError if an objective of the run is none of the trainer's metrics (nor the runtime).

    ``key``: the trainer key that lists the metrics, named by the line (``trainer.metrics``)
    when the spec gives that block; "" for a trainer without one.  Without a block of the
    user's the line names the objective's ``objectives.N.name``, with "did you mean".

    ``defaults``: the trainer's metrics when the spec gives no ``metrics`` block.  An
    objective among them but not among ``metrics`` was dropped by the spec's block, which
    replaces the defaults (it is not merged with them: a user's learning curve may lack
    their columns); the message then says so, else it read as if the trainer could not
    measure that objective at all."""
    produced = [*metrics, RUNTIME]
    for i, objective in enumerate(run.objective_names):
        if objective in produced:
            continue
        if defaults and objective in defaults:
            named = ", ".join(f"{name}: {column}" for name, column in defaults.items())
            raise SpecError(f"objective {objective!r} is not a metric of the trainer.metrics block (measured: "
                            f"{', '.join(produced)}): the block replaces the trainer's defaults ({named}), "
                            "so name every metric the objectives use", key)
        close = difflib.get_close_matches(objective, produced, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        # No metrics block of the user's: the objective's name is what is at fault (a
        # misspelt force_rmsee was blamed on a trainer.metrics the spec has not).
        named = not key or (defaults is not None and dict(metrics) == dict(defaults))
        raise SpecError(f"objective {objective!r} is not a metric of this trainer (it measures: "
                        f"{', '.join(produced)}{hint})", f"objectives.{i}.name" if named else key, rooted=named)


def sample_params(space: SearchSpace) -> list[tuple[dict[str, Any], str]]:
    """The middle of the search space, then the middle with each value of every choice
    parameter, each with a label naming the choice: the renderings a trainer checks at
    start-up, so that a choice that breaks the input stops the run before any training."""
    middle = space.decode([(lo + hi) / 2 for lo, hi in space.init_ranges])
    samples = [(middle, "")]
    for name, parameter in space.parameters.items():
        samples.extend(({**middle, name: choice}, f"{name}={choice!r}")
                       for choice in listed_values(parameter))
    return samples


@attrs.frozen(kw_only=True)
class CommandTrainer:
    """The ``trainer:`` keys of a trainer that renders a template and runs a command on it.

    A trainer for a given code subclasses it: it names its defaults
    (:attr:`DEFAULT_COMMAND`, :attr:`DEFAULT_METRICS`), adds its own keys, and writes
    ``prepare``, which checks the template and returns its :class:`PreparedCommand` built
    from :meth:`prepared_keys`.  Keyword-only: cattrs builds it from the spec's block.
    """

    #: the training command when the spec names none
    DEFAULT_COMMAND: ClassVar[tuple[str, ...]] = ()
    #: metric name -> the column the trainer reads it from, when the spec names none
    DEFAULT_METRICS: ClassVar[Mapping[str, str]] = {}

    #: the input template, relative to the spec file
    template: str
    #: fixed placeholder values (number of steps, data paths...), by placeholder name
    settings: dict[str, Any] = attrs.field(factory=dict, converter=settings_converter)
    #: names of settings that are file paths: relative to the spec file, rendered absolute
    paths: Any = attrs.field(default=(), converter=argv_converter("paths"))
    #: the training command, run in the evaluation directory
    command: Any = attrs.field(default=attrs.Factory(lambda self: self.DEFAULT_COMMAND, takes_self=True),
                               converter=argv_converter("command"))
    #: put before the command (srun ..., jsrun -n1 -a6 -g6 ...)
    launch_prefix: Any = attrs.field(default=(), converter=argv_converter("launch_prefix"))
    #: added to the environment of the command
    env: Any = attrs.field(factory=dict, converter=env_converter)
    #: wall-clock limit of one training; the paper used 120
    timeout_minutes: float = 120.0
    #: metric name -> the column of the learning curve it is read from
    metrics: dict[str, str] = attrs.field(
        default=attrs.Factory(lambda self: dict(self.DEFAULT_METRICS), takes_self=True))
    #: fitness from the mean of the last k rows of the learning curve (1: the last one, the paper's choice)
    last_rows: int = 1

    def __attrs_post_init__(self) -> None:
        check_command_keys(self.command, self.timeout_minutes, self.metrics, self.last_rows, self.launch_prefix)

    def prepared_keys(self, run: RunContext, template: Template) -> dict[str, Any]:
        """Path settings made absolute and objectives checked: the keys of every
        :class:`PreparedCommand`, for the subclass to add its own to."""
        settings = absolute_settings(run, self.settings, self.paths)
        check_objectives(run, self.metrics, self.DEFAULT_METRICS)
        warn_missing_program(run, self.command)
        warn_missing_program(run, self.launch_prefix, "launch_prefix")
        warn_shell_syntax(run, self.launch_prefix, self.command)
        return {"template": template, "settings": settings, "data_paths": listed_paths(settings, self.paths),
                "command": self.command, "launch_prefix": self.launch_prefix, "env": self.env,
                "timeout_minutes": self.timeout_minutes, "metrics": dict(self.metrics),
                "last_rows": self.last_rows, "objectives": tuple(run.objective_names)}

    def render(self, trial: Trial) -> str | None:
        raise RuntimeError(f"{type(self).__name__}.render: call prepare(run) first and use what it returns")

    def train(self, trial: Trial) -> Mapping[str, float]:
        raise RuntimeError(f"{type(self).__name__}.train: call prepare(run) first and use what it returns")


@attrs.frozen(kw_only=True)
class PreparedCommand:
    """A checked :class:`CommandTrainer`: plain data, pickled to the workers.

    A subclass names its input file (:attr:`INPUT`) and writes ``render`` (the input of
    one trial) and ``read_fitness`` (the metrics from the evaluation directory once the
    command has exited 0); :meth:`train` is the same for every code, and so is
    :meth:`harvest` (given the lines the program logs at its end, :attr:`FINISHED`).
    """

    #: the rendered input's file name in the evaluation directory
    INPUT: ClassVar[str] = "input"
    #: what the program logs (to stdout or stderr) once it has finished training; a
    #: training is harvested only if its output holds one of them, so a trainer that names
    #: none is never harvested (its interrupted trainings are trained again)
    FINISHED: ClassVar[tuple[str, ...]] = ()

    template: Template
    settings: dict[str, Any]  #: path settings already absolute
    data_paths: tuple[str, ...]
    command: tuple[str, ...]
    launch_prefix: tuple[str, ...]
    env: dict[str, str]
    timeout_minutes: float
    metrics: dict[str, str]
    last_rows: int
    #: the objectives of the run: the metrics a training must give; the others are only
    #: recorded, where the curve has them (None: every metric)
    objectives: tuple[str, ...] | None = None

    def prepare(self, run: RunContext) -> PreparedCommand:
        return self

    def input_digest(self) -> str:
        """SHA-256 of the template's text and placeholders (its ``pieces``), not of where
        its file is: a run moved to a cluster resumes, one whose template was edited is
        refused.  A subclass written when ``template`` was untyped may hold another
        object: that is digested by its repr, as then."""
        content = repr(getattr(self.template, "pieces", self.template))
        return hashlib.sha256(content.encode("utf-8")).hexdigest()

    def values(self, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Every placeholder value for one candidate."""
        return {**self.settings, **params, "seed": seed}

    def render(self, trial: Trial) -> str:
        raise NotImplementedError

    def read_fitness(self, workdir: Path, text: str) -> dict[str, float]:
        """The metrics by name, from what the training wrote in ``workdir`` (``text``: its
        input); TrainingFailed saying why if they cannot be read."""
        raise NotImplementedError

    def train(self, trial: Trial) -> dict[str, float]:
        """Train ``trial`` in its own directory; TrainingFailed with the reason if no fitness."""
        text = self.render(trial)
        workdir = make_workdir(trial)
        write_input(workdir / self.INPUT, text, self.data_paths)
        elapsed = run_training(self.command, self.launch_prefix, self.env, self.timeout_minutes,
                               workdir, stdout=workdir / STDOUT, stderr=workdir / STDERR)
        result = self.read_fitness(workdir, text)
        result[RUNTIME] = elapsed
        return result

    def ended(self, workdir: Path, text: str) -> bool:
        """Whether the training in ``workdir`` (of input ``text``) ran to its end, as its
        output tells: one of :attr:`FINISHED` logged, no traceback after it.  Asked by
        :meth:`harvest` only (:meth:`train` has the exit status); a subclass may add what
        its files tell."""
        return ended_cleanly(workdir, self.FINISHED)

    def harvest(self, trial: Trial) -> dict[str, float] | None:
        """The metrics of ``trial``'s training if it ran to the end in its directory while
        no driver listened (called when a run resumes); None to train it again.

        Only this trial's own training counts (its input in the directory exactly as
        :meth:`render` gives it), only if it ended (:meth:`ended`) and only if
        :meth:`read_fitness` finds a complete curve: a training killed half-way is trained
        again, never recorded as finished.  The directory is only read, never created.
        """
        workdir = trial.workdir
        try:
            text = (workdir / self.INPUT).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # never started here (no directory), or no input
            return None
        if text != self.render(trial) or not self.ended(workdir, text):
            return None
        try:
            result = self.read_fitness(workdir, text)
        except TrainingFailed:
            return None
        # No driver timed the command: its wall time is taken from the file times.
        result[RUNTIME] = runtime_on_disk(workdir, self.INPUT)
        return result
