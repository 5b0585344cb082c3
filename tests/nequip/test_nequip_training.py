"""Real NequIP trainings through the plugin, driven by the real ``hpo-run`` (slow).

Skipped, with the reason, where NequIP is not installed.  Each training is a tiny model
(one or two layers, 4-8 features) for two epochs on 30 frames: seconds on one core.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import psutil
import pytest
import yaml
from nequip_testutil import DEMO_SPEC, MAXINT, demo_overrides, hpo_run, nequip_train

from dnnp_hpo.journal import Journal
from dnnp_hpo.plugins.nequip_stub.metrics import read_metrics
from dnnp_hpo.plugins.nequip_stub.trainer import DEFAULT_METRICS

pytestmark = pytest.mark.slow

TINY = ("trainer.settings.max_epochs=2", "optimizer.pop_size=2", "optimizer.generations=0")


def run_demo(run_dir: Path, data: Path, *extra: str, timeout: float = 400):
    nequip_train()  # skips, saying why, if NequIP is absent
    args = [f"--set={s}" for s in demo_overrides(run_dir, data, *TINY, *extra)]
    return hpo_run(str(DEMO_SPEC), *args, timeout=timeout)


def test_real_nequip_trainings_give_the_fitness_of_their_metrics_file(tmp_path: Path,
                                                                      nequip_demo_data: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_demo(run_dir, nequip_demo_data)
    assert done.returncode == 0, done.stderr[-3000:]
    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
    assert len(evaluations) == 2 and all(e.status == "ok" for e in evaluations), \
        [(e.status, e.reason) for e in evaluations]
    for evaluation in evaluations:
        trial, workdir = evaluation.trial, evaluation.trial.workdir
        # the fitness is the last validation row of the metrics.csv NequIP wrote
        curve = read_metrics(workdir / "metrics.csv", list(DEFAULT_METRICS.values()))
        assert len(curve.rows) == 2  # max_epochs=2, validation every epoch
        assert evaluation.fitness == (curve.rows[-1, 1], curve.rows[-1, 2])
        assert all(math.isfinite(v) and 0 < v < 10 for v in evaluation.fitness)
        assert evaluation.metrics["runtime"] > 0
        # the config it trained is the candidate's
        config = yaml.safe_load((workdir / "config.yaml").read_text())
        model = config["training_module"]["model"]
        assert config["cutoff_radius"] == trial.params["r_max"] and config["seed"] == trial.seed
        assert (model["l_max"], model["num_layers"], model["num_features"]) == (
            trial.params["l_max"], trial.params["num_layers"], trial.params["num_features"])
        assert config["training_module"]["optimizer"]["lr"] == trial.params["lr"]
        assert list((workdir / "checkpoints").glob("*.ckpt")), "NequIP saved no checkpoint"
        print(f"nequip training of 2 epochs: {evaluation.metrics['runtime']:.1f} s wall")
    with open(run_dir / "individuals.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {float(r["energy_rmse"]) for r in rows} == {e.fitness[0] for e in evaluations}


def test_a_nequip_failure_gets_maxint_and_its_reason(tmp_path: Path, nequip_demo_data: Path) -> None:
    broken = tmp_path / "broken.extxyz"
    broken.write_text("32\nnot an extended xyz comment line\nAl 0 0\n")
    done = run_demo(tmp_path / "run", nequip_demo_data, f"trainer.settings.val_file={broken}")
    # the run goes to its end, then says nothing succeeded and why: exit 1
    assert done.returncode == 1, done.stderr[-3000:]
    assert "no evaluation succeeded (final population: 2 of 2 failed: nequip-train exited with status 1" in done.stderr
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        evaluations = journal.evaluations()
    assert [e.status for e in evaluations] == ["failed", "failed"]
    for evaluation in evaluations:
        assert evaluation.fitness == (MAXINT, MAXINT)
        assert evaluation.reason.startswith("nequip-train exited with status 1: ")
        assert "stderr.log" in evaluation.reason and "\n" not in evaluation.reason


def test_the_time_limit_kills_nequip_train_and_all_it_started(tmp_path: Path, nequip_demo_data: Path) -> None:
    run_dir = tmp_path / "run"
    start = time.monotonic()
    # 0.03 min = 1.8 s: nequip-train is still importing torch and Lightning
    done = run_demo(run_dir, nequip_demo_data, "trainer.timeout_minutes=0.03")
    assert done.returncode == 1, done.stderr[-3000:]  # nothing succeeded
    assert "no evaluation succeeded (final population: 2 of 2 timeout: killed at the time limit" in done.stderr
    assert time.monotonic() - start < 120
    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
    assert [e.status for e in evaluations] == ["timeout", "timeout"]
    assert all(e.fitness == (MAXINT, MAXINT) and "0.03 min" in e.reason for e in evaluations)
    left = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(run_dir / "evals")):
            left.append(proc.pid)
    assert not left, f"processes still running in the evaluation directories: {left}"
