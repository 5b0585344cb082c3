"""The ``replicates`` optimizer: a finished search's front trained again with new seeds.

Real ``hpo-run`` and ``hpo-report`` console scripts, real local Dask, real journals: a
small ZDT1 search, then its front trained three times each; a driver SIGKILLed half-way
through the replicates and resumed; the source checks at start-up.

The finished searches and the killed replicates run are made once a module; each test
works on its own copy (a run, and a source, moved to another directory reads the same).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_testutil import kill_driver_when
from hpo_testutil import read_csv, run_cli, subprocess_env, write_spec, zdt_spec

from dnnp_hpo.journal import Journal

BIN = Path(sys.executable).parent


def _run_search(tmp_path: Path, callable_: str) -> tuple[Path, dict]:
    """A finished 2-generation ZDT1 search; returns its run directory and spec."""
    spec = zdt_spec(tmp_path / "search", pop_size=6, generations=1, workers=2, callable_=callable_)
    done = run_cli(BIN / "hpo-run", str(write_spec(tmp_path / "search.yaml", spec)), cwd=tmp_path,
                   HPO_TEST_SLEEP="0")  # slow_zdt1 need only be slow for the replicates run
    assert done.returncode == 0, done.stderr
    return tmp_path / "search", spec


Search = Callable[..., tuple[Path, dict]]
Killed = tuple[Path, dict]


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Search:
    """``searched(tmp_path, callable_=zdt1)``: a finished search of that trainer callable
    copied to tmp_path/search (run once a module); returns its run directory and spec."""
    made: dict[str, tuple[Path, dict]] = {}

    def search(tmp_path: Path, callable_: str = "dnnp_hpo.problems:zdt1") -> tuple[Path, dict]:
        if callable_ not in made:
            made[callable_] = _run_search(tmp_path_factory.mktemp("search"), callable_)
        source, spec = made[callable_]
        shutil.copytree(source, tmp_path / "search")
        return tmp_path / "search", {**spec, "run_dir": str(tmp_path / "search")}

    return search


def _front(run_dir: Path) -> list[tuple[float, ...]]:
    with Journal.of(run_dir, readonly=True) as journal:
        last = journal.population(journal.generations()[-1])
    return [m.evaluation.trial.genome for m in last if m.rank == 1 and m.evaluation.ok]


def _trained(journal_path: Path) -> int:
    """Trainings a live driver's journal records ok (0 while it cannot be read)."""
    try:
        with sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True) as db:
            return db.execute("select count(*) from evaluations where status = 'ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _replicates_spec(tmp_path: Path, spec: dict, name: str, **optimizer) -> Path:
    """The search's spec with the replicates block, its own run_dir and another seed."""
    replicates = {**spec, "run_dir": str(tmp_path / name), "seed": spec["seed"] + 1,
                  "optimizer": {"plugin": "replicates", "source": str(tmp_path / "search"), **optimizer}}
    return write_spec(tmp_path / f"{name}.yaml", replicates)


def _slow_replicates_spec(tmp_path: Path, spec: dict) -> Path:
    """The replicates (seeds: 3) of the slow_zdt1 search in tmp_path, on one worker."""
    return _replicates_spec(tmp_path, {**spec, "launcher": {"plugin": "dask", "workers": 1}}, "reps", seeds=3)


@pytest.fixture(scope="module")
def killed(searched: Search, tmp_path_factory) -> Killed:
    """A directory holding a finished slow_zdt1 search (search/) and its replicates run
    (reps/) SIGKILLed, with its Dask workers, once 2 of its trainings are recorded (made
    once a module: see _killed_copy), and the search's spec."""
    base = tmp_path_factory.mktemp("killed")
    _, spec = searched(base, "hpo_testfuncs:slow_zdt1")
    path = _slow_replicates_spec(base, spec)
    log_path = base / "driver.log"
    with open(log_path, "wb") as log:
        driver = subprocess.Popen([str(BIN / "hpo-run"), str(path)], cwd=base, env=subprocess_env(),
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    journal_path = base / "reps" / "journal.sqlite"
    deadline = time.monotonic() + 120
    while _trained(journal_path) < 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    running = driver.poll() is None
    with contextlib.suppress(ProcessLookupError):  # a driver that ended by itself: said below
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and its Dask workers
    driver.wait()
    assert running and _trained(journal_path) >= 2, log_path.read_text()  # killed mid-run, as meant
    return base, spec


def _killed_copy(killed: Killed, tmp_path: Path) -> tuple[Path, dict, Path]:
    """The killed replicates run and its source copied to tmp_path/reps and tmp_path/search;
    returns the search's run directory and spec, and the replicates' spec file."""
    base, spec = killed
    shutil.copytree(base / "search", tmp_path / "search")
    shutil.copytree(base / "reps", tmp_path / "reps")
    spec = {**spec, "run_dir": str(tmp_path / "search")}
    return tmp_path / "search", spec, _slow_replicates_spec(tmp_path, spec)


def test_the_front_is_trained_again_with_new_seeds_and_reported(searched: Search, tmp_path: Path) -> None:
    search, spec = searched(tmp_path)
    front = _front(search)
    assert front
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "reps", seeds=3)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # one generation, no snapshots: "(snapshot 0), 0 failed since the last snapshot" (helper-111)
    assert f"births {3 * len(front)} of {3 * len(front)}, 0 failed, elapsed" in done.stdout, done.stdout
    with Journal.of(tmp_path / "reps", readonly=True) as journal:
        evaluations = journal.evaluations()
    assert Counter(e.trial.genome for e in evaluations) == {genome: 3 for genome in front}
    with Journal.of(search, readonly=True) as journal:
        searched = {e.trial.seed for e in journal.evaluations()}
    seeds = {e.trial.seed for e in evaluations}
    assert len(seeds) == 3 * len(front) and not seeds & searched, "a new training seed each"
    assert all(e.status == "ok" for e in evaluations)
    # hpo-report: one row per front member, its three trainings (ZDT1 ignores the seed: no spread)
    report = run_cli(BIN / "hpo-report", str(tmp_path / "reps"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    rows = read_csv(tmp_path / "reps" / "report" / "repeated.csv")
    assert len(rows) == len(front) and all(r["trainings"] == "3" and r["failed"] == "0" for r in rows)
    assert all(float(r["sd f1"]) == pytest.approx(0.0, abs=1e-12) for r in rows)
    assert "Candidates trained more than once" in (tmp_path / "reps" / "report" / "summary.md").read_text()
    # the search itself trained each candidate once: the report says how to measure the spread
    run_cli(BIN / "hpo-report", str(search), cwd=tmp_path)
    assert "optimizer `replicates`" in (search / "report" / "summary.md").read_text()
    # The same run from another working directory, its source written relative to that one:
    # refused as a differing key, "search" as recorded, "../search" here (helper-111).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = {**spec, "run_dir": "../reps", "seed": spec["seed"] + 1,
             "optimizer": {"plugin": "replicates", "source": "../search", "seeds": 3}}
    shown = run_cli(BIN / "hpo-run", str(write_spec(elsewhere / "reps.yaml", moved)), cwd=elsewhere)
    assert shown.returncode == 0 and "is finished" in shown.stdout, shown.stderr


def test_a_replicates_run_of_one_seed_reported_alone_points_to_its_source(searched: Search,
                                                                          tmp_path: Path) -> None:
    """Reported alone, a replicates run of seeds: 1 has no candidate trained twice, and its
    summary advised training them again with optimizer replicates, which it is (helper-94);
    reported with its source, each candidate's two trainings are set side by side."""
    search, spec = searched(tmp_path)
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "once", seeds=1)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    alone = run_cli(BIN / "hpo-report", str(tmp_path / "once"), cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    summary = (tmp_path / "once" / "report" / "summary.md").read_text()
    assert "a `replicates` run of one seed" in summary and "hpo-report SOURCE_RUN_DIR THIS_RUN_DIR" in summary
    assert "optimizer `replicates`" not in summary, summary
    both = run_cli(BIN / "hpo-report", str(search), str(tmp_path / "once"), "--out", str(tmp_path / "both"),
                   cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    rows = read_csv(tmp_path / "both" / "repeated.csv")
    assert len(rows) == len(_front(search)) and all(r["trainings"] == "2" for r in rows)


def test_a_killed_replicates_run_resumes_without_training_anything_twice(killed: Killed, tmp_path: Path) -> None:
    search, _, path = _killed_copy(killed, tmp_path)
    expected = 3 * len(_front(search))
    journal_path = tmp_path / "reps" / "journal.sqlite"
    before = _trained(journal_path)
    assert 2 <= before < expected, before
    with Journal.of(tmp_path / "reps", readonly=True) as journal:
        kept = {e.trial.uuid for e in journal.evaluations() if e.status == "ok"}
    again = run_cli(BIN / "hpo-run", str(path), cwd=tmp_path, timeout=180, HPO_TEST_SLEEP="0")
    assert again.returncode == 0, again.stderr
    with Journal.of(tmp_path / "reps", readonly=True) as journal:
        ok = [e for e in journal.evaluations() if e.status == "ok"]
    assert len(ok) == expected and len({e.trial.birth_id for e in ok}) == expected
    assert kept <= {e.uuid for e in (e.trial for e in ok)}, "what finished before the kill is kept, not retrained"
    # Killed after its one generation was recorded, before the run was marked finished:
    # the resume trains nothing more.
    with sqlite3.connect(journal_path) as db:
        db.execute("delete from meta where key = 'finished'")
    again = run_cli(BIN / "hpo-run", str(path), cwd=tmp_path, timeout=180)
    assert again.returncode == 0, again.stderr
    with Journal.of(tmp_path / "reps", readonly=True) as journal:
        assert len(journal.evaluations()) == len(ok)


@pytest.mark.parametrize(("optimizer", "words"), [
    ({"source": "nowhere"}, "holds no journal.sqlite"),
    ({"seeds": 0}, "optimizer.seeds: seeds must be from 1 to 100"),
    ({"members": "best"}, "optimizer.members: members must be one of front, population"),
])
def test_a_source_that_cannot_give_members_is_one_line(searched: Search,
                                                       tmp_path: Path, optimizer: dict, words: str) -> None:
    _, spec = searched(tmp_path)
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "reps", **optimizer)), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "optimizer" in done.stderr and words in done.stderr
    assert not (tmp_path / "reps").exists()


def test_another_space_trainer_seed_or_its_own_run_dir_is_refused(searched: Search, tmp_path: Path) -> None:
    """Replicates must train what the search did, with new seeds (found by a review:
    another trainer's results passed for seed spread; the search's seed repeated some
    trainings exactly)."""
    search, spec = searched(tmp_path)
    wider = {**spec, "space": {**spec["space"], "x9": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1}}}
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, wider, "reps")), cwd=tmp_path)
    assert done.returncode == 2 and "optimizer.source" in done.stderr and "another space.x9" in done.stderr
    # A sigma only says how offspring are bred, and replicates breed none (helper-75: refused).
    resigma = {**spec, "space": {**spec["space"], "x0": {**spec["space"]["x0"], "sigma": 0.3}}}
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, resigma, "reps")), "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # The same parameters listed in another order: no key differs, and the source's
    # genomes decoded onto other parameters trained other candidates (helper-63's review).
    reordered = {**spec, "space": dict(reversed(list(spec["space"].items())))}
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, reordered, "reps")), cwd=tmp_path)
    names = list(spec["space"])
    assert done.returncode == 2 and ": space: " in done.stderr, done.stderr  # the key to edit
    assert (f"searched with the parameters in the order {', '.join(names)}, and this spec lists them as "
            f"{', '.join(reversed(names))}") in done.stderr
    assert not (tmp_path / "reps").exists()
    other = {**spec, "trainer": {"plugin": "function", "callable": "dnnp_hpo.problems:zdt2"}}
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, other, "reps")), cwd=tmp_path)
    assert done.returncode == 2 and "another trainer.callable" in done.stderr, done.stderr
    same_seed = write_spec(tmp_path / "same.yaml", {**spec, "run_dir": str(tmp_path / "reps"), "optimizer": {
        "plugin": "replicates", "source": str(search)}})
    done = run_cli(BIN / "hpo-run", str(same_seed), cwd=tmp_path)
    assert done.returncode == 2 and "repeat its training seeds" in done.stderr and "--set seed=8" in done.stderr
    assert ": seed: 7 is the seed of the search in optimizer.source" in done.stderr, done.stderr
    own = {**spec, "seed": 8, "run_dir": str(search), "optimizer": {"plugin": "replicates", "source": str(search)}}
    done = run_cli(BIN / "hpo-run", str(write_spec(tmp_path / "own.yaml", own)), cwd=tmp_path)
    assert done.returncode == 2 and ": run_dir: this run_dir is optimizer.source's" in done.stderr, done.stderr


