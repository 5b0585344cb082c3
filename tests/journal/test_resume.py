"""SIGKILL the driver at chosen moments, resume, and compare with an uninterrupted run."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import pytest

from dnnp_hpo.journal import Journal

HERE = Path(__file__).parent
# The trainings log is relative: the Dask workers write it in the run's working directory
# (each test's tmp_path), so a copy of a run resumes there with the same spec and logs
# its trainings beside it.
LOG = "trainings.log"
RUN = "runs/r"
SPEC = """
name: resume
seed: 7
space:
{space}
constraints: ["x0 <= 0.97"]
objectives: [{{name: f1}}, {{name: f2}}]
trainer: {{plugin: file, log: {log}}}
optimizer: {{plugin: nsga2, pop_size: 8, generations: 3}}
launcher: {{plugin: dask, workers: 2}}
"""


def write_spec(tmp_path: Path) -> Path:
    space = "\n".join(f"  x{i}: {{type: float, init: [0.0, 1.0], sigma: 0.1}}" for i in range(7))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(space=space, log=LOG))
    return spec


def hpo_run(tmp_path: Path, spec: Path, run_dir: str, event: str = "none", n: int = 0,
            *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, str(HERE / "resumable.py"), event, str(n), str(spec),
         "--set", f"run_dir={run_dir}", *extra],
        cwd=tmp_path, env=env, check=False, capture_output=True, text=True, timeout=300,
    )


def final_population(run_dir: Path) -> list[tuple]:
    with Journal.of(run_dir, readonly=True) as journal:
        last = journal.generations()[-1]
        return [(m.evaluation.trial.genome, m.evaluation.fitness, m.rank) for m in journal.population(last)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: the population every resumed run must end with."""
    tmp = tmp_path_factory.mktemp("reference")
    spec = write_spec(tmp)
    done = hpo_run(tmp, spec, "runs/ref")
    assert done.returncode == 0, done.stderr
    return final_population(tmp / "runs/ref")


@pytest.fixture(scope="module")
def first_session(tmp_path_factory):
    """``first_session(where, event, n, *extra)``: the default spec run as ``hpo_run(where,
    spec, RUN, event, n, *extra)`` (SIGKILLed at the n-th event, or to its end with event
    "none"), its CompletedProcess returned.  Each such session runs once per module: its
    run directory and trainings log, copied as the session left them, are put in
    ``where`` (as RUN and LOG, beside the spec) for each test to resume or refuse."""
    made: dict[tuple, tuple[Path, subprocess.CompletedProcess]] = {}

    def first(where: Path, event: str, n: int, *extra: str) -> subprocess.CompletedProcess:
        key = (event, n, *extra)
        if key not in made:
            tmp = tmp_path_factory.mktemp("first")
            done = hpo_run(tmp, write_spec(tmp), RUN, event, n, *extra)
            # copied at once: the workers of a SIGKILLed driver may write on into the original
            kept = tmp / "kept"
            shutil.copytree(tmp / RUN, kept / RUN, symlinks=True)
            if (tmp / LOG).exists():
                shutil.copy2(tmp / LOG, kept / LOG)
            made[key] = kept, done
        kept, done = made[key]
        where.mkdir(parents=True, exist_ok=True)
        write_spec(where)
        shutil.copytree(kept / RUN, where / RUN, symlinks=True)
        if (kept / LOG).exists():
            shutil.copy2(kept / LOG, where / LOG)
        return done

    return first


# Kill points: mid generation 0, after an evaluation finished but before the journal
# recorded it, right after sending work out, and while a generation's survivors are
# being recorded.
KILLS = [
    ("evaluation_finished", 3),
    ("evaluation_finished", 13),
    ("evaluation_started", 20),
    ("generation_finished", 2),
]


