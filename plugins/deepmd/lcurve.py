"""Reading DeePMD-kit's learning curve (``lcurve.out``) by its column names.

The columns differ between DeePMD versions, backends and models (no validation data,
virials, multi-task suffixes), so they are found by the names of the header line
``#  step  rmse_val  rmse_trn  rmse_e_val ...``, never by position, into the
:class:`~dnnp_hpo.curve.Lcurve` whose fitness :func:`dnnp_hpo.curve.fitness` reads.
This module adds what is DeePMD-kit's: the file's layout (:func:`read_lcurve`), the
columns its losses write, and the training schedule a complete curve must reach.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dnnp_hpo.curve import Lcurve, LcurveError, curve_text
from dnnp_hpo.errors import SpecError

#: DeePMD-kit's default ``training.disp_freq``
DISP_FREQ = 1000
#: DeePMD-kit's names for the number of training steps (``numb_steps`` and its aliases in
#: deepmd/utils/argcheck.py, 3.2).  A training given ``numb_epoch`` instead has its steps
#: worked out from the data by ``dp``: its schedule is not known here (:func:`schedule`).
STEP_KEYS = ("numb_steps", "stop_batch", "num_step", "num_steps", "numb_step")


def _header(line: str) -> tuple[str, ...] | None:
    """The column names if ``line`` is the header (a comment starting with ``step``)."""
    names = tuple(line.lstrip("#").split())
    return names if line.startswith("#") and names[:1] == ("step",) else None


def _numbers(line: str, width: int) -> list[float] | None:
    fields = line.split()
    if len(fields) != width:
        return None
    try:
        return [float(f) for f in fields]  # float() reads DeePMD's "nan" and "inf" too
    except ValueError:
        return None


def read_lcurve(path: Path) -> Lcurve:
    """Parse ``path``; LcurveError if it is missing, has no header or no data rows.

    A last line that is cut short (the file was being written when the training
    stopped) is left out; a malformed line before it is an error.
    """
    name = path.name
    text = curve_text(path, f"the training wrote no {name}")
    columns: tuple[str, ...] | None = None
    data: list[tuple[int, list[float] | None]] = []  # (line number, numbers or None if malformed)
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            # Later comments (DeePMD's "If there is no available reference data..."
            # note, or a header repeated by a restart) carry no data.
            columns = columns or _header(stripped)
            continue
        if columns is None:
            raise LcurveError(f"{name} line {number}: data before the header line '# step ...'")
        data.append((number, _numbers(stripped, len(columns))))
    if columns is None:
        raise LcurveError(f"{name} has no header line naming its columns ('# step ...')")
    if data and data[-1][1] is None:
        data.pop()  # cut short while being written: the rows before it are complete
    for number, values in data:
        if values is None:
            raise LcurveError(f"{name} line {number}: expected {len(columns)} numbers")
    if not data:
        raise LcurveError(f"{name} has a header but no complete data rows")
    return Lcurve(columns, np.array([values for _, values in data], dtype=float))


def schedule(data: Mapping) -> tuple[int, int] | None:
    """``(numb_steps, disp_freq)`` of a rendered input (under any of :data:`STEP_KEYS`);
    None where it is not a number, or not given (``numb_epoch``)."""
    training = data.get("training")
    if not isinstance(training, Mapping):
        return None
    steps = next((training[k] for k in STEP_KEYS if k in training), None)
    freq = training.get("disp_freq", DISP_FREQ)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 for v in (steps, freq)):
        return None
    return int(steps), int(freq)


#: an lcurve.out column: a loss term's name with ``_val`` or ``_trn`` (and ``_<model key>``
#: in multi-task training; DeePMD-kit's print_header), or the learning rate.  Any loss and
#: backend: the TensorFlow ``ener`` loss is checked exactly (:func:`check_ener_columns`).
COLUMN = re.compile(r"[a-z0-9_]+_(val|trn)(_\w+)?|lr")
#: the terms of DeePMD-kit's ``ener`` loss in the TensorFlow backend, with the defaults of
#: their (start_pref, limit_pref): a term is in the loss, and its ``rmse_<term>_val`` and
#: ``rmse_<term>_trn`` columns in lcurve.out, unless both are 0 (deepmd/tf/loss/ener.py,
#: has_e ... has_gf; its eval() gives rmse, rmse_e, rmse_ae, rmse_f, rmse_v, rmse_pf, rmse_gf)
ENER_TERMS = {"e": (0.02, 1.0), "ae": (0.0, 0.0), "f": (1000.0, 1.0), "v": (0.0, 0.0), "pf": (0.0, 0.0),
              "gf": (0.0, 0.0)}
#: every column the TensorFlow ``ener`` loss can write (``_val`` ones with validation data only)
ENER_COLUMNS = ("step", "rmse_val", "rmse_trn", *(f"rmse_{t}_{s}" for t in ENER_TERMS for s in ("val", "trn")),
                "lr")
_TERM_COLUMN = re.compile(r"rmse_(\w+?)_(?:val|trn)")


def column_term(column: str) -> str | None:
    """The loss term of an ``rmse_<term>_val`` or ``_trn`` column (``e``, ``f``...), else None."""
    term = _TERM_COLUMN.fullmatch(column)
    return term[1] if term else None


def _closest(column: object) -> str:
    """`` (did you mean 'rmse_e_val'?)`` for a column close to one DeePMD-kit writes, else ''."""
    close = difflib.get_close_matches(str(column), ENER_COLUMNS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_columns(metrics: Mapping[str, str]) -> None:
    """SpecError unless every metric names something DeePMD-kit can write to lcurve.out:
    a misspelt column failed every training, each only at its end."""
    for name, column in metrics.items():
        if not isinstance(column, str) or not COLUMN.fullmatch(column):
            raise SpecError(f"{column!r} is not an lcurve.out column of DeePMD-kit{_closest(column)}: expected a loss term "
                            "with _val or _trn, such as rmse_e_val or rmse_f_trn, or lr", f"metrics.{name}")


def ener_loss(data: Mapping) -> Mapping | None:
    """The ``loss`` section of a rendered input if its loss is DeePMD-kit's ``ener`` (``{}``
    where the section is left out for an energy model); None for another loss."""
    loss = data.get("loss")
    model = data.get("model")
    if "loss_dict" in data or (isinstance(model, Mapping) and ("model_dict" in model or "fitting_net_dict" in model)):
        return None  # multi-task: columns per model (rmse_e_val_<model>), not checked here
    fitting = model.get("fitting_net") if isinstance(model, Mapping) else None
    if loss is None:
        kind = fitting.get("type", "ener") if isinstance(fitting, Mapping) else "ener"
        return {} if kind == "ener" else None
    return loss if isinstance(loss, Mapping) and loss.get("type", "ener") == "ener" else None


def term_off(loss: Mapping, term: str) -> bool:
    """Whether both prefactors of ``term`` in an ``ener`` loss section are 0 (then
    DeePMD-kit leaves the term out of the loss and its columns out of lcurve.out)."""
    values = [loss.get(f"{which}_pref_{term}", default) for which, default in zip(("start", "limit"),
                                                                                ENER_TERMS[term])]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0 for v in values)


def ener_columns(data: Mapping) -> tuple[str, ...] | None:
    """The header of the lcurve.out a TensorFlow training of the rendered input ``data``
    writes, in order; None if its loss is not ``ener``.  ``_val`` columns come with
    ``training.validation_data`` only (deepmd/tf/train/trainer.py, print_header)."""
    loss = ener_loss(data)
    if loss is None:
        return None
    training = data.get("training")
    validation = isinstance(training, Mapping) and training.get("validation_data") is not None
    sets = ("val", "trn") if validation else ("trn",)
    terms = [""] + [f"_{term}" for term in ENER_TERMS if not term_off(loss, term)]
    return ("step", *(f"rmse{term}_{s}" for term in terms for s in sets), "lr")


def check_ener_columns(metrics: Mapping[str, str], losses: list[Mapping], where: str) -> None:
    """SpecError unless every metric is a column the TensorFlow ``ener`` loss writes for
    the rendered ``losses`` (one loss section per rendering checked at start-up): a
    column it never writes (``rsme_e_val``, ``rmse_force_val``), or the column of a term
    whose prefactors are 0 in every rendering (a forces-only model has no ``rmse_e_val``),
    failed every training once it had trained to the end."""
    for name, column in metrics.items():
        if column not in ENER_COLUMNS:
            raise SpecError(f"{column!r} is not an lcurve.out column of DeePMD-kit's ener loss (TensorFlow)"
                            f"{_closest(column)}: it writes "
                            "step, rmse_val, rmse_trn, rmse_<term>_val and rmse_<term>_trn for the terms "
                            f"{', '.join(ENER_TERMS)} of the loss, and lr", f"metrics.{name}")
        term = _TERM_COLUMN.fullmatch(column)
        if term and losses and all(term_off(loss, term[1]) for loss in losses):
            t = term[1]
            raise SpecError(f"{column!r} will not be in lcurve.out: loss.start_pref_{t} and loss.limit_pref_{t} "
                            f"are both 0 in {where}, so DeePMD-kit leaves the {t} term out of the loss and "
                            "its columns out of lcurve.out", f"metrics.{name}")


def last_step(numb_steps: int, disp_freq: int) -> int:
    """The step of the last row a complete training writes: DeePMD-kit writes one at the
    first step (0) and then whenever the step is a multiple of ``disp_freq``."""
    return numb_steps // disp_freq * disp_freq


def undivided(numb_steps: int, disp_freq: int) -> str:
    """Why a training whose ``disp_freq`` does not divide its ``numb_steps`` gives no fitness."""
    return (f"disp_freq {disp_freq} does not divide numb_steps {numb_steps}: the last row of lcurve "
            f"is step {last_step(numb_steps, disp_freq)}'s model, not the trained one")


def check_complete(lcurve: Lcurve, numb_steps: int, disp_freq: int) -> None:
    """LcurveError unless the last row is the trained model's: ``disp_freq`` must divide
    ``numb_steps`` (a searched ``numb_steps`` can break what the start-up check saw), and
    the curve must reach :func:`last_step`."""
    if numb_steps % disp_freq:
        raise LcurveError(undivided(numb_steps, disp_freq))
    end, expected = int(lcurve.rows[-1, lcurve.columns.index("step")]), last_step(numb_steps, disp_freq)
    if end < expected:
        raise LcurveError(f"lcurve ends at step {end}, short of step {expected} of a complete training "
                          f"(numb_steps {numb_steps}, disp_freq {disp_freq})")