def test_a_source_whose_genes_this_version_reads_otherwise_is_refused(searched: Search,
                                                                      tmp_path: Path) -> None:
    """A front member recorded as trained with other values than its gene gives now (a
    source from a dnnp-hpo that read genes otherwise: a choice gene on its upper bound,
    helper-78): its replicates trained the other candidate, and hpo-report showed both
    as one candidate's spread.  The source's record is edited to stand for that version."""
    search, spec = searched(tmp_path)
    genome = _front(search)[0]
    with sqlite3.connect(search / "journal.sqlite") as db:
        birth, params = db.execute("select birth_id, params from evaluations where genome = ? order by birth_id",
                                   (json.dumps(list(genome)),)).fetchone()
        recorded = {**json.loads(params), "x0": 0.5 if genome[0] != 0.5 else 0.25}
        db.execute("update evaluations set params = ? where birth_id = ?", (json.dumps(recorded), birth))
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "reps")), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"optimizer.source: {search}: birth {birth} trained x0 = {recorded['x0']}" in done.stderr, done.stderr
    assert not (tmp_path / "reps").exists()


def test_a_replicates_run_whose_source_ran_on_is_not_resumed(killed: Killed, tmp_path: Path) -> None:
    """Killed half-way, then its source extended (hpo-run --force, more generations): the
    resume set aside every training of the replicates run, finished ones too, and trained
    the source's new front in its place, without a word (helper-54)."""
    search, spec, path = _killed_copy(killed, tmp_path)
    journal_path = tmp_path / "reps" / "journal.sqlite"
    assert _trained(journal_path) >= 1
    front = _front(search)
    longer = write_spec(tmp_path / "longer.yaml", {**spec, "optimizer": {**spec["optimizer"], "generations": 4}})
    extended = run_cli(BIN / "hpo-run", str(longer), "--force", cwd=tmp_path, HPO_TEST_SLEEP="0")
    assert extended.returncode == 0 and "Extending" in extended.stdout, extended.stderr
    assert _front(search) != front  # else the test shows nothing
    before = journal_path.read_bytes()
    again = run_cli(BIN / "hpo-run", str(path), "--force", cwd=tmp_path, HPO_TEST_SLEEP="0")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "Traceback" not in again.stderr, again.stderr
    assert f"optimizer.source: {search} no longer gives the front members the run in {tmp_path / 'reps'} " \
           "replicates" in again.stderr, again.stderr
    assert journal_path.read_bytes() == before


