"""The experiment spec: frozen attrs classes, structured from YAML by one cattrs call.

Plugin blocks (``trainer``, ``optimizer``, ``launcher``, each ``space`` entry) are
structured into the class their plugin registered, so every key anywhere in the file is
checked here, once, and reported with its path.  Reading the YAML is core/specfile.py;
the converter and its key-path messages are core/structure.py.
"""

from __future__ import annotations

import difflib
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.constraints import Constraint, never_holds, none_together
from dnnp_hpo.errors import Invalid, SpecError, shortened
from dnnp_hpo.hookspecs import Launcher, Optimizer, ParameterType, Trainer
from dnnp_hpo.paths import expand_path_text
from dnnp_hpo.registry import Registry
from dnnp_hpo.space import check_parameter_name, listed_values
from dnnp_hpo.specfile import CONTROL_CHARACTERS, apply_override, check_text, read_yaml
from dnnp_hpo.structure import first_error, make_converter

#: most evaluations one run may plan (pop_size, generations, max_births): more would take
#: years of training, and a typo of that size would hang --dry-run building generation 0
MAX_EVALUATIONS = 10_000_000
#: most workers (or workers per node) a launcher may ask for
MAX_WORKERS = 100_000
#: what the OS refuses in a path: longer components (NAME_MAX, in bytes) and paths (PATH_MAX)
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4095


def at_least(minimum: int):
    """An attrs validator: the field (when set) is ``minimum`` or more."""

    def check(_instance, attribute, value) -> None:
        if value is not None and value < minimum:
            raise Invalid(f"{attribute.name} must be at least {minimum}, got {value}", attribute.name)

    return check


def at_most(maximum: int):
    """An attrs validator: the field (when set) is ``maximum`` or less."""

    def check(_instance, attribute, value) -> None:
        if value is not None and value > maximum:
            raise Invalid(f"{attribute.name} must be at most {maximum:,}, got {value:,}", attribute.name)

    return check


def one_of(choices: Iterable[str]):
    """An attrs validator: the field (when set) is one of ``choices``; a near miss
    (``sbx-stedy``, ``sbx_steady``, ``SBX-steady``) is named, as a misspelt key is."""
    listed = tuple(choices)

    def check(_instance, attribute, value) -> None:
        if value is None or value in listed:
            return
        close = difflib.get_close_matches(value.lower().replace("_", "-"), listed, n=1) if isinstance(value, str) else []
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise Invalid(f"{attribute.name} must be one of {', '.join(listed)}, got {value!r}{hint}", attribute.name)

    return check


@attrs.frozen
class Objective:
    """One minimised objective; ``name`` picks the trainer metric it takes."""

    name: str = attrs.field(validator=lambda _i, _a, v: _non_empty_name(v))
    unit: str = attrs.field(default="", validator=lambda _i, _a, v: _no_control(v, "unit"))


def _non_empty_name(value: str) -> None:
    if not value.strip():
        raise Invalid("expected a non-empty name", "name")
    _no_control(value, "name")


def _no_control(value: str, key: str) -> None:
    # A newline went into individuals.csv's header and an escape to the terminal in every
    # table (helper-110); names and keys refuse them already.
    if CONTROL_CHARACTERS.search(value):
        raise Invalid(f"expected text without control characters (newline, tab, escape), got {shortened(value)}",
                      key)


def _positive_limits(_instance: Any, _attribute: Any, value: dict[str, float]) -> None:
    for name, limit in value.items():
        if not limit > 0:
            raise Invalid("expected a positive limit "
                          f"(an error at or below it is accurate), got {limit}", f"chemical_accuracy.{name}")


@attrs.frozen
class Report:
    """Settings of the final table and of ``hpo-report``."""

    #: objective name -> threshold; a solution is chemically accurate when every
    #: limited objective is at or below its threshold (paper: 0.004 eV/atom, 0.04 eV/A);
    #: one left out keeps the paper's for its unit (dnnp_hpo.front.accuracy_limits)
    chemical_accuracy: dict[str, float] = attrs.field(factory=dict, validator=_positive_limits)


def _default_launcher() -> Any:
    return {"plugin": "dask"}


def _seed_range(_instance: Any, _attribute: Any, value: int) -> None:
    # NumPy seeds (the per-trial training seeds) must be non-negative.
    if value < 0:
        raise SpecError(f"expected a whole number 0 or more, got {value}", "seed")


def _plain_name(_instance: Any, _attribute: Any, value: str) -> None:
    # The default run directory is runs/<name>: a name must not lead out of runs/; and it is
    # printed (a newline would split a line, an escape sequence reach the terminal raw).
    if value in ("", ".", "..") or any(c in value for c in "/\\") or CONTROL_CHARACTERS.search(value):
        raise SpecError(f"expected a plain name (it names the directory runs/<name>): no '/', '\\' or control "
                        f"character, not '.' or '..', got {shortened(value)}", "name")
    size = len(_path_bytes(value, "name"))
    if size > MAX_NAME_BYTES:
        raise SpecError(f"expected at most {MAX_NAME_BYTES} bytes (it names the directory runs/<name>), "
                        f"got {size}", "name")