@pytest.mark.slow
@pytest.mark.parametrize(("event", "n"), KILLS)
def test_sigkill_and_resume_gives_the_uninterrupted_result(tmp_path, reference, first_session, event, n):
    log = tmp_path / LOG
    spec = write_spec(tmp_path)
    killed = first_session(tmp_path, event, n)
    assert killed.returncode == -9, killed.stderr
    run_dir = tmp_path / RUN
    with Journal.of(run_dir, readonly=True) as journal:
        recorded_before = {e.trial.birth_id for e in journal.evaluations()}

    resumed = hpo_run(tmp_path, spec, RUN)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming" in resumed.stdout
    assert final_population(run_dir) == reference

    with Journal.of(run_dir, readonly=True) as journal:
        assert journal.integrity() == "ok"
        evaluations = journal.evaluations()
        births = Counter(e.trial.birth_id for e in evaluations)
        # one finished record per birth: nothing lost, nothing recorded twice
        assert sorted(births) == list(range(8 * 4)) and set(births.values()) == {1}
        assert not journal.running()
    trainings = Counter(int(line) for line in log.read_text().split())
    # a training recorded before the kill is never run again
    assert all(trainings[b] == 1 for b in recorded_before if b in trainings)
    # the CSV exports agree with the journal after the resume
    with open(run_dir / "individuals.csv") as handle:
        assert sorted(int(r["birth_id"]) for r in csv.DictReader(handle)) == sorted(births)


@pytest.mark.slow
def test_an_evaluation_finished_on_disk_is_harvested_not_retrained(tmp_path, reference, first_session):
    log = tmp_path / LOG
    spec = write_spec(tmp_path)
    # Killed after the 3rd evaluation finished, before the journal heard of it.
    killed = first_session(tmp_path, "evaluation_finished", 3)
    assert killed.returncode == -9
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        in_flight = journal.running()
    finished_on_disk = [t for t in in_flight if (t.workdir / "result.json").exists()]
    assert finished_on_disk, "the kill should leave at least one finished, unrecorded training"

    assert hpo_run(tmp_path, spec, RUN).returncode == 0
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        by_uuid = {e.trial.uuid: e for e in journal.evaluations()}
    trainings = Counter(int(line) for line in log.read_text().split())
    for trial in finished_on_disk:
        record = by_uuid[trial.uuid]  # recorded under its original uuid and directory
        assert record.status == "ok" and "harvested" in record.reason
        assert trainings[trial.birth_id] == 1
    assert final_population(tmp_path / RUN) == reference


def test_progress_after_a_resume_counts_the_runs_evaluations(tmp_path, first_session):
    """The progress lines of a resumed run count every evaluation of the run, those the
    journal held at the resume included, not this session's alone."""
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "generation_finished", 2).returncode == -9
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        held = len(journal.evaluations())
    assert held >= 16  # generations 0 and 1 at least (8 each)
    resumed = hpo_run(tmp_path, spec, RUN)
    assert resumed.returncode == 0, resumed.stderr
    done = [line for line in resumed.stdout.splitlines() if " done: " in line]
    assert done, resumed.stdout
    assert done[-1].startswith("generation 3 of 3 done: 32/32 evaluations"), done
    counts = [int(line.split(" done: ")[1].split("/")[0]) for line in done]
    assert counts[0] >= held and counts == sorted(counts), done  # this session alone: 0 or 8 first


def test_a_generation_resumed_halfway_counts_the_failures_recorded_before(tmp_path):
    """Killed halfway through generation 1, the resumed run's line for it said "0 failed in
    this generation" where the first session had counted its failures (a plugin author's
    walk): each generation's line counts all its evaluations' failures, the journal's too."""
    spec = write_spec(tmp_path)
    half = ("--set", "constraints=[x0 <= 0.5]")  # about half of each generation infeasible
    assert hpo_run(tmp_path, spec, "runs/h", "evaluation_finished", 14, *half).returncode == -9
    with Journal.of(tmp_path / "runs/h", readonly=True) as journal:
        before = Counter(e.trial.generation for e in journal.evaluations() if not e.ok)
        resumed_at = len(journal.generations())
    assert before[resumed_at] > 0, "no failure in the generation resumed: the test shows nothing"
    resumed = hpo_run(tmp_path, spec, "runs/h", "none", 0, *half)
    assert resumed.returncode == 0, resumed.stderr
    lines = re.findall(r"^generation (\d) of 3 done: \d+/32 evaluations, (\d+) failed in this generation",
                       resumed.stdout, re.MULTILINE)
    with Journal.of(tmp_path / "runs/h", readonly=True) as journal:
        failed = Counter(e.trial.generation for e in journal.evaluations() if not e.ok)
    assert [int(g) for g, _ in lines] == list(range(resumed_at, 4)), resumed.stdout
    assert [int(n) for _, n in lines] == [failed[g] for g in range(resumed_at, 4)], resumed.stdout