def test_an_unfinished_source_is_said_with_the_generation_replicated(searched: Search,
                                                                     tmp_path: Path, wait_until) -> None:
    """A search stopped part-way was replicated without a word, its front of then taken for
    the search's (helper-75).  It still is (a search never resumed is a source as good as
    a finished one), with a warning naming the generation; a finished source has none."""
    _, spec = searched(tmp_path)
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "reps")), "--dry-run", cwd=tmp_path)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr

    stopped = {**spec, "run_dir": str(tmp_path / "stopped"), "trainer": {"plugin": "function",
               "callable": "hpo_testfuncs:slow_zdt1"}, "optimizer": {**spec["optimizer"], "generations": 5}}
    populations = tmp_path / "stopped" / "journal.sqlite"

    def one_generation_recorded() -> bool:
        try:
            with sqlite3.connect(f"file:{populations}?mode=ro", uri=True) as db:
                return db.execute("select count(distinct generation) from populations").fetchone()[0] >= 1
        except sqlite3.Error:
            return False

    kill_driver_when([str(BIN / "hpo-run"), str(write_spec(tmp_path / "stopped.yaml", stopped))], tmp_path,
                     subprocess_env(), one_generation_recorded, wait_until)
    with Journal.of(tmp_path / "stopped", readonly=True) as journal:
        generation = journal.generations()[-1]
        assert not journal.meta("finished")
    reps = {**stopped, "run_dir": str(tmp_path / "reps2"), "seed": spec["seed"] + 1,
            "optimizer": {"plugin": "replicates", "source": str(tmp_path / "stopped"), "seeds": 1}}
    done = run_cli(BIN / "hpo-run", str(write_spec(tmp_path / "reps2.yaml", reps)), cwd=tmp_path, HPO_TEST_SLEEP="0")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == [(f"hpo-run: warning: {tmp_path / 'reps2.yaml'}: optimizer.source: {tmp_path / 'stopped'} is "
                        f"not finished: its members are replicated as of its last recorded generation, "
                        f"{generation}")], done.stderr