def _usable_path(_instance: Any, _attribute: Any, value: str) -> None:
    # What the OS would refuse later, with a traceback from Path.resolve() or mkdir (NUL),
    # or the terminal would get raw where the run prints its directory (a newline, an escape).
    if CONTROL_CHARACTERS.search(value):
        raise SpecError("expected a path without control characters (NUL, newline, tab, escape), "
                        f"got {shortened(value)}", "run_dir")
    for part in _path_bytes(value, "run_dir").split(b"/"):
        if len(part) > MAX_NAME_BYTES:
            raise SpecError(f"expected a path whose every component is at most {MAX_NAME_BYTES} bytes, "
                            f"got one of {len(part)}: {shortened(os.fsdecode(part))}", "run_dir")
    if len(_path_bytes(os.path.abspath(value or "."), "run_dir")) > MAX_PATH_BYTES:
        raise SpecError(f"expected a path of at most {MAX_PATH_BYTES} bytes (made absolute), "
                        f"got {shortened(value)}", "run_dir")


def _path_bytes(value: str, key: str) -> bytes:
    """``value`` as the file system sees it; SpecError if it cannot be (a lone surrogate)."""
    try:
        return os.fsencode(value)
    except UnicodeError:
        raise SpecError(f"expected text the file system can name (no lone surrogate such as '\\ud800'), "
                        f"got {shortened(value)}", key) from None


def _parameter_names(_instance: Any, _attribute: Any, value: Mapping[str, Any]) -> None:
    for name in value:
        check_parameter_name(name)


@attrs.frozen
class Experiment:
    """A whole experiment spec, validated."""

    name: str = attrs.field(validator=_plain_name)
    seed: int = attrs.field(validator=_seed_range)
    space: dict[str, ParameterType] = attrs.field(validator=_parameter_names)
    objectives: tuple[Objective, ...]
    trainer: Trainer
    optimizer: Optimizer
    launcher: Launcher
    #: default: runs/<name>, relative to the working directory
    #: ``~`` and ``$VARIABLES`` expanded here, at the edge (core/paths.py)
    run_dir: str = attrs.field(default="", converter=lambda value: expand_path_text(value, "run_dir"),
                               validator=_usable_path)
    constraints: tuple[Constraint, ...] = ()
    report: Report = attrs.Factory(Report)


def structure_experiment(data: Mapping[str, Any], registry: Registry) -> Experiment:
    """Turn the raw mapping into an :class:`Experiment`; SpecError names the key."""
    data = dict(data)
    data.setdefault("launcher", _default_launcher())
    try:
        experiment = make_converter(registry).structure(data, Experiment)
    except Exception as exc:  # noqa: BLE001 - first_error re-raises what is not a user error
        path, message = first_error(exc)
        raise SpecError(message, ".".join(path)) from None
    return check_experiment(experiment)


def check_experiment(experiment: Experiment) -> Experiment:
    """Cross-field checks that no single class can make."""
    if not experiment.space:
        raise SpecError("expected at least one parameter", "space")
    if len(experiment.objectives) < 2:
        raise SpecError("expected two or more objectives (NSGA-II is multi-objective)", "objectives")
    names = [o.name for o in experiment.objectives]
    if len(set(names)) != len(names):
        raise SpecError("objective names must be unique", "objectives")
    for i, constraint in enumerate(experiment.constraints):
        for name in constraint.names():
            if name not in experiment.space:
                raise SpecError(
                    f"{constraint.text!r} names {name!r}, which is not a parameter in space",
                    f"constraints.{i}",
                )
            for value in _sample_values(experiment.space[name]):
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise SpecError(
                        f"{constraint.text!r} compares {name!r}, which can take the value {value!r}: "
                        "constraints compare numbers", f"constraints.{i}",
                    )
        reason = never_holds(constraint, experiment.space)
        if reason is not None:  # the run would train nothing and end with no result
            raise SpecError(reason, f"constraints.{i}")
    reason = none_together(list(experiment.constraints), experiment.space)
    if reason is not None:
        raise SpecError(reason, "constraints")
    for name in experiment.report.chemical_accuracy:
        if name not in names:
            # Either side may be the misspelt one: name both (the objective's own check
            # against the trainer's metrics comes later, when the trainer is prepared).
            close = difflib.get_close_matches(name, names, n=1)
            which = (f"is objectives.{names.index(close[0])}.name {close[0]!r} misspelt?" if close
                     else "is an objective's name misspelt?")
            raise SpecError(f"{name!r} is not an objective: expected one of {', '.join(names)} (or {which})",
                            f"report.chemical_accuracy.{name}")
    return experiment


def _sample_values(parameter: ParameterType) -> list[Any]:
    """Values a parameter can decode to: every one its type lists (a choice's), else both
    ends and the middle."""
    listed = listed_values(parameter)
    if listed:
        return list(listed)
    low, high = parameter.gene_init
    return [parameter.decode(low + (high - low) * f) for f in (0.0, 0.5, 1.0)]


def load_experiment(path: Path, registry: Registry, overrides: tuple[str, ...] = ()) -> tuple[Experiment, dict]:
    """Read, override and structure a spec file; returns it and the raw mapping as run."""
    data = read_yaml(path)
    if "launcher" not in data and any(a.startswith("launcher.") for a in overrides):
        # --set launcher.workers=4 on a spec that relies on the default launcher sets a
        # key of that default (only then: the raw spec a run records stays as written)
        data["launcher"] = _default_launcher()
    try:
        for assignment in overrides:
            apply_override(data, assignment)
        check_text(data)
        return structure_experiment(data, registry), data
    except SpecError as exc:
        raise exc.located(str(path)) from None