def test_records_set_aside_by_a_forced_resume_leave_their_generation_s_count(tmp_path):
    """Resumed with --force and the paper's operators, generation 1's records no longer
    match the births bred now: they are set aside and trained again.  Their failures
    were counted as well as the new ones ("11 failed in this generation" of 8: a review)."""
    spec = write_spec(tmp_path)
    rare = ("--set", "constraints=[x0 <= 0.2]")  # most candidates infeasible
    assert hpo_run(tmp_path, spec, "runs/r", "evaluation_finished", 15, *rare).returncode == -9
    resumed = hpo_run(tmp_path, spec, "runs/r", "none", 0, *rare, "--set", "optimizer.variation=paper", "--force")
    assert resumed.returncode == 0, resumed.stderr
    with Journal.of(tmp_path / "runs/r", readonly=True) as journal, journal.transaction() as db:
        set_aside = db.execute("SELECT COUNT(*) FROM evaluations WHERE status = 'interrupted'").fetchone()[0]
        failed = Counter(e.trial.generation for e in journal.evaluations() if not e.ok)
    assert set_aside > 0, "nothing was set aside: the test shows nothing"
    lines = re.findall(r"^generation (\d) of 3 done: (\d+)/32 evaluations, (\d+) failed in this generation",
                       resumed.stdout, re.MULTILINE)
    assert [(int(g), int(n)) for g, _, n in lines] == [(g, failed[g]) for g in range(1, 4)], resumed.stdout
    assert [int(done) for _, done, _ in lines] == [16, 24, 32], resumed.stdout


def test_a_resumed_run_with_earlier_successes_is_not_said_to_have_none(tmp_path):
    """The 'no evaluation has succeeded yet' warning counts the journal's successes too:
    here every candidate after the resume breaks a new constraint, while generation 0
    had succeeded before it."""
    spec = write_spec(tmp_path)
    assert hpo_run(tmp_path, spec, "runs/w", "generation_finished", 1).returncode == -9
    resumed = hpo_run(tmp_path, spec, "runs/w", "none", 0, "--set", "constraints=[x0 == 0.123456789]", "--force")
    assert resumed.returncode == 0, resumed.stderr  # generation 0's successes survive
    with Journal.of(tmp_path / "runs/w", readonly=True) as journal:
        statuses = Counter(e.status for e in journal.evaluations())
    assert statuses["ok"] >= 8 and statuses["infeasible"] >= 8, statuses
    assert "no evaluation has succeeded" not in resumed.stderr, resumed.stderr


def test_a_resumed_run_without_any_success_is_warned_again(tmp_path):
    """...and a resumed run where nothing has succeeded, before or since, is warned after
    its first generation, as at the start, not only at its end."""
    spec = write_spec(tmp_path)
    first = hpo_run(tmp_path, spec, "runs/f", "generation_finished", 2, "--set", "constraints=[x0 == 0.123456789]")
    assert first.returncode == -9 and "no evaluation has succeeded yet" in first.stderr, first.stderr
    resumed = hpo_run(tmp_path, spec, "runs/f", "none", 0, "--set", "constraints=[x0 == 0.123456789]")
    assert resumed.returncode == 1, resumed.stderr
    warnings = [line for line in resumed.stderr.splitlines() if "no evaluation has succeeded yet" in line]
    assert len(warnings) == 1 and "infeasible: violates x0 == 0.123456789" in warnings[0], resumed.stderr


def test_progress_counts_a_birth_trained_again_once(tmp_path, first_session):
    """Resumed with --force and other operators, the search breeds births the journal
    held differently: their records are set aside and they are trained again, each
    counted once (births, not events), so the count ends at the plan."""
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "evaluation_finished", 13).returncode == -9
    resumed = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.variation=paper", "--force")
    assert resumed.returncode == 0, resumed.stderr
    with Journal.of(tmp_path / RUN, readonly=True) as journal, journal.transaction() as db:
        set_aside = db.execute("SELECT COUNT(*) FROM evaluations WHERE status = 'interrupted'").fetchone()[0]
    assert set_aside > 0, "nothing was trained again: the test did not test anything"
    done = [line for line in resumed.stdout.splitlines() if " done: " in line]
    assert done[-1].startswith("generation 3 of 3 done: 32/32 evaluations"), done


