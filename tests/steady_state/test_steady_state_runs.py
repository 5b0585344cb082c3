"""nsga2-async end to end: real launchers, the journal, resume after SIGKILL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from dnnp_hpo.evaluation import MAXINT
from dnnp_hpo.front import format_value
from dnnp_hpo.journal import Journal

HERE = Path(__file__).resolve().parent
RESUMABLE = HERE.parent / "journal" / "resumable.py"  # hpo-run with a SIGKILL observer
SPACE = "\n".join(f"  x{i}: {{type: float, init: [0.0, 1.0], sigma: 0.1}}" for i in range(7))
SPEC = """
name: steady
seed: 11
space:
{space}
constraints: ["x0 <= 0.97"]
objectives: [{{name: f1}}, {{name: f2}}]
trainer: {trainer}
optimizer: {{plugin: nsga2-async, pop_size: 8, max_births: {births}, variation: {variation}}}
launcher: {launcher}
"""
FILE = "{{plugin: file, log: {log}, seconds: {seconds}}}"  # resumable.FileTrainer


def dask(workers: int) -> str:
    return f"{{plugin: dask, workers: {workers}}}"

SLOW_ZDT1 = "{plugin: function, callable: 'steady_funcs:slow_zdt1'}"


def write_spec(path: Path, *, trainer: str = SLOW_ZDT1, launcher: str = dask(2), births: int = 40,
               variation: str = "sbx") -> Path:
    path.write_text(SPEC.format(space=SPACE, trainer=trainer, launcher=launcher, births=births,
                                variation=variation))
    return path


def hpo_run(cwd: Path, spec: Path, run_dir: str, *extra: str,
            kill: tuple[str, int] = ("none", 0)) -> subprocess.CompletedProcess:
    """hpo-run in a subprocess (through resumable.py, which can SIGKILL it at an event)."""
    path = [str(HERE), str(RESUMABLE.parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run(
        [sys.executable, str(RESUMABLE), kill[0], str(kill[1]), str(spec), "--set", f"run_dir={run_dir}", *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def recorded(run_dir: Path):
    journal = Journal.of(run_dir)
    try:
        evaluations = journal.evaluations()
        last = journal.generations()[-1]
        population = [(m.evaluation.trial.genome, m.evaluation.fitness, m.rank)
                      for m in journal.population(last)]
        return evaluations, population, journal.generations(), journal.integrity(), journal.running()
    finally:
        journal.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("steady-reference")
    spec = write_spec(tmp / "spec.yaml", trainer=FILE.format(log=tmp / "log", seconds=0.02),
                      launcher=dask(1), births=32)
    assert hpo_run(tmp, spec, "runs/ref").returncode == 0
    return recorded(tmp / "runs/ref")


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """``killed_and_resumed(workers, event, n)``: the reference spec on ``workers`` Dask
    workers, SIGKILLed at the n-th event and resumed; each made once per module, for the
    tests that only read it.  Its run_dir and log, both sessions, and what the journal
    (``before``: uuid to evaluation) and the evaluation directories held between them."""
    made: dict[tuple, SimpleNamespace] = {}

    def make(workers: int, event: str, n: int) -> SimpleNamespace:
        if (workers, event, n) not in made:
            tmp = tmp_path_factory.mktemp(f"killed-{workers}-{event}-{n}")
            log = tmp / "trainings.log"
            spec = write_spec(tmp / "spec.yaml", trainer=FILE.format(log=log, seconds=0.02),
                              launcher=dask(workers), births=32)
            killed = hpo_run(tmp, spec, "runs/r", kill=(event, n))
            before, in_flight = {}, []
            if killed.returncode == -9:  # else the tests say so
                with Journal.of(tmp / "runs/r", readonly=True) as journal:
                    before = {e.trial.uuid: e for e in journal.evaluations()}
                    in_flight = journal.running()
            finished_on_disk = [t for t in in_flight if (t.workdir / "result.json").exists()]
            resumed = hpo_run(tmp, spec, "runs/r")
            made[workers, event, n] = SimpleNamespace(
                run_dir=tmp / "runs/r", log=log, killed=killed, before=before,
                finished_on_disk=finished_on_disk, resumed=resumed)
        return made[workers, event, n]

    return make


def test_uneven_trainings_on_local_dask_record_every_birth(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", births=40)
    done = hpo_run(tmp_path, spec, "runs/a")
    assert done.returncode == 0, done.stderr
    evaluations, population, generations, integrity, running = recorded(tmp_path / "runs/a")
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(40))
    assert integrity == "ok" and not running
    assert generations == list(range(5))  # a snapshot every pop_size (8) insertions
    assert len(population) == 8 and min(rank for *_, rank in population) == 1
    # The point of being asynchronous: workers did not wait for one another, so some
    # offspring were sent before generation 0's 8 results were all in (a generational run
    # sends its first after the 8th); they are labelled generation 1, generation 0 being
    # the 8 random genomes alone.  Counted in results, not seconds: by the clock the
    # margin was the last random genome's training time less the driver's turnaround.
    assert sorted(e.trial.birth_id for e in evaluations if e.trial.generation == 0) == list(range(8))
    assert [e for e in evaluations if e.trial.birth_id >= 8 and e.trial.sent_after < 8]


def test_one_worker_runs_are_reproducible_from_the_seed(tmp_path, reference):
    # the first of the three runs is the module's reference run, of this spec
    second, other = (
        write_spec(tmp_path / f"{x}.yaml", trainer=FILE.format(log=tmp_path / f"{x}.log", seconds=0.02),
                   launcher=dask(1), births=32)
        for x in "bc"
    )
    other.write_text(other.read_text().replace("seed: 11", "seed: 12"))
    for spec, run in ((second, "runs/b"), (other, "runs/c")):
        assert hpo_run(tmp_path, spec, run).returncode == 0
    a = reference
    b, c = (recorded(tmp_path / run) for run in ("runs/b", "runs/c"))

    def births(record):
        return [(e.trial.birth_id, e.trial.genome, e.fitness) for e in record[0]]

    assert births(a) == births(b) and a[1] == b[1]
    assert births(a) != births(c)


# Kill points: during generation 0, after an evaluation finished but before the journal
# recorded it, right after sending an offspring, while a snapshot is being recorded.
KILLS = [("evaluation_finished", 3), ("evaluation_finished", 13), ("evaluation_started", 20),
         ("generation_finished", 2)]


@pytest.mark.slow
@pytest.mark.parametrize(("event", "n"), KILLS)
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_and_resume_loses_no_finished_evaluation(reference, killed_and_resumed, event, n, workers):
    run = killed_and_resumed(workers, event, n)
    killed, before, resumed, log = run.killed, run.before, run.resumed, run.log
    assert killed.returncode == -9, killed.stderr

    assert resumed.returncode == 0, resumed.stderr
    evaluations, population, _, integrity, running = recorded(run.run_dir)
    assert integrity == "ok" and not running
    after = {e.trial.uuid: e for e in evaluations}
    # every evaluation finished before the kill is still there, unchanged
    assert all(after[uuid] == evaluation for uuid, evaluation in before.items())
    # one finished record per birth, the whole budget
    assert sorted(Counter(e.trial.birth_id for e in evaluations).items()) == [(b, 1) for b in range(32)]
    # a training recorded before the kill is never run again
    trainings = Counter(int(line) for line in log.read_text().split())
    assert all(trainings[e.trial.birth_id] == 1 for e in before.values() if e.ok)
    if workers == 1:
        # one worker: the replay is exact, so the interrupted run ends where the other did
        assert population == reference[1]


@pytest.mark.parametrize("births", [20, 5])
def test_a_finished_run_extended_with_more_births_gives_the_longer_run(tmp_path, reference, births):
    """hpo-run --force with max_births raised takes a finished run up again.  Its last
    snapshot (20 insertions: generation 2, part of one) is taken again at 24, in the
    journal and in pop.csv alike, which held it twice; with one worker the extended run
    is the one started with the larger budget.  Also from a budget below pop_size (5 of
    8), whose snapshot saved the generator after 5 random genomes, not 8: every
    offspring differed."""
    log = tmp_path / "trainings.log"
    spec = write_spec(tmp_path / "spec.yaml", trainer=FILE.format(log=log, seconds=0.02),
                      launcher=dask(1), births=births)
    assert hpo_run(tmp_path, spec, "runs/x").returncode == 0
    extended = hpo_run(tmp_path, spec, "runs/x", "--set", "optimizer.max_births=32", "--force")
    assert extended.returncode == 0, extended.stderr
    assert "Extending the finished run in" in extended.stdout
    evaluations, population, generations, integrity, running = recorded(tmp_path / "runs/x")
    assert integrity == "ok" and not running and generations == reference[2]
    assert [(e.trial.birth_id, e.trial.genome, e.fitness) for e in evaluations] == \
        [(e.trial.birth_id, e.trial.genome, e.fitness) for e in reference[0]]
    assert population == reference[1]
    assert set(Counter(int(line) for line in log.read_text().split()).values()) == {1}
    with open(tmp_path / "runs/x/pop.csv") as handle:
        rows = Counter(line.split(",", 1)[0] for line in handle.readlines()[1:])
    assert rows == {str(g): 8 for g in generations}


@pytest.mark.slow
def test_an_evaluation_finished_on_disk_is_harvested_not_retrained(reference, killed_and_resumed):
    # Killed after the 13th evaluation finished (an offspring), before the journal heard of it
    # (one of the kills above: this test reads what its resume did to the evaluations on disk).
    run = killed_and_resumed(1, "evaluation_finished", 13)
    killed, finished_on_disk, resumed = run.killed, run.finished_on_disk, run.resumed
    assert killed.returncode == -9, killed.stderr
    assert finished_on_disk, "the kill should leave at least one finished, unrecorded training"

    assert resumed.returncode == 0, resumed.stderr
    evaluations, population, *_ = recorded(run.run_dir)
    by_uuid = {e.trial.uuid: e for e in evaluations}
    trainings = Counter(int(line) for line in run.log.read_text().split())
    for trial in finished_on_disk:
        record = by_uuid[trial.uuid]  # recorded under its original uuid and directory
        assert record.status == "ok" and "harvested" in record.reason
        assert trainings[trial.birth_id] == 1
    assert population == reference[1]  # one worker: the replay ends where the uninterrupted run did


def test_failures_never_stall_the_loop(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", trainer="{plugin: function, callable: 'steady_funcs:failing_zdt1'}",
                      births=40)
    done = hpo_run(tmp_path, spec, "runs/f")
    assert done.returncode == 0, done.stderr
    evaluations, population, *_ = recorded(tmp_path / "runs/f")
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(40))
    failed = [e for e in evaluations if e.status == "error"]
    assert failed and all("training diverged" in e.reason and e.fitness == (MAXINT, MAXINT) for e in failed)
    assert all(e.trial.params["x0"] < 0.33 for e in failed)
    # the failures sink to the worst front; the final population is mostly successes
    assert sum(fitness == (MAXINT, MAXINT) for _, fitness, _ in population) < len(population) // 2


def test_a_worker_killed_mid_evaluation_is_replaced(tmp_path, monkeypatch):
    marker = tmp_path / "killed-once"
    monkeypatch.setenv("STEADY_KILL_MARKER", str(marker))
    spec = write_spec(tmp_path / "spec.yaml",
                      trainer="{plugin: function, callable: 'steady_funcs:zdt1_killing_its_worker_once'}",
                      births=24)
    done = hpo_run(tmp_path, spec, "runs/k")
    assert done.returncode == 0, done.stderr
    assert marker.exists(), "no worker was killed: the test did not test anything"
    evaluations, *_ = recorded(tmp_path / "runs/k")
    # every birth recorded once, the killed one re-run elsewhere by the engine
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(24))
    assert all(e.ok or e.status == "infeasible" for e in evaluations), [e.reason for e in evaluations if not e.ok]


@pytest.fixture(scope="module")
def killed_on_two_workers(tmp_path_factory):
    """The run the next test resumes, killed once per module and kept as the kill left it
    (its trainings log is relative: each test's copy logs beside it, in its tmp_path)."""
    tmp = tmp_path_factory.mktemp("killed-on-two")
    spec = write_spec(tmp / "spec.yaml", trainer=FILE.format(log="trainings.log", seconds=0.05),
                      launcher=dask(2), births=32)
    killed = hpo_run(tmp, spec, "runs/w", kill=("evaluation_finished", 23))
    # copied at once: the workers of a SIGKILLed driver may write on into the original
    kept = tmp / "kept"
    shutil.copytree(tmp / "runs/w", kept / "runs/w", symlinks=True)
    shutil.copy2(tmp / "trainings.log", kept / "trainings.log")
    return kept, killed


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 3])
def test_resumed_on_other_workers_no_finished_training_runs_again(tmp_path, killed_on_two_workers, workers):
    """Resumed where the engine runs another number at once (here: other workers; on Parsl
    the capacity is 0 until its pool connects), the replay still sends each recorded
    birth after as many insertions as the interrupted run did: the same offspring, so no
    finished training is set aside and run again (5 of 16 were, on Parsl); only those
    running at the kill are."""
    log = tmp_path / "trainings.log"
    spec = write_spec(tmp_path / "spec.yaml", trainer=FILE.format(log="trainings.log", seconds=0.05),
                      launcher=dask(2), births=32)
    kept, killed = killed_on_two_workers
    assert killed.returncode == -9, killed.stderr
    shutil.copytree(kept / "runs/w", tmp_path / "runs/w", symlinks=True)
    shutil.copy2(kept / "trainings.log", log)
    with Journal.of(tmp_path / "runs/w", readonly=True) as journal:
        before = [e for e in journal.evaluations() if e.ok]
        running_at_kill = {t.uuid for t in journal.running()}
    # no --force: a placement key
    resumed = hpo_run(tmp_path, spec, "runs/w", "--set", f"launcher.workers={workers}")
    assert resumed.returncode == 0, resumed.stderr
    evaluations, _, _, integrity, running = recorded(tmp_path / "runs/w")
    assert integrity == "ok" and not running
    assert sorted(Counter(e.trial.birth_id for e in evaluations).items()) == [(b, 1) for b in range(32)]
    trainings = Counter(int(line) for line in log.read_text().split())
    assert before and all(trainings[e.trial.birth_id] == 1 for e in before), trainings
    assert {e.trial.uuid for e in before} <= {e.trial.uuid for e in evaluations}
    with Journal.of(tmp_path / "runs/w", readonly=True) as journal:
        assert {e.trial.uuid for e in journal.evaluations("interrupted")} <= running_at_kill


