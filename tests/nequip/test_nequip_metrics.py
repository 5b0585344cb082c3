"""Reading Lightning's ``metrics.csv`` from a real ``nequip-train`` run (tests/data/nequip)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from nequip_testutil import DATA

from dnnp_hpo.curve import LcurveError, fitness
from dnnp_hpo.plugins.nequip_stub.metrics import read_metrics
from dnnp_hpo.plugins.nequip_stub.trainer import DEFAULT_METRICS

REAL = DATA / "metrics.csv"
E, F = DEFAULT_METRICS["energy_rmse"], DEFAULT_METRICS["force_rmse"]


def validation_rows() -> list[dict[str, str]]:
    """The rows of the real file that carry validation errors, read with the csv module."""
    with open(REAL, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row[F]]


def test_real_file_gives_one_row_per_validation_epoch() -> None:
    expected = validation_rows()
    assert len(expected) == 4  # max_epochs: 4, validation every epoch
    curve = read_metrics(REAL, [E, F])
    assert curve.columns == ("step", E, F)
    assert curve.rows[:, 0].tolist() == [float(r["step"]) for r in expected]
    assert curve.rows[:, 2].tolist() == [float(r[F]) for r in expected]
    result = fitness(curve, DEFAULT_METRICS)
    assert result == {"energy_rmse": float(expected[-1][E]), "force_rmse": float(expected[-1][F])}
    two = fitness(curve, DEFAULT_METRICS, last_rows=2)
    assert two["force_rmse"] == pytest.approx((float(expected[-1][F]) + float(expected[-2][F])) / 2)


def test_any_column_by_name() -> None:
    assert read_metrics(REAL, ["val0_epoch/forces_mae"]).rows.shape == (4, 2)
    assert read_metrics(REAL, ["train_loss_epoch/weighted_sum"]).rows.shape == (4, 2)
    # train and validation epoch values sit on different rows: no row has both
    with pytest.raises(LcurveError, match="no row with values for all of"):
        read_metrics(REAL, [F, "train_loss_epoch/weighted_sum"])


def test_a_metric_only_recorded_takes_its_epochs_value_and_never_fails_a_training() -> None:
    """A recorded metric beside the objectives (train_loss_epoch/..., logged on rows of its
    own, or a column the file lacks) failed every training, after it had trained to its
    end: 'no row with values for all of ...' (helper-75).  Rows are chosen by the
    objectives' columns; the others take the value logged for the same epoch."""
    train, absent = "train_loss_epoch/weighted_sum", "val0_epoch/energy_mae"
    metrics = {**DEFAULT_METRICS, "train_loss": train, "energy_mae": absent}
    curve = read_metrics(REAL, [E, F, train, absent], required=[E, F])
    with open(REAL, newline="") as handle:
        rows = list(csv.DictReader(handle))
    last_epoch = [r for r in rows if r[F]][-1]["epoch"]
    train_of_last = [float(r[train]) for r in rows if r["epoch"] == last_epoch and r[train]][-1]
    result = fitness(curve, metrics, required=["energy_rmse", "force_rmse"])
    assert result == {"energy_rmse": float(validation_rows()[-1][E]), "force_rmse": float(validation_rows()[-1][F]),
                      "train_loss": train_of_last}
    # an objective's column still has to be there
    with pytest.raises(LcurveError, match="has no column"):
        read_metrics(REAL, [E, absent], required=[E, absent])


def rewrite(tmp_path: Path, edit) -> Path:
    lines = REAL.read_text().splitlines(keepends=True)
    path = tmp_path / "metrics.csv"
    path.write_text("".join(edit(lines)))
    return path


def test_a_row_cut_short_while_written_is_left_out(tmp_path: Path) -> None:
    last_val = max(i for i, line in enumerate(REAL.read_text().splitlines()) if line.split(",")[10])
    path = rewrite(tmp_path, lambda lines: lines[:last_val] + [lines[last_val][:40]])
    curve = read_metrics(path, [E, F])
    assert len(curve.rows) == len(validation_rows()) - 1


def test_nan_is_a_failure_naming_column_and_step(tmp_path: Path) -> None:
    def poison(lines):
        out = list(lines)
        i = max(n for n, line in enumerate(out) if line.split(",")[10])
        cells = out[i].rstrip("\n").split(",")
        cells[10] = "nan"
        out[i] = ",".join(cells) + "\n"
        return out

    curve = read_metrics(rewrite(tmp_path, poison), [E, F])
    assert math.isnan(curve.rows[-1, 2])
    with pytest.raises(LcurveError, match=rf"{F} is nan at step 47"):
        fitness(curve, DEFAULT_METRICS)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda lines: lines[:3], "no row with values for all of val0_epoch/per_atom_energy_rmse"),
    (lambda lines: [], "is empty"),
    (lambda lines: [lines[0].replace("val0_epoch/forces_rmse", "val0_epoch/f")] + lines[1:],
     "no column(s) val0_epoch/forces_rmse (did a validation epoch finish?) (it has: epoch, step"),
    (lambda lines: lines[:4] + ["1,2\n"] + lines[4:], "line 5: expected 18 fields, got 2"),
])
def test_unusable_files_say_why(tmp_path: Path, edit, message: str) -> None:
    with pytest.raises(LcurveError) as info:
        read_metrics(rewrite(tmp_path, edit), [E, F])
    assert message in str(info.value)


def test_missing_file_says_where_it_was_expected(tmp_path: Path) -> None:
    with pytest.raises(LcurveError, match="wrote no metrics.csv.*metrics_file"):
        read_metrics(tmp_path / "metrics.csv", [E, F])