def test_a_changed_spec_is_refused_naming_the_keys(tmp_path, first_session):
    spec = write_spec(tmp_path)
    first = first_session(tmp_path, "generation_finished", 2)
    assert first.returncode == -9, first.stderr  # not finished: --force would continue it
    before = (tmp_path / RUN / "journal.sqlite").read_bytes()
    changed = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "seed=8")
    assert changed.returncode == 2
    assert changed.stderr.count("\n") == 1 and "Traceback" not in changed.stderr
    assert "seed" in changed.stderr and "--force" in changed.stderr
    assert (tmp_path / RUN / "journal.sqlite").read_bytes() == before


def test_a_run_resumes_on_another_launcher_and_in_a_moved_directory(tmp_path, reference, first_session):
    """Where a run executes is not what it searches: a run killed on two workers, its
    directory moved, resumes without --force on one worker (run_dir and launcher.workers
    differ from its start) and ends with the uninterrupted run's population."""
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "evaluation_finished", 13).returncode == -9
    shutil.move(tmp_path / RUN, tmp_path / "moved")
    resumed = hpo_run(tmp_path, spec, "moved", "none", 0, "--set", "launcher.workers=1")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming the run in" in resumed.stdout
    assert "where it runs changed (launcher.workers, run_dir), not what it searches" in resumed.stdout
    assert final_population(tmp_path / "moved") == reference
    with Journal.of(tmp_path / "moved", readonly=True) as journal:
        assert journal.meta("spec")["launcher"] == {"plugin": "dask", "workers": 2}  # as it started
    # finished now: on yet another launcher it shows its front; a changed seed beside it
    # is refused, naming the seed alone
    shown = hpo_run(tmp_path, spec, "moved", "none", 0, "--set", "launcher.workers=3")
    assert shown.returncode == 0 and "is finished" in shown.stdout, shown.stderr
    refused = hpo_run(tmp_path, spec, "moved", "none", 0, "--set", "launcher.workers=3", "--set", "seed=9")
    assert refused.returncode == 2
    assert "the keys that differ (seed: 7 as recorded, 9 here) would not be used" in refused.stderr


def test_a_finished_run_is_shown_not_continued(tmp_path, first_session):
    """Run again, a finished run shows its final population and says it is finished (not
    "Resuming").  A changed spec is refused in one line, nothing written: a larger budget
    without --force (which it suggests), and anything else even with --force, since
    nothing would be run with the new values."""
    spec = write_spec(tmp_path)
    first = first_session(tmp_path, "none", 0, "--set", "optimizer.generations=1")
    assert first.returncode == 0, first.stderr

    again = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1")
    assert again.returncode == 0, again.stderr
    assert "is finished; the front of its final population" in again.stdout and "Resuming" not in again.stdout
    assert "Pareto front" in again.stdout
    # its dry run says no launcher would start: the run is only read (helper-98)
    dry = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1", "--dry-run")
    assert dry.returncode == 0 and "it would only print its front" in dry.stdout, dry.stderr
    assert "Launcher:" not in dry.stdout, dry.stdout

    before = (tmp_path / RUN / "journal.sqlite").read_bytes()
    for edit, force, how in [
        ("optimizer.generations=4", (), "pass --force to extend it with the larger budget"),
        ("optimizer.pop_size=9", ("--force",), "a finished run is only extended by a larger budget"),
        ("optimizer.generations=0", (), "give the recorded values to print its front"),
    ]:
        refused = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1", "--set", edit,
                          *force)
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        key, value = edit.split("=")
        ran = {"optimizer.generations": 1, "optimizer.pop_size": 8}[key]
        assert f"finished run: the keys that differ ({key}: {ran} as recorded, {value} here) would not be used; " \
            in refused.stderr and how in refused.stderr, refused.stderr
        assert (tmp_path / RUN / "journal.sqlite").read_bytes() == before


