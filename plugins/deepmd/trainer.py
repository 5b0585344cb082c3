"""Trainer plugin ``deepmd``: one DeePMD-kit training per candidate (paper, section 2.2.4).

For each candidate: a fresh directory ``RUN_DIR/evals/<uuid>/``, the template rendered
into ``input.json`` there, ``dp --tf train input.json`` run in it as an argument list in
a process group of its own (killed whole at the time limit), and the fitness read from
the last row of ``lcurve.out`` by column name.  :class:`DeepmdTrainer` holds the keys of
the ``trainer:`` block; :meth:`DeepmdTrainer.prepare` checks them against the run and
returns a :class:`PreparedDeepmd`, plain data sent to the workers.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from dnnp_hpo import training
from dnnp_hpo.curve import LcurveError, fitness
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial
from dnnp_hpo.front import DEFAULT_ACCURACY, normal_unit
from dnnp_hpo.run import RunContext
from dnnp_hpo.space import listed_values
from dnnp_hpo.template import check_names, check_setting_values, load_template
from dnnp_hpo.training import is_count

from .backend import named_backend, tensorflow_backend
from .datacheck import (
    check_systems,
    check_type_map,
    check_virial_data,
    check_written_systems,
    warn_untrained_elements,
    warn_validation_trained,
)
from .inputcheck import check_activations, check_with_deepmd, keys_named, placeholder_keys
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
from .modelcheck import (
    check_cutoffs,
    check_dpa2_order,
    check_sel,
    check_tensorflow_descriptors,
    check_tensorflow_loss,
    skips_neighbour_stat,
)
from .neighbourcount import warn_short_sel
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
        placeholders = placeholder_keys(template)
        check_written_systems(run, rendered, self.command, prepared.data_paths, placeholders, set(self.settings))
        check_systems(rendered, placeholders, set(self.settings))
        check_type_map(rendered, placeholders, set(self.settings))
        check_virial_data(rendered, self.metrics, [objective.name for objective in run.experiment.objectives])
        check_virial_limit(run, self.metrics)
        warn_validation_trained(run, rendered, self.metrics)
        warn_untrained_elements(run, rendered, placeholders, set(self.settings))
        if skips_neighbour_stat(self.command):
            # the bounds too: the largest rcut of a float range is at one of them, not in the middle
            bounds = [(prepared._rendered(run.space.decode(list(ends))), f"{template.path} (the space's bounds)")
                      for ends in zip(*run.space.bounds)]
            warn_short_sel(run, [*rendered, *bounds])
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
