"""``hpo-demo-data``: a reproducible, physical DeePMD dataset split 75/25."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cli_testutil import from_a_terminal
from deepmd_testutil import VENV_BIN, run_exe

EXE = str(VENV_BIN / "hpo-demo-data")


def test_layout_split_and_physics(demo_data: Path) -> None:
    meta = json.loads((demo_data / "demo-data.json").read_text())
    assert meta["frames"] == {"train": 60, "valid": 20}
    assert meta["settings"]["seed"] == 3
    for name, frames in meta["frames"].items():
        system = demo_data / name
        assert (system / "type_map.raw").read_text().split() == ["Al", "Cu"]
        types = np.loadtxt(system / "type.raw", dtype=int)
        assert len(types) == 32 and (types == 1).sum() == 8
        sets = system / "set.000"
        coord, force = np.load(sets / "coord.npy"), np.load(sets / "force.npy")
        energy, box = np.load(sets / "energy.npy"), np.load(sets / "box.npy")
        assert coord.shape == force.shape == (frames, 96) and energy.size == frames
        assert np.allclose(box, np.diag([8.0, 8.0, 8.0]).ravel())
        assert np.isfinite(energy).all() and np.isfinite(force).all()
    # A melt at 1400 K: the frames differ, and the forces are those of a hot liquid.
    energy = np.load(demo_data / "train" / "set.000" / "energy.npy")
    assert energy.std() > 0.1
    assert 0.2 < meta["force_rms_eV_per_A"] < 3.0


def test_same_seed_same_files_and_if_missing(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    b.mkdir()  # an empty OUT_DIR is filled (the dataset replaces it)
    for out in (a, b):
        done = run_exe([EXE, str(out), "--frames", "8", "--seed", "11"])
        assert done.returncode == 0, done.stderr
    for rel in ("train/set.000/coord.npy", "valid/set.000/energy.npy", "train/set.000/force.npy"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "valid" / "set.000" / "energy.npy").exists()
    # --if-missing keeps a dataset that is there; without it the command refuses
    before = (a / "train" / "set.000" / "coord.npy").stat().st_mtime_ns
    kept = run_exe([EXE, str(a), "--if-missing"])
    assert kept.returncode == 0 and kept.stdout.rstrip().endswith("already holds the demo dataset; kept as is")
    assert (a / "train" / "set.000" / "coord.npy").stat().st_mtime_ns == before
    refused = run_exe([EXE, str(a)])
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not list(tmp_path.glob(".*partial*"))


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    # Names the file system takes, whose scratch directory (".NAME.partial-PID") it does
    # not: the failure comes after the parents are made, and an empty OUT_DIR is there.
    long_name = "x" * 250
    (tmp_path / long_name).mkdir()
    cases = [
        ([str(tmp_path / "new" / "deeper" / long_name), "--frames", "4"], "cannot write"),
        ([str(tmp_path / long_name), "--frames", "4"], "cannot write"),
        ([str(tmp_path / "d"), "--seed", "-1"], "--seed -1: expected a whole number from 0"),
        ([str(tmp_path / "d"), "--frames", "abc"], "argument --frames: invalid int value: 'abc'"),
        ([str(tmp_path / "afile")], "is a file: choose another OUT_DIR"),
        ([str(tmp_path / "afile" / "sub")], "cannot write"),
    ]
    for args, words in cases:
        done = run_exe([EXE, *args])
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and words in done.stderr, (args, done.stderr)
    # nothing written, no parent left behind, the empty OUT_DIR kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", long_name]
    assert list((tmp_path / long_name).iterdir()) == []


@pytest.mark.parametrize(("stop", "said"), [(signal.SIGINT, "interrupted"),
                                            # at their defaults they left .d.partial-PID behind
                                            (signal.SIGTERM, "stopped by SIGTERM"),
                                            (signal.SIGHUP, "stopped by SIGHUP")], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_is_one_line_and_leaves_nothing(tmp_path: Path, stop: signal.Signals, said: str) -> None:
    proc = subprocess.Popen(from_a_terminal([EXE, str(tmp_path / "d"), "--frames", "400"]), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".d.partial-*")) and time.monotonic() < deadline:  # the MD has started
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + stop, err
    assert err.splitlines() == [f"hpo-demo-data: {said}; nothing written"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("frames", ["100001", "99999999999999999999999"])
def test_frames_beyond_the_limit_are_refused(tmp_path: Path, frames: str) -> None:
    """10**22 frames was taken, and the MD ran for ever."""
    done = run_exe([EXE, str(tmp_path / "d"), "--frames", frames], timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"hpo-demo-data: --frames {frames}: expected 4 to 100,000\n"
    assert list(tmp_path.iterdir()) == []