@pytest.mark.parametrize("change", ["shrunk", "reordered", "grown"])
def test_a_source_whose_front_changed_is_named_not_seeds(killed: Killed, tmp_path: Path, change: str) -> None:
    """The source's front changed under a killed replicates run: one member fewer was
    refused as "optimizer.seeds: ... resume it with the seeds it was started with" (it
    was), and the same members in another order, or one more, were taken without a word
    (helper-111, helper-112).  The source's last population is edited to stand for a
    search resumed since."""
    search, _, path = _killed_copy(killed, tmp_path)
    journal_path = tmp_path / "reps" / "journal.sqlite"
    assert _trained(journal_path) >= 1
    with sqlite3.connect(search / "journal.sqlite") as db:
        last = db.execute("select max(generation) from populations").fetchone()[0]
        front = db.execute("select position from populations where generation = ? and rank = 1 order by position",
                           (last,)).fetchall()
        assert len(front) >= 2, "a front of one shows nothing"
        if change == "shrunk":
            db.execute("update populations set rank = 2 where generation = ? and position = ?", (last, front[-1][0]))
        elif change == "grown":  # the last member not on the front joins it
            joined = db.execute("update populations set rank = 1 where generation = ? and position = (select "
                                "max(position) from populations where generation = ? and rank > 1)", (last, last))
            assert joined.rowcount == 1, "a population all on the front shows nothing"
        else:  # the first two front members swap places
            (a,), (b,) = front[:2]
            for old, new in ((a, -1), (b, a), (-1, b)):
                db.execute("update populations set position = ? where generation = ? and position = ?",
                           (new, last, old))
    before = journal_path.read_bytes()
    again = run_cli(BIN / "hpo-run", str(path), cwd=tmp_path, HPO_TEST_SLEEP="0")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "Traceback" not in again.stderr, again.stderr
    now = {"shrunk": len(front) - 1, "grown": len(front) + 1}.get(change)
    said = "in another order" if change == "reordered" else f"{now} of them now, where it sent out {len(front)}"
    assert (f"optimizer.source: {search} no longer gives the front members the run in {tmp_path / 'reps'} "
            f"replicates ({said}: the source has run on since") in again.stderr, again.stderr
    assert journal_path.read_bytes() == before