def _more_in_flight_than_members(path: Path, log: Path) -> Path:
    spec = write_spec(path, trainer=FILE.format(log=log, seconds=0.3), launcher=dask(4), births=12)
    spec.write_text(spec.read_text().replace("pop_size: 8,", "pop_size: 2, init_pop_size: 4,"))
    return spec


def test_more_in_flight_than_pop_size_sends_random_genomes_until_a_result_is_back(tmp_path):
    """Four in flight and a population of two: once generation 0's two genomes were sent,
    the next two were bred from an empty population (ValueError, exit 4, and again on
    resume).  They are random genomes of generation 0 now, as LEAP sends them."""
    spec = _more_in_flight_than_members(tmp_path / "spec.yaml", tmp_path / "log")
    done = hpo_run(tmp_path, spec, "runs/a")
    assert done.returncode == 0, done.stderr
    evaluations, population, _, integrity, running = recorded(tmp_path / "runs/a")
    assert integrity == "ok" and not running
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(12))
    first = [e for e in evaluations if e.trial.birth_id < 4]
    assert all(e.trial.generation == 0 and e.trial.sent_after == 0 for e in first)
    assert len({tuple(e.trial.genome) for e in first}) == 4
    assert all(e.trial.generation >= 1 for e in evaluations if e.trial.birth_id >= 4)
    assert len(population) == 2
    # --dry-run prints the four it sends first, not pop_size's two (helper-124)
    dry = hpo_run(tmp_path, spec, "runs/b", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in dry.stdout.splitlines()
            if line.startswith("│")]
    sent = [[format_value(v) for v in e.trial.params.values()] for e in sorted(first, key=lambda e: e.trial.birth_id)]
    assert [row[1:8] for row in rows] == sent, dry.stdout


@pytest.mark.slow
def test_killed_while_the_extra_random_genomes_train_it_resumes(tmp_path):
    log = tmp_path / "trainings.log"
    spec = _more_in_flight_than_members(tmp_path / "spec.yaml", log)
    killed = hpo_run(tmp_path, spec, "runs/r", kill=("evaluation_started", 3))
    assert killed.returncode == -9, killed.stderr
    resumed = hpo_run(tmp_path, spec, "runs/r")
    assert resumed.returncode == 0, resumed.stderr
    evaluations, _, _, integrity, running = recorded(tmp_path / "runs/r")
    assert integrity == "ok" and not running
    assert sorted(Counter(e.trial.birth_id for e in evaluations).items()) == [(b, 1) for b in range(12)]
