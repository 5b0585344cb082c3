"""lcurve.out parsing: a real DeePMD-kit 3 file, and every way one can be unusable."""

from __future__ import annotations

from pathlib import Path

import pytest
from deepmd_testutil import DATA

from dnnp_hpo.curve import LcurveError, fitness
from dnnp_hpo.plugins.deepmd.lcurve import check_complete, last_step, read_lcurve, schedule

REAL = DATA / "lcurve.out"
METRICS = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val"}


def test_real_deepmd3_lcurve_last_row() -> None:
    curve = read_lcurve(REAL)
    assert curve.columns == ("step", "rmse_val", "rmse_trn", "rmse_e_val", "rmse_e_trn",
                             "rmse_f_val", "rmse_f_trn", "lr")
    assert curve.rows.shape == (7, 8)
    assert fitness(curve, METRICS) == {"energy_rmse": 8.31e-03, "force_rmse": 2.48e-01}


def test_mean_of_last_rows() -> None:
    got = fitness(read_lcurve(REAL), METRICS, last_rows=3)
    assert got["energy_rmse"] == pytest.approx((7.21e-03 + 7.61e-03 + 8.31e-03) / 3)
    assert got["force_rmse"] == pytest.approx((2.48e-01 + 2.57e-01 + 2.48e-01) / 3)


def test_columns_found_by_name_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "lcurve.out"
    path.write_text("#  step  rmse_f_val rmse_e_val  lr\n  0  0.5 0.1  1e-3\n 10 0.25 0.05 1e-4\n")
    assert fitness(read_lcurve(path), METRICS) == {"energy_rmse": 0.05, "force_rmse": 0.25}


def test_truncated_last_line_is_left_out(tmp_path: Path) -> None:
    lines = REAL.read_text().splitlines()
    path = tmp_path / "lcurve.out"
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])  # cut while being written
    assert fitness(read_lcurve(path), METRICS) == {"energy_rmse": 7.61e-03, "force_rmse": 2.57e-01}


def test_malformed_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    lines = REAL.read_text().splitlines()
    lines[3] = lines[3][:20]
    path = tmp_path / "lcurve.out"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LcurveError, match="lcurve.out line 4: expected 8 numbers"):
        read_lcurve(path)


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "lcurve.out"
    path.write_text("\n".join(REAL.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(LcurveError, match="header but no complete data rows"):
        read_lcurve(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LcurveError, match="the training wrote no lcurve.out"):
        read_lcurve(tmp_path / "lcurve.out")


def test_no_header(tmp_path: Path) -> None:
    path = tmp_path / "lcurve.out"
    path.write_text("")
    with pytest.raises(LcurveError, match="no header line"):
        read_lcurve(path)
    path.write_text("0 1.0 2.0\n")
    with pytest.raises(LcurveError, match="data before the header"):
        read_lcurve(path)


def test_header_without_the_columns(tmp_path: Path) -> None:
    """A training without validation data has no *_val columns."""
    path = tmp_path / "lcurve.out"
    path.write_text("#  step  rmse_trn  rmse_e_trn  rmse_f_trn  lr\n 100 1.0 0.01 0.2 1e-4\n")
    with pytest.raises(LcurveError, match=r"no column\(s\) rmse_e_val, rmse_f_val \(it has: step, rmse_trn"):
        fitness(read_lcurve(path), METRICS)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nan_or_inf_is_a_failure(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "lcurve.out"
    path.write_text(f"# step rmse_e_val rmse_f_val\n 0 0.1 0.2\n 100 {bad} 0.2\n")
    with pytest.raises(LcurveError, match=f"rmse_e_val is {bad} at step 100"):
        fitness(read_lcurve(path), METRICS)
    # an earlier non-finite row does not matter for the last-row fitness ...
    path.write_text(f"# step rmse_e_val rmse_f_val\n 0 {bad} 0.2\n 100 0.1 0.2\n")
    assert fitness(read_lcurve(path), METRICS)["energy_rmse"] == 0.1
    # ... but does for a mean that includes it
    with pytest.raises(LcurveError, match="at step 0"):
        fitness(read_lcurve(path), METRICS, last_rows=2)


def test_a_curve_short_of_the_last_step_is_refused() -> None:
    """A complete training of numb_steps writes its last row at the last multiple of
    disp_freq (DeePMD-kit's TF trainer); a curve that stops before it is not the
    trained model."""
    curve = read_lcurve(REAL)  # rows every 50 steps up to 300
    check_complete(curve, numb_steps=300, disp_freq=50)
    with pytest.raises(LcurveError, match="lcurve ends at step 300, short of step 350"):
        check_complete(curve, numb_steps=350, disp_freq=50)
    # a searched numb_steps that disp_freq does not divide: the last row is an earlier model
    with pytest.raises(LcurveError, match="disp_freq 50 does not divide numb_steps 320: the last row of lcurve "
                                          "is step 300's model"):
        check_complete(curve, numb_steps=320, disp_freq=50)
    assert last_step(500, 1000) == 0 and last_step(40000, 1000) == 40000 and last_step(20, 7) == 14


def test_schedule_of_a_rendered_input() -> None:
    assert schedule({"training": {"numb_steps": 40000, "disp_freq": 1000}}) == (40000, 1000)
    assert schedule({"training": {"stop_batch": 300}}) == (300, 1000)  # DeePMD-kit's default disp_freq
    assert schedule({"training": {"num_steps": 400, "disp_freq": 100}}) == (400, 100)
    assert schedule({"training": {"numb_steps": "$steps"}}) is None
    assert schedule({"model": {}}) is None


def test_a_multi_task_input_is_not_taken_for_one_ener_loss():
    """A multi-task template (model_dict, fitting_net_dict, loss_dict) writes a column per
    model (rmse_e_val_water): it is not checked against the single ener loss's columns."""
    from dnnp_hpo.plugins.deepmd.lcurve import ener_columns, ener_loss

    multi = {"model": {"shared_dict": {}, "model_dict": {"water": {}, "ice": {}}},
             "loss_dict": {"water": {"type": "ener"}, "ice": {"type": "ener"}}, "training": {}}
    assert ener_loss(multi) is None and ener_columns(multi) is None
    assert ener_loss({"model": {"fitting_net_dict": {"water": {}}}}) is None
    single = {"model": {"fitting_net": {"type": "ener"}}, "loss": {"type": "ener"}, "training": {}}
    assert ener_loss(single) == {"type": "ener"}


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-zero"])
def test_an_lcurve_that_is_not_a_file_is_a_failure_not_a_hang(tmp_path: Path, kind: str) -> None:
    """A training that left a FIFO as lcurve.out blocked its worker for ever, outside any
    time limit; a link to /dev/zero was read until the worker's memory ran out (helper-117).
    Each is a failure with its reason, at once."""
    import os
    import threading

    path = tmp_path / "lcurve.out"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    outcome = []

    def read() -> None:
        try:
            read_lcurve(path)
        except LcurveError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive() and kind == "fifo":
        with open(path, "w"):  # let the old reader go: a writer that writes nothing
            pass
    assert outcome == ["lcurve.out is not a regular file, so not read"], outcome
