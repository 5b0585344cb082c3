"""What a user watches and reads: progress lines and hpo-report, for both optimizers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_steady_state_runs import HERE, hpo_run, recorded, write_spec

from dnnp_hpo.journal import Journal

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def run_of_20_births(tmp_path_factory):
    """A steady-state run of 20 births (the last snapshot a partial one), made once per
    module: its CompletedProcess and its run directory, which the tests only read or copy."""
    tmp = tmp_path_factory.mktemp("births-20")
    spec = write_spec(tmp / "spec.yaml", births=20)
    return hpo_run(tmp, spec, "runs/a"), tmp / "runs/a"  # stdout is a pipe: plain progress lines


def test_progress_counts_births_for_the_steady_state_optimizer(run_of_20_births):
    done, _ = run_of_20_births
    assert done.returncode == 0, done.stderr
    snapshots = re.findall(r"^births (\d+) of 20 \(snapshot (\d+)\)", done.stdout, re.MULTILINE)
    # a snapshot every pop_size (8) births, and one at the end
    assert [(int(b), int(g)) for b, g in snapshots] == [(8, 0), (16, 1), (20, 2)]


def test_steady_state_progress_counts_each_failure_once_between_snapshots(tmp_path):
    # A third of the candidates fail (x0 < 0.33), generation 0's among them.  Offspring
    # (generation 1) start before snapshot 0: failures are counted per snapshot interval,
    # not per generation label, so the lines add up to the journal's failures.
    failing = "{plugin: function, callable: 'steady_funcs:failing_zdt1'}"
    spec = write_spec(tmp_path / "spec.yaml", births=24, trainer=failing)
    done = hpo_run(tmp_path, spec, "runs/f")
    assert done.returncode == 0, done.stderr
    counts = [int(n) for n in re.findall(r"^births \d+ of 24 \(snapshot \d+\), (\d+) failed since the last "
                                         r"snapshot", done.stdout, re.MULTILINE)]
    evaluations = recorded(tmp_path / "runs/f")[0]
    failed = sum(1 for e in evaluations if not e.ok)
    assert len(counts) == 3 and failed > 0
    assert sum(counts) == failed


def test_a_steady_state_resume_counts_the_failures_recorded_since_the_last_snapshot(tmp_path):
    """Killed between two snapshots and resumed, the line of the next snapshot counted this
    session's failures only ("1 failed since the last snapshot" where 5 had: a review).
    Each line counts the failures inserted since the one before, the journal's too:
    evaluations are inserted in the order the journal recorded them."""
    failing = "{plugin: function, callable: 'steady_funcs:failing_zdt1'}"
    spec = write_spec(tmp_path / "spec.yaml", births=24, trainer=failing)
    assert hpo_run(tmp_path, spec, "runs/k", kill=("evaluation_finished", 13)).returncode == -9
    before = Journal.of(tmp_path / "runs/k")
    try:
        held = before.evaluations(recorded=True)
    finally:
        before.close()
    assert len(held) > 8 and any(not e.ok for e in held[8:]), "no failure recorded past snapshot 0 before the kill"
    done = hpo_run(tmp_path, spec, "runs/k")
    assert done.returncode == 0, done.stderr
    lines = [(int(b), int(n)) for b, n in re.findall(
        r"^births (\d+) of 24 \(snapshot \d+\), (\d+) failed since the last snapshot", done.stdout, re.MULTILINE)]
    journal = Journal.of(tmp_path / "runs/k")
    try:
        order = journal.evaluations(recorded=True)
    finally:
        journal.close()
    assert [b for b, _ in lines] == [16, 24], done.stdout
    assert [n for _, n in lines] == [sum(not e.ok for e in order[8:16]), sum(not e.ok for e in order[16:24])]


def test_progress_counts_generations_for_the_generational_optimizer(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", births=20)
    text = spec.read_text().replace("plugin: nsga2-async, pop_size: 8, max_births: 20",
                                    "plugin: nsga2, pop_size: 8, generations: 2")
    spec.write_text(text)
    done = hpo_run(tmp_path, spec, "runs/g")
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^generation (\d) of 2 done: (\d+)/24 evaluations", done.stdout, re.MULTILINE)
    assert lines == [("0", "8"), ("1", "16"), ("2", "24")]


def test_generational_progress_counts_infeasible_candidates_in_their_generation(tmp_path):
    # Candidates the constraint rejects are finished without ever starting; each
    # generation's line counts its own failures, as the journal records them.  In the
    # first run about half are rejected; in the second all (no training ever starts).
    spec = write_spec(tmp_path / "spec.yaml", births=20)
    text = spec.read_text().replace("plugin: nsga2-async, pop_size: 8, max_births: 20",
                                    "plugin: nsga2, pop_size: 8, generations: 3")
    spec.write_text(text.replace('constraints: ["x0 <= 0.97"]', "constraints: ['x0 <= 0.5']"))
    _check_failures_per_generation(tmp_path, spec, "runs/c")
    spec.write_text(text.replace('constraints: ["x0 <= 0.97"]', "constraints: ['x0 == 0.123456789']"))
    done = _check_failures_per_generation(tmp_path, spec, "runs/none", status=1)
    # Nothing succeeded: said once after generation 0, while the run goes on, and at the end.
    warnings = [line for line in done.stderr.splitlines() if "no evaluation has succeeded yet" in line]
    assert len(warnings) == 1 and "8 of 8 infeasible: violates x0 == 0.123456789" in warnings[0], done.stderr
    assert done.stderr.splitlines()[-1].startswith("hpo-run: no evaluation succeeded (final population: 8 of 8 "
                                                   "infeasible: violates x0 == 0.123456789)"), done.stderr


def test_a_run_that_ends_without_a_success_is_not_said_to_go_on(tmp_path):
    """generations: 0 with every candidate failing printed 'no evaluation has succeeded
    yet ...; the search goes on' just before the last line said the run had ended with
    none (helper-94); nor does a steady-state run whose last snapshot is its first."""
    spec = write_spec(tmp_path / "spec.yaml", births=8)
    text = spec.read_text().replace('constraints: ["x0 <= 0.97"]', "constraints: ['x0 == 0.123456789']")
    for name, optimizer in (("g", "plugin: nsga2, pop_size: 8, generations: 0"),
                            ("s", "plugin: nsga2-async, pop_size: 8, max_births: 8")):
        spec.write_text(text.replace("plugin: nsga2-async, pop_size: 8, max_births: 8", optimizer))
        done = hpo_run(tmp_path, spec, f"runs/{name}")
        assert done.returncode == 1, done.stderr
        assert "succeeded yet" not in done.stderr and "goes on" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[-1].startswith("hpo-run: no evaluation succeeded (final population: 8 of 8 "
                                                       "infeasible"), done.stderr


def _check_failures_per_generation(tmp_path, spec, run_dir, status=0):
    done = hpo_run(tmp_path, spec, run_dir)
    assert done.returncode == status, done.stderr
    assert status or "no evaluation" not in done.stderr
    lines = re.findall(r"^generation (\d) of 3 done: \d+/32 evaluations, (\d+) failed in this generation",
                       done.stdout, re.MULTILINE)
    evaluations = recorded(tmp_path / run_dir)[0]
    failed = [sum(1 for e in evaluations if not e.ok and e.trial.generation == g) for g in range(4)]
    assert sum(failed) > 0, "the constraint rejected no candidate: the test shows nothing"
    assert [(int(g), int(n)) for g, n in lines] == list(enumerate(failed))
    return done


def test_hpo_report_reads_a_steady_state_run(tmp_path, run_of_20_births):
    done, run_dir = run_of_20_births
    assert done.returncode == 0, done.stderr
    shutil.copytree(run_dir, tmp_path / "runs/a", symlinks=True)
    report = subprocess.run([str(BIN / "hpo-report"), str(tmp_path / "runs/a")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert report.returncode == 0, report.stderr
    out = tmp_path / "runs/a/report"
    # snapshots stand in for generations: one panel each in the generations figure
    assert (out / "generations.png").stat().st_size > 0
    # the run table: last generation 2 (snapshots after 8, 16, 20 births), 20 evaluations
    assert re.search(r"\| a \| \S+ \| steady \| 11 \| 2 \| 20 \| \d+ \| 0 \| yes \|",
                     (out / "summary.md").read_text()), (out / "summary.md").read_text()
    hypervolume = (out / "hypervolume.csv").read_text().splitlines()
    assert len(hypervolume) == 1 + 3  # header + one row per snapshot


def test_the_example_config_runs(tmp_path):
    repo = HERE.parent.parent
    done = subprocess.run([str(BIN / "hpo-run"), str(repo / "configs/zdt1-async.yaml"),
                           "--set", f"run_dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    evaluations, *_ = recorded(tmp_path / "run")
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(220))