def test_a_source_given_as_its_journal_is_pointed_to_its_run_directory(searched: Search,
                                                                       tmp_path: Path) -> None:
    """source: runs/x/journal.sqlite said ".../journal.sqlite holds no journal.sqlite" (helper-111)."""
    search, spec = searched(tmp_path)
    path = _replicates_spec(tmp_path, spec, "reps")
    written = path.read_text().replace(str(search), str(search / "journal.sqlite"))
    path.write_text(written)
    done = run_cli(BIN / "hpo-run", str(path), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert (f"optimizer.source: {search / 'journal.sqlite'} is a run's journal: give the run directory that holds "
            f"it, {search}") in done.stderr, done.stderr


def test_a_training_the_source_already_made_is_not_made_again(searched: Search, tmp_path: Path) -> None:
    """The spec's seed alone decided: a source resumed with --force and another seed had
    trained its first births with the seed it was started with, and a replicates run with
    that seed repeated those trainings exactly (helper-112).  The source's record is
    edited to stand for that: its first front member trained with the training seed the
    replicates' birth 0 gets."""
    from dnnp_hpo.study import training_seed

    search, spec = searched(tmp_path)
    genome = _front(search)[0]
    repeated = training_seed(spec["seed"] + 1, 0)
    with sqlite3.connect(search / "journal.sqlite") as db:
        db.execute("update evaluations set seed = ? where genome = ?", (repeated, json.dumps(list(genome))))
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "reps")), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert (f": seed: with seed {spec['seed'] + 1}, birth 0 of the replicates would train one of the members with the "
            f"training seed {repeated}, with which optimizer.source trained it already") in done.stderr, done.stderr
    # the search's seed written quoted is the search's seed all the same
    quoted = {**spec, "seed": str(spec["seed"])}
    searched = run_cli(BIN / "hpo-run", str(write_spec(tmp_path / "q.yaml", {**quoted, "run_dir": str(tmp_path / "q")})),
                       cwd=tmp_path, HPO_TEST_SLEEP="0")
    assert searched.returncode == 0, searched.stderr
    same = write_spec(tmp_path / "same.yaml", {**spec, "run_dir": str(tmp_path / "r2"), "optimizer": {
        "plugin": "replicates", "source": str(tmp_path / "q")}})
    done = run_cli(BIN / "hpo-run", str(same), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and "is the seed of the search in optimizer.source" in done.stderr, done.stderr


def test_a_damaged_row_of_the_source_is_one_line(searched: Search, tmp_path: Path) -> None:
    """A source row whose genome does not read: the check of the source's trainings raised
    JSONDecodeError, an internal error, where the source's other reads say which journal
    is damaged (helper-114)."""
    search, spec = searched(tmp_path)
    with sqlite3.connect(search / "journal.sqlite") as db:
        last = db.execute("select max(generation) from populations").fetchone()[0]
        outside = db.execute("select uuid from evaluations where uuid not in (select uuid from populations where "
                             "generation = ?) limit 1", (last,)).fetchone()[0]
        db.execute("update evaluations set genome = '[0.1, 0.2' where uuid = ?", (outside,))
    done = run_cli(BIN / "hpo-run", str(_replicates_spec(tmp_path, spec, "reps")), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"optimizer.source: {search / 'journal.sqlite'}: damaged journal: an evaluation's genome or seed" \
        in done.stderr, done.stderr
