"""Trainer plugin ``deepmd``: one DeePMD-kit training per candidate (paper, section 2.2.4).

For each candidate: a fresh directory ``RUN_DIR/evals/<uuid>/``, the template rendered
into ``input.json`` there, ``dp --tf train input.json`` run in it as an argument list in
a process group of its own (killed whole at the time limit), and the fitness read from
the last row of ``lcurve.out`` by column name.  :class:`DeepmdTrainer` holds the keys of
the ``trainer:`` block; :meth:`DeepmdTrainer.prepare` checks them against the run and
returns a :class:`PreparedDeepmd`, plain data sent to the workers.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from dnnp_hpo import training
from dnnp_hpo.constraints import Constraint
from dnnp_hpo.curve import LcurveError, fitness
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial
from dnnp_hpo.front import DEFAULT_ACCURACY, normal_unit
from dnnp_hpo.paths import absent, data_location
from dnnp_hpo.run import RunContext
from dnnp_hpo.space import listed_values
from dnnp_hpo.template import check_names, check_setting_values, load_template
from dnnp_hpo.training import is_count

from .inputcheck import check_activations, check_with_deepmd, keys_named, placeholder_keys, value_source
from .lcurve import (
    STEP_KEYS,
    check_columns,
    check_complete,
    check_ener_columns,
    column_term,
    ener_loss,
    last_step,
    read_lcurve,
    schedule,
    undivided,
)
from .neighbours import SEL_SHORTFALL, sel_shortfall
from .template import parse_rendered, parse_template

INPUT = "input.json"
DEFAULT_COMMAND = ("dp", "--tf", "train", INPUT)
DEFAULT_METRICS = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val"}


@attrs.frozen(kw_only=True)
class DeepmdTrainer(training.CommandTrainer):
    """The keys of ``trainer: {plugin: deepmd, ...}`` (docs/deepmd.md explains each):
    those of every command trainer (:class:`dnnp_hpo.training.CommandTrainer`: the
    ``input.json`` template, settings, paths, command, ..., metrics as lcurve.out
    columns) and ``check_input``."""

    DEFAULT_COMMAND = DEFAULT_COMMAND
    DEFAULT_METRICS = DEFAULT_METRICS

    #: check rendered inputs with DeePMD-kit's argcheck at start-up (if DeePMD-kit is importable)
    check_input: bool = True

    def prepare(self, run: RunContext) -> PreparedDeepmd:
        """Check template, settings and objectives; return what the workers get."""
        template = load_template(run.spec_relative(self.template, "template"), parse_template)
        training.check_settings(run, self.settings)
        check_names(template, set(run.space.names), set(self.settings), set(training.RESERVED))
        check_setting_values(template, self.settings)
        check_columns(self.metrics)
        check_units(run, self.metrics)
        prepared = PreparedDeepmd(**self.prepared_keys(run, template),
                                  tensorflow=tensorflow_backend(self.command, self.env))
        rendered = prepared.check_samples(run, deepmd=self.check_input)
        check_written_systems(run, rendered, self.command, prepared.data_paths)
        check_type_map(rendered, placeholder_keys(template), set(self.settings))
        check_virial_data(rendered, self.metrics, [objective.name for objective in run.experiment.objectives])
        check_virial_limit(run, self.metrics)
        warn_validation_trained(run, rendered, self.metrics)
        if "seed" not in template.names:
            warn_fixed_seeds(run, template.path, rendered[0][0])
        training.warn_missing(run, prepared.data_paths)
        return prepared


#: what DeePMD-kit's lcurve.out columns measure, by their loss term (deepmd/tf/loss/ener.py:
#: rmse_e is the energy error divided by the number of atoms, rmse_f the force error,
#: rmse_v the virial error divided by the number of atoms: an energy per atom as well)
COLUMN_UNITS = {"e": "eV/atom", "f": "eV/A", "v": "eV/atom"}


def check_units(run: RunContext, metrics: Mapping[str, str]) -> None:
    """SpecError if an objective read from an energy or force column is given another unit
    that has a default chemical accuracy (``meV/atom``): the values stay DeePMD-kit's eV,
    so that limit (4 meV/atom) would call every model accurate.  A unit without a default
    (``kcal/mol/Å``) is the user's label, which no limit reads (the report names it).  The
    line names the objective's ``unit`` key, outside the ``trainer`` block."""
    for i, objective in enumerate(run.experiment.objectives):
        unit = COLUMN_UNITS.get(column_term(metrics.get(objective.name, "")) or "")
        given = normal_unit(objective.unit)
        if unit and given in DEFAULT_ACCURACY and given != normal_unit(unit):
            raise SpecError(f"objective {objective.name} has unit {objective.unit!r}, but it is read from "
                            f"{metrics[objective.name]} of lcurve.out, in {unit} (DeePMD-kit's unit, read as it "
                            f"is): give it unit {unit}", f"objectives.{i}.unit", rooted=True)