@pytest.mark.slow
def test_a_finished_run_extended_with_more_generations_gives_the_longer_run(tmp_path, reference, first_session):
    """hpo-run --force with generations raised takes a finished run up again: its last
    generation is the checkpoint, so the run ends as one started with the larger budget.
    Killed in the extension, it resumes as any interrupted run, of the spec it was
    extended with (the same command again was refused: "would not be used"); nothing
    trains twice."""
    log = tmp_path / LOG
    spec = write_spec(tmp_path)
    short = first_session(tmp_path, "none", 0, "--set", "optimizer.generations=1")
    assert short.returncode == 0, short.stderr
    trained_before = Counter(int(line) for line in log.read_text().split())
    journal_before = (tmp_path / RUN / "journal.sqlite").read_bytes()
    dry = hpo_run(tmp_path, spec, RUN, "none", 0, "--force", "--dry-run")
    assert dry.returncode == 0 and "the finished run there would be extended (16 evaluations recorded, which are " \
        "not trained again)" in dry.stdout, dry.stderr
    assert "Generation 0 (decoded)" in dry.stdout  # not "not evaluated" (helper-100)
    assert (tmp_path / RUN / "journal.sqlite").read_bytes() == journal_before

    killed = hpo_run(tmp_path, spec, RUN, "evaluation_finished", 5, "--force")
    assert killed.returncode == -9, killed.stderr
    assert "Extending the finished run in" in killed.stdout
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        assert not journal.meta("finished", False)  # an interrupted run now
        assert journal.generations()[-1] == 1 and any(e.trial.generation == 2 for e in journal.evaluations())
        recorded = len(journal.evaluations(recorded=True))
    dry = hpo_run(tmp_path, spec, RUN, "none", 0, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"the run would resume there ({recorded} evaluations recorded, which are not trained again)" in dry.stdout

    # the journal records the spec as extended: no --force to resume it, nor to show it
    again = hpo_run(tmp_path, spec, RUN)
    assert again.returncode == 0, again.stderr
    assert "Resuming the run in" in again.stdout
    shown = hpo_run(tmp_path, spec, RUN)
    assert shown.returncode == 0 and "is finished; the front of its final population" in shown.stdout, shown.stderr
    short_again = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1")
    assert short_again.returncode == 2, short_again.stderr
    assert "(optimizer.generations: 3 as recorded, 1 here) would not be used" in short_again.stderr  # the values to give
    assert final_population(tmp_path / RUN) == reference
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        assert journal.meta("finished", False)
        births = Counter(e.trial.birth_id for e in journal.evaluations())
        assert sorted(births) == list(range(8 * 4)) and set(births.values()) == {1}
    trainings = Counter(int(line) for line in log.read_text().split())
    assert all(trainings[b] == 1 for b in trained_before), trainings
    with open(tmp_path / RUN / "pop.csv") as handle:
        assert Counter(int(r["pop_generation"]) for r in csv.DictReader(handle)) == {g: 8 for g in range(4)}


def test_a_default_filled_in_differently_is_refused_unless_forced(tmp_path, first_session):
    """The journal of a dnnp-hpo whose nsga2 filled in another variation (sbx-tuned was the
    default before sbx-steady): the same spec resumed here would switch operators half-way."""
    spec = write_spec(tmp_path)
    killed = first_session(tmp_path, "generation_finished", 2)
    assert killed.returncode == -9, killed.stderr
    with Journal.of(tmp_path / RUN) as journal:
        resolved = journal.meta("resolved")
        assert resolved["optimizer"]["variation"] == "sbx-steady"  # what this version fills in
        assert resolved["trainer"]["seconds"] == 0.05  # the trainer's defaults are recorded too
        older = {**resolved["optimizer"], "variation": "sbx-tuned"}
        # and a trainer plugin that has a setting more since (a review read "None then")
        plugin_before = {k: v for k, v in resolved["trainer"].items() if k != "seconds"}
        journal.set_meta("resolved", {**resolved, "optimizer": older, "trainer": plugin_before})
        assert journal.meta("versions") == {"dnnp-hpo": version("dnnp-hpo")}
        journal.set_meta("versions", {"dnnp-hpo": "0.0.9"})  # as an older dnnp-hpo records itself
    before = (tmp_path / RUN / "journal.sqlite").read_bytes()

    refused = hpo_run(tmp_path, spec, RUN)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "optimizer.variation: 'sbx-tuned' then, 'sbx-steady' now" in refused.stderr, refused.stderr
    assert "trainer.seconds: not there then, 0.05 now" in refused.stderr, refused.stderr
    # naming the versions the run recorded (the file trainer is no installed distribution's)
    assert "resume it with those versions (dnnp-hpo 0.0.9), or" in refused.stderr, refused.stderr
    assert "--force" in refused.stderr
    assert (tmp_path / RUN / "journal.sqlite").read_bytes() == before

    forced = hpo_run(tmp_path, spec, RUN, "none", 0, "--force")
    assert forced.returncode == 0, forced.stderr
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        assert journal.meta("finished") and journal.generations()[-1] == 3
    # finished, it only prints its front: no refusal
    again = hpo_run(tmp_path, spec, RUN)
    assert again.returncode == 0 and "Pareto front" in again.stdout, again.stderr


def test_a_key_written_out_or_left_to_the_same_default_is_no_difference(tmp_path, first_session):
    """The shipped configs dropped sigma_decay: 0.85, nsga2's default: a run started with it
    written out was refused resuming without it ("optimizer.sigma_decay: 0.85 as recorded,
    not set here").  The same search is resumed; another value is still a difference, and
    so is the key in a journal that recorded no filled-in settings."""
    spec = write_spec(tmp_path)
    written = ("--set", "optimizer.sigma_decay=0.85")
    assert hpo_run(tmp_path, spec, "runs/s", "generation_finished", 2, *written).returncode == -9
    other = hpo_run(tmp_path, spec, "runs/s", "none", 0, "--set", "optimizer.sigma_decay=0.5")
    assert other.returncode == 2 and "optimizer.sigma_decay" in other.stderr, other.stderr
    resumed = hpo_run(tmp_path, spec, "runs/s")
    assert resumed.returncode == 0, resumed.stderr
    assert "generation 3 of 3 done: 32/32 evaluations" in resumed.stdout, resumed.stdout
    # the other way round: left out then, written out now
    left_out = tmp_path / "left_out"
    assert first_session(left_out, "generation_finished", 2).returncode == -9
    assert hpo_run(left_out, left_out / "spec.yaml", RUN, "none", 0, *written).returncode == 0
    # no filled-in settings recorded: the key written out is a difference
    unresolved = tmp_path / "unresolved"
    assert first_session(unresolved, "generation_finished", 2).returncode == -9
    with Journal.of(unresolved / RUN) as journal, journal.transaction() as db:
        db.execute("DELETE FROM meta WHERE key = 'resolved'")
    unknown = hpo_run(unresolved, unresolved / "spec.yaml", RUN, "none", 0, *written)
    assert unknown.returncode == 2 and "optimizer.sigma_decay" in unknown.stderr, unknown.stderr


def test_a_journal_from_before_settings_were_recorded_resumes(tmp_path, first_session):
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "generation_finished", 2).returncode == -9
    with Journal.of(tmp_path / RUN) as journal, journal.transaction() as db:
        db.execute("DELETE FROM meta WHERE key = 'resolved'")
    resumed = hpo_run(tmp_path, spec, RUN)
    assert resumed.returncode == 0, resumed.stderr


