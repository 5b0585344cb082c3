"""Promise 4: the driver SIGKILLed at random moments and resumed ends with the population
of an uninterrupted run; no finished training is run again; the journal stays intact.

tests/journal/test_resume.py kills the driver at chosen events (an evaluation finished
but not yet recorded, a generation being recorded...).  Here the moments are drawn at
random, three per seed, for several seeds: two while the driver trains (from its first
training on), one anywhere from its start (start-up included).  The
driver is killed from outside, as a node failure or ``scancel`` would; whatever it had
started (its Dask workers) is then killed too.  The real ``hpo-run`` main, real
local Dask, real SQLite; the trainer is tests/journal/resumable.py's FileTrainer (ZDT1
that leaves its result in its directory, as DeePMD leaves lcurve.out, and logs every
training so re-runs can be counted).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from faults_testutil import REPO, assert_recorded_once, journal_evaluations, subprocess_env

from dnnp_hpo.journal import Journal

RESUMABLE = REPO / "tests" / "journal" / "resumable.py"
POP_SIZE, GENERATIONS = 8, 3
SPEC = """
name: killed
seed: 11
space:
{space}
constraints: ["x0 <= 0.97"]
objectives: [{{name: f1}}, {{name: f2}}]
trainer: {{plugin: file, log: {log}, seconds: 0.1}}
optimizer: {{plugin: nsga2, pop_size: {pop_size}, generations: {generations}}}
launcher: {{plugin: dask, workers: 2}}
"""


def write_spec(directory: Path) -> Path:
    space = "\n".join(f"  x{i}: {{type: float, init: [0.0, 1.0], sigma: 0.1}}" for i in range(5))
    spec = directory / "spec.yaml"
    spec.write_text(SPEC.format(space=space, log=directory / "trainings.log", pop_size=POP_SIZE,
                                generations=GENERATIONS))
    return spec


def start(directory: Path, spec: Path, log_name: str) -> subprocess.Popen:
    """``hpo-run spec`` (with the FileTrainer registered), in a session of its own."""
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(RESUMABLE.parent), env["PYTHONPATH"]])
    with open(directory / f"{log_name}.out", "wb") as out, open(directory / f"{log_name}.err", "wb") as err:
        return subprocess.Popen([sys.executable, str(RESUMABLE), "none", "0", str(spec), "--set", "run_dir=run"],
                                cwd=directory, env=env, stdout=out, stderr=err, start_new_session=True)


def await_training(proc: subprocess.Popen, log: Path) -> None:
    """Return once the run has trained something more (or has ended)."""
    size = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and log.stat().st_size > size:
            return
        time.sleep(0.01)


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL the driver in ``delay`` seconds (if it is still running), then everything
    else of its session; True if it was killed."""
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its workers: only this session's processes
    except ProcessLookupError:
        pass
    return killed


def final_population(run_dir: Path) -> list[tuple]:
    with Journal.of(run_dir, readonly=True) as journal:
        last = journal.generations()[-1]
        return [(m.evaluation.trial.genome, m.evaluation.fitness, m.rank) for m in journal.population(last)]


def finished_births(run_dir: Path) -> set[int]:
    if not (run_dir / "journal.sqlite").exists():
        return set()
    return {e.trial.birth_id for e in journal_evaluations(run_dir)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: its final population, how long it took, how long it trained."""
    directory = tmp_path_factory.mktemp("reference")
    spec = write_spec(directory)
    started = time.monotonic()
    proc = start(directory, spec, "reference")
    assert proc.wait(timeout=300) == 0, (directory / "reference.err").read_text()[-3000:]
    duration = time.monotonic() - started
    evaluations = journal_evaluations(directory / "run")
    training = max(e.stop for e in evaluations) - min(e.start for e in evaluations if e.start)
    return final_population(directory / "run"), duration, training


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_driver_sigkilled_at_random_moments_resumes_to_the_same_result(tmp_path, reference, seed):
    population, duration, training = reference
    spec = write_spec(tmp_path)
    run_dir = tmp_path / "run"
    rng = random.Random(seed)
    moments, recorded_at_kill = [], []
    for attempt in range(3):
        proc = start(tmp_path, spec, f"killed-{attempt}")
        if attempt == 1:
            delay, anchor = rng.uniform(0.0, duration), "start"
        else:
            await_training(proc, tmp_path / "trainings.log")
            # The first kill within the first half of the reference's training: at 0.8 a
            # draw near the end missed a run that trained faster than the loaded reference,
            # which then finished, and no later attempt had anything left to kill.
            delay, anchor = rng.uniform(0.0, (0.5 if attempt == 0 else 0.8) * training), "training"
        if kill_after(proc, delay):
            moments.append(f"{anchor}+{delay:.2f}s")
            recorded_at_kill.append(finished_births(run_dir))
            if (run_dir / "journal.sqlite").exists():
                with Journal.of(run_dir, readonly=True) as journal:
                    assert journal.integrity() == "ok"  # right after the kill, before any resume
    assert moments, "the run was never killed: nothing was tested"
    resumed = start(tmp_path, spec, "resumed")
    assert resumed.wait(timeout=300) == 0, (tmp_path / "resumed.err").read_text()[-3000:]

    assert final_population(run_dir) == population
    evaluations = assert_recorded_once(run_dir, POP_SIZE * (GENERATIONS + 1))
    trainings = Counter(int(line) for line in (tmp_path / "trainings.log").read_text().split())
    recorded_before = set().union(*recorded_at_kill)
    # A training recorded before a kill is never run again (harvested ones count zero).
    assert {b: trainings[b] for b in recorded_before if trainings[b] > 1} == {}
    assert len(evaluations) == POP_SIZE * (GENERATIONS + 1)
    print(f"seed {seed}: killed at {moments} (a run takes {duration:.1f} s, {training:.1f} s training) with "
          f"{[len(r) for r in recorded_at_kill]} evaluations recorded; trainings {sum(trainings.values())} "
          f"for {len(evaluations)} evaluations")


@pytest.mark.parametrize("left", ["schema", "empty file"])
def test_a_driver_killed_before_it_recorded_the_spec_starts_afresh(tmp_path, capsys, left):
    """The driver creates journal.sqlite, then records the spec in it.  Killed in between,
    it leaves a journal that holds nothing, or not even the tables (the states made here,
    since no hook runs in that window); running the same command again must start the
    run, not refuse it."""
    from faults_testutil import function_spec
    from faults_testutil import write_spec as write_function_spec

    from dnnp_hpo.cli import main

    spec = write_function_spec(tmp_path / "spec.yaml", function_spec(tmp_path / "run", pop_size=2,
                                                                     generations=0, workers=1), template=None)
    (tmp_path / "run").mkdir()
    if left == "schema":
        Journal.of(tmp_path / "run").close()  # the schema, and nothing else
    else:
        (tmp_path / "run" / "journal.sqlite").touch()  # killed before it wrote a byte
    status = main([str(spec)])
    assert status == 0, capsys.readouterr().err
    assert_recorded_once(tmp_path / "run", 2)