def check_virial_limit(run: RunContext, metrics: Mapping[str, str]) -> None:
    """SpecError if a virial objective in a unit with a default chemical-accuracy limit has
    no limit of its own.  Checked last: a virial error that cannot be measured (its loss
    prefactors 0, data without virials) is refused first, not after the user gave it a limit
    (helper-94)."""
    for objective in run.experiment.objectives:
        column = metrics.get(objective.name, "")
        given = normal_unit(objective.unit)
        if (column_term(column) == "v" and given in DEFAULT_ACCURACY
                and objective.name not in run.experiment.report.chemical_accuracy):
            # A default limit goes by unit, and the virial's is the energy's: the paper's
            # 4 meV/atom would judge it (helper-92), and the paper sets none for the virial.
            raise SpecError(f"objective {objective.name} is the virial error ({column}) in {objective.unit}, whose "
                            f"default chemical-accuracy limit ({DEFAULT_ACCURACY[given]:g} {objective.unit}) is the "
                            "paper's for the energy, which sets none for the virial: give it one of its own, "
                            f"report.chemical_accuracy.{objective.name}", "report.chemical_accuracy", rooted=True)


#: ``dp``'s flags naming the TensorFlow backend (deepmd/main.py; ``--backend`` takes the names too)
TF_NAMES = ("tf", "tensorflow")
#: ``dp``'s flags naming another backend (deepmd/main.py's BACKEND_TABLE, DeePMD-kit 3.2)
OTHER_BACKENDS = ("pt", "pytorch", "pt-expt", "pt_expt", "pytorch-exportable", "jax", "pd", "paddle", "tf2",
                  "tensorflow2", "dpmodel", "dp", "numpy", "np")