def test_resume_without_a_journal_is_refused(tmp_path):
    spec = write_spec(tmp_path)
    result = hpo_run(tmp_path, spec, "runs/none", "none", 0, "--resume")
    assert result.returncode == 2 and "journal.sqlite" in result.stderr
    assert not (tmp_path / "runs/none").exists()


def test_a_finished_run_is_not_run_again(tmp_path, first_session):
    log = tmp_path / LOG
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "none", 0, "--set", "optimizer.generations=1").returncode == 0
    trained = log.read_text()
    again = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1")
    assert again.returncode == 0 and "Pareto front" in again.stdout
    assert log.read_text() == trained


def test_other_objectives_are_refused_even_with_force(tmp_path, first_session):
    """The journal's fitnesses and checkpointed ranks are of the objectives the run started
    with: objectives reordered, added or renamed cannot be continued, --force or not."""
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "generation_finished", 2).returncode == -9
    before = (tmp_path / RUN / "journal.sqlite").read_bytes()
    for change in ("objectives=[{name: f2}, {name: f1}]", "objectives=[{name: f1}, {name: f2}, {name: f3}]"):
        refused = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", change, "--force")
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert "holds a run of the objectives f1, f2, which cannot be continued with" in refused.stderr
        assert ".yaml: objectives: " in refused.stderr  # the key at fault, not run_dir (helper-82)
        assert (tmp_path / RUN / "journal.sqlite").read_bytes() == before
    # a unit is not an objective: with --force it goes on
    unit = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "objectives.0.unit=eV", "--force")
    assert unit.returncode == 0, unit.stderr


