"""Trainer plugin ``nequip``: one NequIP training per candidate.

The same steps as the ``deepmd`` trainer, with NequIP's file formats: a fresh directory
``RUN_DIR/evals/<uuid>/``, the YAML template rendered into ``config.yaml`` there,
``nequip-train -cn config.yaml hydra.run.dir=.`` run in it as an argument list in a
process group of its own (killed whole at the time limit), and the fitness read by
column name from the ``metrics.csv`` of the template's Lightning CSVLogger.
:class:`NequipTrainer` holds the keys of the ``trainer:`` block (docs/nequip.md);
:meth:`NequipTrainer.prepare` checks them and returns a :class:`PreparedNequip`, plain
data sent to the workers.

The keys shared with the ``deepmd`` trainer (template, settings, paths, command,
launch_prefix, env, timeout_minutes, metrics, last_rows) and the training itself come
from :mod:`dnnp_hpo.training` (:class:`~dnnp_hpo.training.CommandTrainer`,
:class:`~dnnp_hpo.training.PreparedCommand`), and the template's checks and the fitness
from :mod:`dnnp_hpo.template` and :mod:`dnnp_hpo.curve`, so both trainers accept exactly
the same values and report failures with the same reasons; this module adds NequIP's
formats.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dnnp_hpo import training
from dnnp_hpo.curve import LcurveError, fitness
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid
from dnnp_hpo.template import check_names, check_setting_values

from .metrics import EPOCH, check_complete, read_metrics
from .template import INTERPOLATION_HINT, load_yaml_template, parse_config, render_yaml

CONFIG = "config.yaml"
#: Hydra writes its outputs (and NequIP its checkpoints) in the evaluation directory.
DEFAULT_COMMAND = ("nequip-train", "-cn", CONFIG, "hydra.run.dir=.")
#: Per-atom energy and per-component force RMSE on the whole validation set, in the data's
#: units (eV/atom and eV/A for eV and A data, as DeePMD's rmse_e_val and rmse_f_val).
DEFAULT_METRICS = {"energy_rmse": "val0_epoch/per_atom_energy_rmse", "force_rmse": "val0_epoch/forces_rmse"}


@attrs.frozen(kw_only=True)
class NequipTrainer(training.CommandTrainer):
    """The keys of ``trainer: {plugin: nequip, ...}`` (docs/nequip.md explains each)."""

    DEFAULT_COMMAND = DEFAULT_COMMAND
    DEFAULT_METRICS = DEFAULT_METRICS

    #: where the template's CSVLogger writes, relative to the evaluation directory
    metrics_file: str = "metrics.csv"

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # "" and "." name the evaluation directory itself: every training failed after
        # running in full ("Is a directory"; helper-110)
        if Path(self.metrics_file).is_absolute() or ".." in Path(self.metrics_file).parts \
                or Path(self.metrics_file) == Path("."):
            raise Invalid(f"expected a file's path inside the evaluation directory, got {self.metrics_file!r}",
                          "metrics_file")

    def prepare(self, run: RunContext) -> PreparedNequip:
        """Check template, settings and objectives; return what the workers get."""
        template = load_yaml_template(run.spec_relative(self.template, "template"))
        training.check_settings(run, self.settings)
        try:
            check_names(template, set(run.space.names), set(self.settings), set(training.RESERVED))
        except SpecError as exc:
            hint = f" {INTERPOLATION_HINT}" if "with no value" in exc.message else ""
            raise SpecError(exc.message + hint, exc.key) from None
        check_setting_values(template, self.settings)
        prepared = PreparedNequip(**self.prepared_keys(run, template), metrics_file=self.metrics_file)
        prepared.check_samples(run)
        training.warn_missing(run, prepared.data_paths)
        return prepared


@attrs.frozen(kw_only=True)
class PreparedNequip(training.PreparedCommand):
    """The checked trainer: plain data, pickled to the workers."""

    INPUT = CONFIG

    metrics_file: str

    def render(self, trial: Trial) -> str:
        """The ``config.yaml`` of ``trial``; SpecError if nequip-train could not use it."""
        text = render_yaml(self.template, self.values(trial.params, trial.seed))
        parse_config(text, self.template.path)
        return text

    def check_samples(self, run: RunContext) -> None:
        """Render the middle of the space, and each value of every choice parameter, and
        check each rendering as a NequIP config (so a bad choice fails at start-up)."""
        for params, _ in training.sample_params(run.space):
            parse_config(render_yaml(self.template, self.values(params, 0)), self.template.path)

    def read_fitness(self, workdir: Path, text: str) -> dict[str, float]:
        """The metrics from the last validation epochs of the CSVLogger's file."""
        try:
            curve = read_metrics(workdir / self.metrics_file, list(self.metrics.values()), self._required())
            return fitness(curve, self.metrics, self.last_rows, self.objectives)
        except LcurveError as exc:
            raise TrainingFailed(str(exc)) from None

    def _required(self) -> list[str]:
        """The columns of the objectives' metrics: a validation row must have them all."""
        return [column for metric, column in self.metrics.items()
                if self.objectives is None or metric in self.objectives]

    #: logged by ``nequip-train`` once Lightning's fit has returned
    FINISHED = ("TRAIN RUN END",)

    def ended(self, workdir: Path, text: str) -> bool:
        """Whether the training in ``workdir`` ran to its end: ``TRAIN RUN END`` logged with
        no traceback after it, and ``metrics.csv`` validated up to ``max_epochs`` (unless the
        config may stop early).  For harvest only: a training that exited 0 has ended, and
        read_fitness would fail a good one whose stopping rule check_complete does not know."""
        if not super().ended(workdir, text):
            return False
        try:
            curve = read_metrics(workdir / self.metrics_file, [*self.metrics.values(), EPOCH],
                                 [*self._required(), EPOCH])
            check_complete(curve, parse_config(text, CONFIG))
        except (LcurveError, SpecError):
            return False
        return True