def named_backend(command: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    """The DeePMD-kit backend ``command`` trains with, as far as its arguments tell (the
    name as written, lower case): a flag (``--pt``, ``--backend tf``, ``-b tf``), or for
    ``dp`` with none its default, ``DP_BACKEND`` in ``trainer.env`` or else in hpo-run's
    environment, TensorFlow without it.  None: not known (a wrapper script without flags)."""
    # After dp itself when the command names it: a wrapper's own flags (mpirun --np 4) are
    # not dp's (helper-93)
    start = next((i + 1 for i, arg in enumerate(command) if Path(arg).name == "dp"), 0)
    for i, arg in enumerate(command[start:], start):
        following = command[i + 1] if i + 1 < len(command) else ""
        if arg.startswith("--backend"):
            return (arg.partition("=")[2] or following).lower()
        if arg.startswith("-b") and not arg.startswith("--"):  # -b pt, -bpt (not a wrapper's -bind-to)
            value = (arg[2:] or following).lower()
            if arg == "-b" or value in (*TF_NAMES, *OTHER_BACKENDS):
                return value
        name = arg[2:] if arg.startswith("--") else None
        if name in (*TF_NAMES, *OTHER_BACKENDS):
            return name
    if start:
        return env.get("DP_BACKEND", os.environ.get("DP_BACKEND", "tensorflow")).lower()
    return None


def tensorflow_backend(command: tuple[str, ...], env: Mapping[str, str]) -> bool:
    """Whether ``command`` trains with DeePMD-kit's TensorFlow backend, as far as its
    arguments tell (:func:`named_backend`)."""
    return named_backend(command, env) in TF_NAMES


def systems_paths(data: Any, where: str, patterned: bool = True) -> list[tuple[str, str]]:
    """``(key, path)`` of each data path under ``training`` (the ``systems`` of
    ``training_data``, ``validation_data``, DeePMD-kit 1's ``training.systems``, a
    multi-task ``data_dict``): a string or a list of strings.  ``patterned=False`` leaves
    out the paths of a section with ``rglob_patterns``: DeePMD-kit takes only the systems
    below them that a pattern matches, which a walk of every system would not know."""
    if isinstance(data, Mapping):
        found = []
        for key, value in data.items():
            if key == "systems" and not patterned and "rglob_patterns" in data:
                continue
            if key == "systems":
                values = value if isinstance(value, list) else [value]
                found.extend((f"{where}{key}", v) for v in values if isinstance(v, str))
            else:
                found.extend(systems_paths(value, f"{where}{key}.", patterned))
        return found
    return []


def under_any(path: str, tops: Collection[str]) -> bool:
    """Whether ``path`` is one of ``tops`` or below one of them."""
    return any(path == top or path.startswith(top.rstrip(os.sep) + os.sep) for top in tops)


def check_written_systems(run: RunContext, rendered: list[tuple[dict[str, Any], str]],
                          command: tuple[str, ...], data_paths: Collection[str]) -> None:
    """SpecError for a relative data path written in the template that cannot exist where
    ``dp`` runs (inside the fresh evaluation directory), a warning for one that climbs
    out of it (``../data``) to a place that does not exist: ``dp`` reads them from
    ``RUN_DIR/evals/<uuid>/``, so a converted input.json's ``../data/train`` failed every
    training.  A warning too for an absolute one that does not exist on this host (a
    converted input.json's path with a typo failed every training): only a warning, as
    for the training program, since data on the workers' nodes alone are not seen from
    here; the ``trainer.paths`` settings (``data_paths``), and paths below them
    (``${train}/sub``), are :func:`check_data`'s, which says it once."""
    seen = set()
    evaldir = run.evals_dir / "<uuid>"
    for data, where in rendered:
        for key, path in systems_paths(data.get("training"), "training."):
            if not path or (key, path) in seen or under_any(path, data_paths):
                continue
            seen.add((key, path))
            if os.path.isabs(path):
                problem = absent(data_location(path))
                if problem is not None:
                    print(f"hpo-run: warning: {run.spec_path}: trainer.template: {where}: {key}: {path} {problem} "
                          "on this host; every training will fail unless it exists where the workers run",
                          file=sys.stderr)
                continue
            advice = ("give an absolute path, or a placeholder whose value is in trainer.settings and listed in "
                      "trainer.paths (relative to the spec file, rendered absolute)")
            inside = not os.path.normpath(path).startswith("..")
            if inside and Path(command[0]).name == "dp":
                # Nothing but dp runs there, and the directory holds only input.json.
                raise SpecError(f"{where}: {key}: {path!r} is a relative path, and dp runs in the fresh evaluation "
                                f"directory {evaldir}, where it cannot exist: {advice}", "template")
            resolved = os.path.normpath(evaldir / path)
            problem = absent(resolved)
            if problem is not None:
                print(f"hpo-run: warning: {run.spec_path}: trainer.template: {where}: {key}: {path!r} is relative "
                      f"to the evaluation directory {evaldir} where dp runs, so it is {resolved}, which "
                      f"{problem}; every training will fail unless it is there: {advice}", file=sys.stderr)


def systems_under(path: str | Path) -> list[Path]:
    """The systems DeePMD-kit finds for a data path (``expand_sys_str``): ``path`` itself
    if it holds a ``type.raw``, else each directory below it that does, not into a
    system (its ``set.*`` frames) nor into a linked directory (pathlib's ``rglob`` goes
    into none), though a link that is itself a system is one."""
    found = []
    for top, dirs, files in os.walk(path):
        if "type.raw" in files:
            found.append(Path(top))
            dirs[:] = []
            continue
        linked = [d for d in dirs if os.path.islink(os.path.join(top, d))]
        found.extend(Path(top, d) for d in linked if os.path.isfile(os.path.join(top, d, "type.raw")))
        dirs[:] = sorted(d for d in dirs if d not in linked)
    return found


def data_type_maps(path: Path) -> list[tuple[Path, list[str]]]:
    """The element names of each system under ``path`` (:func:`systems_under`) that has a
    ``type_map.raw`` (dpdata writes one).  A folder without ``type.raw`` is no system:
    its ``type_map.raw`` (an old dataset's left beside) refused a spec falsely (helper-87)."""
    found = []
    for system in systems_under(path):
        if (system / "type_map.raw").is_file():
            try:
                found.append((system, (system / "type_map.raw").read_text(encoding="utf-8").split()))
            except (OSError, UnicodeDecodeError):
                continue  # dp says what is wrong with it
    return found


def check_type_map(rendered: list[tuple[dict[str, Any], str]], placeholders: Mapping[str, str],
                   settings: Collection[str]) -> None:
    """SpecError when the data hold an element that the rendered ``model.type_map`` lacks:
    DeePMD-kit refuses such data ("Elements ['Ni'] are not present in the provided
    type_map"), so every training failed after --dry-run had called the spec valid (a
    template copied from another system).  Data not there yet are left to the warning.
    A type_map that a setting gives (``$type_map``, the paper's) names that setting, where
    the fix goes (it named the template, which a review then looked through in vain)."""
    name = placeholders.get("model.type_map")
    key, fix = ((f"settings.{name}", f"trainer.settings.{name}") if name in settings
                else ("template", "model.type_map"))
    seen = set()
    for data, where in rendered:
        model = data.get("model")
        type_map = model.get("type_map") if isinstance(model, Mapping) else None
        if not isinstance(type_map, list):
            continue  # no names: DeePMD-kit reads the types as numbers
        names = tuple(map(str, type_map))
        for data_key, path in systems_paths(data.get("training"), "training.", patterned=False):
            if not os.path.isabs(path) or (path, names) in seen:
                continue  # each data path walked once per type_map, not once per sample
            seen.add((path, names))
            for system, elements in data_type_maps(Path(path)):
                missing = [element for element in elements if element not in type_map]
                if missing:
                    raise SpecError(
                        f"{where}: model.type_map {type_map}{f' (from ${name})' if key != 'template' else ''} "
                        f"lacks {', '.join(missing)}, an element of the data in {data_key} "
                        f"({system / 'type_map.raw'}: {' '.join(elements)}), which DeePMD-kit refuses: "
                        f"list every element of the data in {fix}", key)


def lacks_virials(system: Path) -> bool:
    """Whether a set of a DeePMD-kit system holds no ``virial.npy``: DeePMD-kit reads the
    virials set by set (deepmd/utils/data.py), and a set without them gives NaN too
    (helper-93).  A system without sets is dp's to refuse ("No set.* is found")."""
    return any(not (s / "virial.npy").is_file() for s in system.glob("set.*") if s.is_dir())


def check_virial_data(rendered: list[tuple[dict[str, Any], str]], metrics: Mapping[str, str],
                      objectives: Collection[str]) -> None:
    """SpecError when an objective reads the virial error (``rmse_v_val``) and systems of
    the data it is measured on hold no virials: DeePMD-kit then writes NaN for the batches
    drawn from them, and every training failed after its whole run (no system had any), or
    at random, by the system its last batch came from (some had; helper-92).  Read on the
    middle of the space; data not there (a worker's path) are left alone."""
    data, where = rendered[0]
    for name, column in metrics.items():
        if name not in objectives or column_term(column) != "v" or not column.endswith(("_val", "_trn")):
            continue
        validation = column.endswith("_val")
        paths = [(key, path) for key, path in systems_paths(data.get("training"), "training.", patterned=False)
                 if os.path.isabs(path) and ("validation_data" in key) == validation]
        for key, path in paths:
            systems = systems_under(path)
            lacking = [system for system in systems if lacks_virials(system)]
            if lacking:
                which = (f"the system in {path} has" if len(systems) == 1 else
                         f"{len(lacking)} of the {len(systems)} systems in {path} {'have' if len(lacking) > 1 else 'has'}")
                raise SpecError(f"{where}: {key}: {which} sets without virials ({lacking[0]}/set.*/virial.npy), "
                                f"which {name} reads ({column}): DeePMD-kit "
                                "writes NaN for the batches drawn from them, so every training would fail, or many at "
                                f"random; give {'validation' if validation else 'training'} systems with virials, or "
                                f"drop the objective", "template")


def data_systems(path: str) -> list[str]:
    """The systems DeePMD-kit trains on for a data path (:func:`systems_under`), resolved."""
    return [os.path.realpath(system) for system in systems_under(path)]


def warn_validation_trained(run: RunContext, rendered: list[tuple[dict[str, Any], str]],
                            metrics: Mapping[str, str]) -> None:
    """Warn on stderr when a validation system is trained on too (a training path that is
    the folder above both, say): the ``*_val`` errors the objectives read are then errors
    on trained frames, and the search favours the models that overfit most.  Told once."""
    columns = sorted(column for column in metrics.values() if column.endswith("_val"))
    if not columns:
        return
    walked: dict[str, list[str]] = {}  # each path walked once, not once per rendering

    def systems(path: str) -> list[str]:
        if path not in walked:
            walked[path] = data_systems(path)
        return walked[path]

    for data, where in rendered:
        paths = [(key, path) for key, path in systems_paths(data.get("training"), "training.", patterned=False)
                 if os.path.isabs(path)]
        trained = {system: key for key, path in paths if "validation_data" not in key for system in systems(path)}
        for key, path in paths:
            if "validation_data" not in key:
                continue
            for system in systems(path):
                if system in trained:
                    print(f"hpo-run: warning: {run.spec_path}: trainer.template: {where}: {key}: {system} is "
                          f"trained on too (it is in {trained[system]} as well), so the validation errors the objectives read ({', '.join(columns)}) are errors on trained "
                          "frames, which favour the models that overfit: keep the validation systems out of "
                          "the training paths", file=sys.stderr)
                    return


def warn_fixed_seeds(run: RunContext, path: str, data: Mapping[str, Any]) -> None:
    """Warn on stderr that a template without ``$seed`` does not get the seed recorded per
    candidate (not an error: fixed seeds may be wanted)."""
    keys = [key for key, _ in keys_named(data, "seed")]
    what = (f"every training uses its fixed seeds ({', '.join(keys)}), so replicates repeat the same training"
            if keys else "DeePMD-kit draws its own random seeds, so no training can be repeated")
    print(f"hpo-run: warning: {run.spec_path}: trainer.template: {path} does not use $seed: {what}, while "
          "individuals.csv records a different seed per candidate; put $seed where DeePMD-kit takes a seed "
          "(descriptor, fitting_net, training)", file=sys.stderr)


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


def check_curve(data: Mapping[str, Any], metrics: Mapping[str, str], where: str, last_rows: int = 1,
                settings_at: Mapping[str, str] | None = None) -> None:
    """SpecError if the rendered input cannot give the trained model's fitness: ``*_val``
    columns asked for without ``training.validation_data`` (DeePMD-kit writes none), a
    ``disp_freq`` that does not divide ``numb_steps`` (the last row is of an earlier
    model; above it, the only row is step 0: the untrained model), or ``last_rows``
    reaching back to step 0.  ``settings_at`` (template key: the ``trainer.settings`` name
    whose placeholder is its whole value) lets the message name the setting at fault, as
    for a value of the wrong type, rather than the template."""
    settings_at = settings_at or {}
    training = data.get("training")
    for key in (*STEP_KEYS, "disp_freq"):
        value = training.get(key) if isinstance(training, Mapping) else None
        if value is not None and not is_count(value):
            # 0 or -1 steps passed DeePMD-kit's argcheck and failed every training
            name = settings_at.get(f"training.{key}")
            if name is not None:
                raise SpecError(f"{value!r} (${name}, at training.{key} in {where}) must be a whole number of "
                                "at least 1", f"settings.{name}")
            raise SpecError(f"{where}: training.{key} must be a whole number of at least 1, got {value!r}",
                            "template")
    if isinstance(training, Mapping) and training.get("disp_training") is False:
        name = settings_at.get("training.disp_training")
        raise SpecError(f"{where}: training.disp_training is false{f' (from ${name})' if name else ''}: DeePMD-kit "
                        "then writes no row to lcurve.out, which the fitness is read from: every training would "
                        "fail once trained; leave it out", f"settings.{name}" if name else "template")
    validation = sorted(c for c in metrics.values() if c.endswith("_val"))
    # Training data without validation data: DeePMD-kit's input, sure to lack the columns
    # (DeePMD-kit 1's training.systems, which dp converts, has none either).
    if (validation and isinstance(training, Mapping)
            and (training.get("training_data") is not None or training.get("systems") is not None)
            and training.get("validation_data") is None):
        raise SpecError(f"{where}: the metrics read {', '.join(validation)}, validation columns, but "
                        "training.validation_data is missing: every training would fail; add it, or read "
                        "the _trn columns", "template")
    plan = schedule(data)
    if plan is not None and plan[0] % plan[1]:
        steps, freq = plan
        last = ("step 0 alone, the untrained model" if freq > steps
                else f"its last row at step {last_step(steps, freq)}, {steps % freq} steps before the trained model")
        step_key = next(k for k in STEP_KEYS if k in training)
        # The settings that gave the two values: the one named, or their block if both did.
        names = [settings_at[k] for k in ("training.disp_freq", f"training.{step_key}") if k in settings_at]
        given = f" (from {' and '.join(f'${n}' for n in names)})" if names else ""
        key = "template" if not names else f"settings.{names[0]}" if len(names) == 1 else "settings"
        raise SpecError(f"{where}: training.disp_freq {freq} does not divide training.{step_key} {steps}{given}: "
                        f"lcurve.out would have {last}; make disp_freq a divisor of {step_key}", key)
    if plan is not None and last_rows > plan[0] // plan[1]:
        raise SpecError(f"{untrained_rows(last_rows, *plan)} (in {where}); average fewer rows or write them "
                        "more often", "last_rows")


def untrained_rows(last_rows: int, numb_steps: int, disp_freq: int) -> str:
    """Why averaging ``last_rows`` rows of lcurve.out would rank the untrained model."""
    return (f"last_rows {last_rows} would average in step 0, the untrained model's errors: lcurve.out "
            f"has {numb_steps // disp_freq} rows after it (numb_steps {numb_steps}, disp_freq {disp_freq})")


def check_sel(data: Mapping[str, Any], command: Sequence[str], where: str) -> None:
    """SpecError for ``--skip-neighbor-stat`` with a ``sel`` of ``"auto"``: DeePMD-kit sets
    such a sel from the neighbour statistics the flag skips, and every training failed
    (a TypeError from numpy, which says nothing of why)."""
    # in any argument: a wrapper's one (bash -c "dp ... --skip-neighbor-stat") as well
    model = data.get("model")
    auto = _auto_sel(model) if any("--skip-neighbor-stat" in arg for arg in command) else None
    if auto:
        raise SpecError(f"{where}: the model's {auto[0]} is \"{auto[1]}\", which DeePMD-kit works out from the "
                        "neighbour statistics that --skip-neighbor-stat skips: every training would fail; "
                        f"drop the flag or give {auto[0]} as numbers", "command")
    type_map = model.get("type_map") if isinstance(model, Mapping) else None
    if not isinstance(type_map, list):
        return  # no names: DeePMD-kit counts the types from the data
    for key, descriptor in _descriptors(model):
        sel = descriptor.get("sel")
        if descriptor.get("type") in PER_TYPE_SEL and isinstance(sel, list) and len(sel) != len(type_map):
            # DeePMD-kit says "the number of types of the training data is 2, but that of
            # the model is only 1" for one too few, and fails in TensorFlow for one too many.
            raise SpecError(f"{where}: {key}.sel {sel} has {len(sel)} {'entry' if len(sel) == 1 else 'entries'} "
                            f"for the {len(type_map)} types of model.type_map {type_map}: a {descriptor['type']} "
                            "descriptor takes one per type (in type_map's order), and every training would fail; "
                            "give one number per type, or \"auto\"", "template")


#: what DeePMD-kit's argcheck takes in an ``ener`` loss and its TensorFlow backend refuses
#: when the training starts (deepmd/tf/loss/ener.py, EnerStdLoss): key, the value it takes
TENSORFLOW_ENER_ONLY = {"loss_func": "mse", "f_use_norm": False, "use_default_pf": False}


def check_tensorflow_loss(losses: Sequence[Mapping[str, Any] | None], rendered: Sequence[tuple[Any, str]],
                          placeholders: Mapping[str, str], settings: Collection[str]) -> None:
    """SpecError for an ``ener`` loss setting that only DeePMD-kit's other backends train
    (``loss_func: mae``): its argcheck accepts it, then every TensorFlow training of it
    failed with NotImplementedError.  Each rendering is checked, so a searched choice
    is named by its parameter."""
    for loss, (_, where) in zip(losses, rendered):
        for key, allowed in TENSORFLOW_ENER_ONLY.items():
            value = (loss or {}).get(key, allowed)
            if value != allowed:
                name = placeholders.get(f"loss.{key}")
                source = f" (from {value_source(name, settings)})" if name else ""
                at = f"settings.{name}" if name in settings else "template"
                raise SpecError(f"{where}: loss.{key} is {value!r}{source}, which DeePMD-kit's TensorFlow backend "
                                f"does not train (only {allowed!r}): every training would fail; drop it, or train "
                                "with another backend (dp --pt train)", at)


#: descriptors whose ``sel`` lists the neighbours of each type: one entry per type.  The
#: attention ones (se_atten, dpa1, se_atten_v2, se_e3_tebd) take a list of any length and
#: use its sum (deepmd/tf/descriptor/se_atten.py), and trained with one of 1 or 3 entries
#: for 2 types (helper-86, dp 3.2): not checked.
PER_TYPE_SEL = frozenset({"se_e2_a", "se_a", "se_e2_r", "se_r", "se_e3", "se_at", "se_a_3be"})


def _descriptors(model: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``(key, section)`` of the model's descriptor and, for a hybrid, of each in its list."""
    descriptor = model.get("descriptor") if isinstance(model, Mapping) else None
    if not isinstance(descriptor, Mapping):
        return []
    found = [("model.descriptor", descriptor)]
    listed = descriptor.get("list")
    if isinstance(listed, list):
        found.extend((f"model.descriptor.list.{i}", d) for i, d in enumerate(listed) if isinstance(d, Mapping))
    return found


def _cutoff_pairs(model: Any) -> list[tuple[str, Mapping[str, Any], str]]:
    """``(key, section, name)`` of each cutoff ``name`` whose smoothing start
    (``name`` + ``_smth``) is beside it: a descriptor's ``rcut`` (each of a hybrid's too),
    and the nested ones of DeePMD-kit's PyTorch descriptors: dpa2's ``repinit.rcut``, its
    ``three_body_rcut`` (when ``use_three_body``) and ``repformer.rcut``, dpa3's
    ``repflow.e_rcut`` and ``a_rcut`` (helper-90)."""
    found = []
    for key, descriptor in _descriptors(model):
        sections = [(key, descriptor), *((f"{key}.{name}", section) for name, section in descriptor.items()
                                         if isinstance(section, Mapping) and not str(name).startswith("_"))]
        for where, section in sections:
            found.extend((where, section, name) for name in CUTOFF_KEYS
                         if name in section and f"{name}_smth" in section
                         and (name != "three_body_rcut" or section.get("use_three_body") is True))
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _searched(keys: Sequence[str], placeholders: Mapping[str, str], settings: Collection[str]) -> list[str]:
    """The parameters of the space that set the values at ``keys`` (not settings, nor the seed)."""
    names = [placeholders.get(key) for key in keys]
    return [name for name in names if name is not None and name != "seed" and name not in settings]


def _set_aside(params: Mapping[str, Any] | None, constraints: Sequence[Constraint], searched: Sequence[str]) -> bool:
    """Whether ``params`` break a constraint on a searched value (a rendering not trained,
    so not judged; one on another parameter is no excuse)."""
    return params is not None and any(set(c.names()) & set(searched) and not c.holds(params) for c in constraints)


def _from(key: str, placeholders: Mapping[str, str], settings: Collection[str]) -> str:
    placeholder = placeholders.get(key)
    return f" (from {value_source(placeholder, settings)})" if placeholder else ""


def _failing(searched: Sequence[str], what: str) -> str:
    """Whose trainings would fail: all, or (a searched value at fault) those of the
    rendering checked (``what``: a choice; "": the middle of the space)."""
    if not searched:
        return "every training"
    return f"the training of {f'the candidates with {what}' if what else 'the middle of the space, and of the candidates like it,'}"


def _order_fix(low: str | None, low_value: float, high: str | None, high_value: float, searched: Sequence[str],
               otherwise: str) -> str:
    """The constraint that keeps the value the parameter ``low`` sets below the one ``high``
    sets (``low_value``, ``high_value``: the rendering's), by whichever is ``searched``;
    ``otherwise`` when neither is."""
    if low in searched and high in searched:
        return f"add a constraint (constraints: [{low} < {high}]) or change the ranges"
    if low in searched:
        return f"add a constraint (constraints: [{low} < {high_value:g}]) or change its range"
    if high in searched:
        return f"add a constraint (constraints: [{high} > {low_value:g}]) or change its range"
    return otherwise


def check_cutoffs(data: Mapping[str, Any], where: str, placeholders: Mapping[str, str], settings: Collection[str],
                  what: str = "", params: Mapping[str, Any] | None = None,
                  constraints: Sequence[Constraint] = (), backend: str | None = None) -> None:
    """SpecError for a rendering whose ``rcut_smth`` is above its ``rcut`` (any pair of
    :func:`_cutoff_pairs`): DeePMD-kit refuses it when the training starts ("rcut_smth
    (1.000000) should be no more than rcut (0.288876)!"; the PyTorch backend: "rmin should
    be less than rmax."), and a chemist's rcut searched in nm beside a fixed rcut_smth of
    1 A failed every training after --dry-run had passed.  Checked on the middle of the
    space and each choice (``what``: which, "" for the middle): a middle that fails is a
    space most of whose candidates fail.  A rendering whose ``params`` break a constraint
    on a searched cutoff is not trained, so not judged.  Equal is refused too when the
    ``backend`` (:func:`named_backend`) is known not to be TensorFlow, whose
    ``rcut_smth`` may reach ``rcut``: the others' smoothing raises on it (helper-91)."""
    equal_refused = backend is not None and backend not in TF_NAMES
    for key, section, name in _cutoff_pairs(data.get("model")):
        rcut, smooth = section.get(name), section.get(f"{name}_smth")
        if not (_number(rcut) and _number(smooth)) or smooth < rcut or (smooth == rcut and not equal_refused):
            continue
        cut, smth = f"{key}.{name}", f"{key}.{name}_smth"
        searched = _searched([smth, cut], placeholders, settings)
        if _set_aside(params, constraints, searched):
            continue
        fix = _order_fix(placeholders.get(smth), smooth, placeholders.get(cut), rcut, searched,
                         f"lower {name}_smth or raise {name}")
        refused = ("which DeePMD-kit refuses (rcut_smth should be no more than rcut)" if smooth > rcut else
                   f"which DeePMD-kit's {backend} backend refuses (\"rmin should be less than rmax.\"; only "
                   "TensorFlow's takes them equal)")
        raise SpecError(f"{where}: {smth} {smooth:g}{_from(smth, placeholders, settings)} is "
                        f"{'above' if smooth > rcut else 'equal to'} {cut} {rcut:g}{_from(cut, placeholders, settings)}, "
                        f"{refused}, so {_failing(searched, what)} would fail; {fix} (are both in A?)", "template")


def check_dpa2_order(data: Mapping[str, Any], where: str, placeholders: Mapping[str, str],
                     settings: Collection[str], what: str = "", params: Mapping[str, Any] | None = None,
                     constraints: Sequence[Constraint] = ()) -> None:
    """SpecError for a dpa2 descriptor whose larger cutoff has the fewer neighbours: DeePMD-kit
    sorts its sections (repinit, repformer, repinit's three-body) by rcut and asserts their
    nsel grow with it, so every such training failed with "rcut and sel are not in the
    same order", which points at sel when a searched repformer.rcut had passed
    repinit.rcut (helper-90, DeePMD-kit 3.2's PyTorch code).  Judged as :func:`check_cutoffs`."""
    for key, descriptor in _descriptors(data.get("model")):
        if descriptor.get("type") != "dpa2":
            continue
        sections = [(f"{key}.{name}", descriptor.get(name), "rcut", "nsel") for name in ("repinit", "repformer")]
        repinit = descriptor.get("repinit")
        if isinstance(repinit, Mapping) and repinit.get("use_three_body") is True:
            sections.append((f"{key}.repinit", repinit, "three_body_rcut", "three_body_sel"))
        cuts = sorted((section[cut], section[sel], f"{at}.{cut}", f"{at}.{sel}")
                      for at, section, cut, sel in sections
                      if isinstance(section, Mapping) and _number(section.get(cut)) and _number(section.get(sel)))
        for (rcut_a, nsel_a, cut_a, sel_a), (rcut_b, nsel_b, cut_b, sel_b) in itertools.pairwise(cuts):
            if nsel_a <= nsel_b:
                continue
            searched = _searched([cut_a, cut_b, sel_a, sel_b], placeholders, settings)
            if _set_aside(params, constraints, searched):
                continue
            # the section of fewer neighbours (b) wants the smaller cutoff
            by_nsel = "give the larger cutoff the larger nsel"
            fix = _order_fix(placeholders.get(cut_b), rcut_b, placeholders.get(cut_a), rcut_a, searched, by_nsel)
            raise SpecError(f"{where}: {cut_b} {rcut_b:g}{_from(cut_b, placeholders, settings)} is above {cut_a} "
                            f"{rcut_a:g}{_from(cut_a, placeholders, settings)}, but {sel_b} {nsel_b:g} is below "
                            f"{sel_a} {nsel_a:g}: DeePMD-kit's dpa2 needs the nsel to grow with the cutoff (\"rcut "
                            f"and sel are not in the same order\"), so {_failing(searched, what)} would fail; "
                            f"{fix if fix == by_nsel else f'{fix}, or {by_nsel}'}", "template")


#: descriptors of DeePMD-kit's PyTorch backend (and its others) that its TensorFlow
#: backend does not have (deepmd/tf/descriptor registers none of them, DeePMD-kit 3.2):
#: its argcheck accepts them whatever the backend, then every training with dp --tf
#: failed with "Unknown descriptor type: dpa2. Did you mean: dpa1?" (helper-90)
NOT_TENSORFLOW = frozenset({"dpa2", "dpa3", "dpa4", "se_repflow", "se_repformer", "se_uni", "se_e3_tebd",
                            "se_ttebd", "sezm"})


def check_tensorflow_descriptors(data: Mapping[str, Any], where: str) -> None:
    """SpecError for a descriptor that DeePMD-kit's TensorFlow backend does not have
    (:data:`NOT_TENSORFLOW`), in a spec that trains with it."""
    for key, descriptor in _descriptors(data.get("model")):
        kind = descriptor.get("type")
        if isinstance(kind, str) and kind.lower() in NOT_TENSORFLOW:
            raise SpecError(f"{where}: {key}.type {kind} is a descriptor of DeePMD-kit's PyTorch backend, which its "
                            "TensorFlow backend (the command's) does not have: every training would fail; train "
                            "with dp --pt train (trainer.command, docs/deepmd.md)", "template")


#: the keys DeePMD-kit reads as a neighbour count that may be "auto": ``sel``, dpa2's
#: ``nsel`` and ``three_body_sel``, dpa3's ``e_sel`` and ``a_sel`` (helper-90).  Named
#: exactly: DeePMD-kit drops keys that begin with ``_`` (commented out), ``_sel`` too.
SEL_KEYS = frozenset({"sel", "nsel", "three_body_sel", "e_sel", "a_sel"})
#: the cutoffs with a smoothing start beside them (``name`` + ``_smth``)
CUTOFF_KEYS = ("rcut", "three_body_rcut", "e_rcut", "a_rcut")


def _auto_sel(section: Any) -> tuple[str, str] | None:
    """The first ``sel`` under ``section`` (any descriptor, hybrids included) that is
    \"auto\" (or ``auto:<factor>``), as (key, value); None if there is none."""
    if isinstance(section, Mapping):
        for key, value in section.items():
            if str(key).startswith("_"):
                continue  # a key that begins with _ DeePMD-kit drops, whatever it holds (commented out)
            if key in SEL_KEYS and isinstance(value, str) and value.startswith("auto"):
                return str(key), value
            found = _auto_sel(value)
            if found:
                return found
    if isinstance(section, list):
        return next(filter(None, map(_auto_sel, section)), None)
    return None


@attrs.frozen(kw_only=True)
class PreparedDeepmd(training.PreparedCommand):
    """The checked trainer: plain data, pickled to the workers."""

    INPUT = INPUT
    #: the command trains with the TensorFlow backend, whose lcurve.out columns are known exactly
    tensorflow: bool = False
    #: logged by ``dp`` once the model is trained (``--tf`` and ``--jax``; ``--pt`` logs the other)
    FINISHED = ("finished training", "Trained model has been saved to")

    def render(self, trial: Trial) -> str:
        """The ``input.json`` of ``trial``; SpecError if it is not a JSON object."""
        text = self.template.render(self.values(trial.params, trial.seed))
        parse_rendered(text, self.template.path)
        return text

    def train(self, trial: Trial) -> dict[str, float]:
        """Train ``trial`` (:meth:`PreparedCommand.train`), unless its ``disp_freq`` does not
        divide its ``numb_steps`` (a searched one): then it fails at once, before ``dp``
        starts, instead of after the whole training."""
        plan = schedule(parse_rendered(self.render(trial), INPUT))
        if plan is not None and plan[0] % plan[1]:
            raise TrainingFailed(f"{undivided(*plan)} (found before dp started)")
        return super().train(trial)

    def check_samples(self, run: RunContext, deepmd: bool) -> list[tuple[dict[str, Any], str]]:
        """Render the middle of the space, and each value of every choice parameter, and
        have each checked as JSON and (if asked and installed) by DeePMD-kit's argcheck,
        then for a learning curve that can give the fitness (DeePMD-kit's word first);
        return the renderings (the middle first), each with what it filled in."""
        rendered = []
        samples = training.sample_params(run.space)
        placeholders = placeholder_keys(self.template)
        settings_at = {key: name for key, name in placeholders.items() if name in self.settings}
        for params, what in samples:
            data = self._rendered(params)
            where = f"{self.template.path}{f' ({what})' if what else ''}"
            disp_file(data, where)
            if deepmd:
                check_with_deepmd(data, self.template.path, what, placeholders, set(self.settings))
            rendered.append((data, where))
        if deepmd:
            for (data, _), (params, _) in zip(rendered, samples):
                check_activations(data, self.template.path, params)
        for (data, where), (params, what) in zip(rendered, samples):
            check_curve(data, self.metrics, where, self.last_rows, settings_at)
            check_sel(data, self.command, where)
            check_cutoffs(data, where, placeholders, set(self.settings), what, params, run.experiment.constraints,
                          named_backend(self.command, self.env))
            check_dpa2_order(data, where, placeholders, set(self.settings), what, params, run.experiment.constraints)
            if self.tensorflow:
                check_tensorflow_descriptors(data, where)
        self.check_searched_steps(run, samples[0][0], rendered[0][0])
        losses = [ener_loss(data) for data, _ in rendered]
        if self.tensorflow:
            check_tensorflow_loss(losses, rendered, placeholders, set(self.settings))
        if self.tensorflow and all(loss is not None for loss in losses):
            check_ener_columns(self.metrics, losses, f"{self.template.path}{' (every value searched)' * (len(rendered) > 1)}")
        return rendered

    def _rendered(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The input of ``params`` (seed 0) as checked at start-up, parsed."""
        return parse_rendered(self.template.render(self.values(params, 0)), self.template.path)

    def check_searched_steps(self, run: RunContext, middle: Mapping[str, Any], rendered: Mapping[str, Any]) -> None:
        """SpecError if an ``int`` parameter sets ``numb_steps`` (or ``disp_freq``) with a
        ``disp_freq`` above 1: two neighbouring integers are never both multiples of it, so
        most candidates would fail before ``dp`` starts (:meth:`train`); the check of the
        middle alone passes whenever the middle happens to be a multiple.  Seen by
        rendering the middle's neighbour of each integer value (``rendered``: the middle's
        input, rendered already)."""
        plan = schedule(rendered)
        highest = run.space.decode([high for _, high in run.space.bounds])
        for name, value in middle.items():
            if (not isinstance(value, int) or isinstance(value, bool)
                    or listed_values(run.space.parameters[name])):  # each listed value is checked
                continue
            neighbour = value + 1 if value + 1 <= highest[name] else value - 1
            moved = schedule(self._rendered({**middle, name: neighbour}))
            if moved is not None and moved != plan and moved[0] % moved[1]:
                steps, freq = moved
                raise SpecError(
                    f"{self.template.path}: space.{name}, an int parameter, sets the training's steps, and "
                    f"disp_freq {freq} divides few of its values ({name}={neighbour} gives numb_steps "
                    f"{steps}): those candidates would fail before dp starts; search a choice of multiples "
                    f"of disp_freq instead (type: choice, choices: [...])", "template")

    def read_fitness(self, workdir: Path, text: str) -> dict[str, float]:
        """The metrics from the last rows of ``lcurve.out`` (or the input's ``disp_file``),
        which must reach the last row of a complete training."""
        data = parse_rendered(text, INPUT)
        try:
            lcurve = read_lcurve(workdir / disp_file(data, INPUT))
            plan = schedule(data)
            if plan is not None:
                check_complete(lcurve, *plan)
                if self.last_rows > plan[0] // plan[1]:  # a searched numb_steps
                    raise LcurveError(untrained_rows(self.last_rows, *plan))
            measured = fitness(lcurve, self.metrics, self.last_rows, self.objectives)
        except LcurveError as exc:
            raise TrainingFailed(str(exc)) from None
        short = sel_shortfall(workdir)
        return {**measured, SEL_SHORTFALL: float(short)} if short else measured