def test_a_run_finished_short_of_the_spec_budget_is_extended_to_it(tmp_path, first_session):
    """A --force session that lowered generations finishes the run there.  The journal
    kept the spec it started with: that spec, with --force, only printed the short run's
    front, without --force presented it as the finished run (helper-69), and then no spec
    printed its front: the lowered one was refused as differing from the recorded one,
    whose refusal said to give the recorded values (helper-111).  Now the forced session
    records the spec it ran with: its command prints the front, the started spec is
    refused without --force and extends the run with it."""
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "generation_finished", 2).returncode == -9
    lowered = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1", "--force")
    assert lowered.returncode == 0, lowered.stderr
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        assert journal.generations()[-1] == 1 and journal.meta("finished")
        assert journal.meta("spec")["optimizer"]["generations"] == 1

    again = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1")
    assert again.returncode == 0, again.stderr
    assert "is finished" in again.stdout, again.stdout
    plain = hpo_run(tmp_path, spec, RUN)
    assert plain.returncode == 2, plain.stdout
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr, plain.stderr
    assert "optimizer.generations: 1 as recorded, 3 here" in plain.stderr, plain.stderr
    assert "pass --force to extend it with the larger budget" in plain.stderr

    extended = hpo_run(tmp_path, spec, RUN, "none", 0, "--force")
    assert extended.returncode == 0, extended.stderr
    assert "Extending the finished run" in extended.stdout, extended.stdout
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        assert journal.generations()[-1] == 3 and not journal.running()


def test_individuals_csv_loses_the_rows_a_forced_resume_sets_aside(tmp_path, first_session):
    """A --force resume with another seed breeds generation 0 anew: the recorded births'
    journal rows become 'interrupted', yet individuals.csv kept them beside their
    retrainings, 'one row per finished evaluation' no longer (helper-69)."""
    spec = write_spec(tmp_path)
    assert first_session(tmp_path, "evaluation_finished", 3).returncode == -9
    done = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "seed=8", "--force",
                   "--set", "optimizer.generations=1")
    assert done.returncode == 0, done.stderr
    with Journal.of(tmp_path / RUN, readonly=True) as journal:
        recorded = sorted(e.trial.uuid for e in journal.evaluations())
        assert journal.evaluations("interrupted"), "the seed change set nothing aside"
    with open(tmp_path / RUN / "individuals.csv", newline="") as handle:
        rows = sorted(row["uuid"] for row in csv.DictReader(handle))
    assert rows == recorded


def test_run_files_beside_a_journal_without_records_are_not_started_over(tmp_path, first_session):
    """A run directory whose journal.sqlite reads empty (copied without its -wal, or that
    removed) but which holds a run's files was taken for a run whose driver died creating
    its journal: a fresh start, over the old run's CSVs and spec.yaml (helper-69)."""
    spec = write_spec(tmp_path)
    run_dir = tmp_path / RUN
    assert first_session(tmp_path, "none", 0, "--set", "optimizer.generations=1").returncode == 0
    (run_dir / "journal.sqlite").write_bytes(b"")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    for extra in ((), ("--dry-run",)):
        refused = hpo_run(tmp_path, spec, RUN, "none", 0, "--set", "optimizer.generations=1", *extra)
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "holds a run's spec.yaml and evals but its journal.sqlite records nothing" \
            in refused.stderr, refused.stderr
        assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
