"""What ``--force`` cannot do on resume: change the optimizer or the parameters, or lower
the budget below what the run has already sent out; and what it can: change pop_size.

Each test stops a real ``hpo-run`` (local Dask, the analytic ``function`` trainer, half a
second a training) by SIGKILL half-way, as a batch job's end would, then resumes it.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cli_testutil import kill_driver_when
from hpo_testutil import run_cli, subprocess_env, write_spec, zdt_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.journal import Journal
from dnnp_hpo.registry import load_registry
from dnnp_hpo.resume import check_run_dir

SLOW = "hpo_testfuncs:slow_zdt1"
ASYNC = {"plugin": "nsga2-async", "pop_size": 4, "max_births": 40}


def _count(run_dir: Path, query: str) -> int:
    """One number from the journal a live driver writes (0 while it cannot be read)."""
    try:
        with sqlite3.connect(f"file:{run_dir / 'journal.sqlite'}?mode=ro", uri=True) as db:
            return db.execute(query).fetchone()[0] or 0
    except sqlite3.Error:
        return 0


def _stopped(tmp: Path, hpo_run_exe: Path, wait_until, until: str, **spec: Any) -> tuple[dict, Path]:
    """A run of zdt_spec(**spec) in ``tmp``, SIGKILLed once the journal query ``until``
    gives 1 or more; returns its spec and run directory."""
    run_dir = tmp / "run"
    spec = {**zdt_spec(run_dir, pop_size=4, generations=5, workers=2, callable_=SLOW), **spec}
    path = write_spec(tmp / "started.yaml", spec)
    kill_driver_when([str(hpo_run_exe), str(path)], tmp, subprocess_env(),
                     lambda: _count(run_dir, until) >= 1, wait_until)
    return spec, run_dir


@pytest.fixture(scope="module")
def stopped_nsga2(tmp_path_factory, hpo_run_exe, wait_until) -> tuple[dict, Path]:
    """nsga2 stopped in generation 2: generation 1 checkpointed, 2 or more births of
    generation 2 sent out."""
    return _stopped(tmp_path_factory.mktemp("nsga2"), hpo_run_exe, wait_until,
                    "SELECT count(*) >= 2 FROM evaluations WHERE generation >= 2")


@pytest.fixture(scope="module")
def stopped_async(tmp_path_factory, hpo_run_exe, wait_until) -> tuple[dict, Path]:
    """nsga2-async stopped after 7 births recorded: a snapshot of 4 insertions, births after
    it recorded or running."""
    return _stopped(tmp_path_factory.mktemp("async"), hpo_run_exe, wait_until,
                    "SELECT count(*) >= 7 FROM evaluations WHERE status = 'ok'", optimizer=ASYNC)


def _copy(stopped: tuple[dict, Path], tmp_path: Path) -> tuple[dict, Path]:
    """The stopped run copied to tmp_path/run (a test that resumes it changes it)."""
    spec, run_dir = stopped
    shutil.copytree(run_dir, tmp_path / "run")
    return {**spec, "run_dir": str(tmp_path / "run")}, tmp_path / "run"


def _journal(run_dir: Path) -> dict[str, bytes]:
    """The database and its write-ahead log (not the -shm index, which any reader writes)."""
    return {f.name: f.read_bytes() for f in run_dir.glob("journal.sqlite*") if not f.name.endswith("-shm")}


def _refused(tmp_path: Path, hpo_run_exe: Path, spec: dict, *args: str, key: str) -> str:
    """hpo-run of ``spec`` with ``args`` is refused with one line naming ``key``, before
    anything is launched or written; returns the line."""
    before = _journal(tmp_path / "run")
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "resumed.yaml", spec)), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"resumed.yaml: {key}: " in done.stderr, done.stderr
    assert "Resuming" not in done.stdout
    assert _journal(tmp_path / "run") == before
    return done.stderr


def _refused_in_process(tmp_path: Path, spec: dict, *args: str, key: str) -> str:
    """What hpo-run with ``args`` checks of ``spec`` before it launches anything (the same
    calls, in-process) refuses it naming ``key``, and writes nothing; returns the error as
    hpo-run's line shows it.  For a data variant of a check _refused drives end to end."""
    before = _journal(tmp_path / "run")
    path = write_spec(tmp_path / "resumed.yaml", spec)
    with contextlib.chdir(tmp_path), pytest.raises(SpecError) as refused:  # hpo-run's working directory
        run, _ = prepare_run(path, load_registry(), dry_run="--dry-run" in args)
        check_run_dir(run, resume=False, force="--force" in args)
    assert refused.value.key == key, refused.value
    assert _journal(tmp_path / "run") == before
    return str(refused.value)


@pytest.mark.parametrize("started, resumed", [
    ("nsga2", ASYNC),
    ("nsga2-async", {"plugin": "nsga2", "pop_size": 4, "generations": 5}),
    ("nsga2", {"plugin": "replicates", "source": "source"}),
], ids=["nsga2-to-async", "async-to-nsga2", "nsga2-to-replicates"])
def test_another_optimizer_is_refused_even_with_force(request, tmp_path, hpo_run_exe, started, resumed):
    """A checkpoint's state is only meaningful to the optimizer that wrote it: nsga2-async
    read nsga2's and failed (KeyError: 'inserted', exit 4, the workers already up), nsga2
    nsga2-async's (KeyError: 'std'), and replicates took nsga2's population for its own
    result (exit 0, the run marked finished).  One check of the recorded plugin refuses all
    three: the first is the real hpo-run, the others its checks in-process."""
    spec, run_dir = _copy(request.getfixturevalue("stopped_async" if started == "nsga2-async" else "stopped_nsga2"),
                          tmp_path)
    if resumed["plugin"] == "replicates":
        # a search to replicate (the stopped one has a recorded generation), with a new seed
        shutil.copytree(run_dir, tmp_path / "source")
        spec = {**spec, "seed": spec["seed"] + 1}
    spec = {**spec, "optimizer": resumed}
    end_to_end = request.node.callspec.id == "nsga2-to-async"
    for args in (["--force"], [], ["--force", "--dry-run"]):
        line = (_refused(tmp_path, hpo_run_exe, spec, *args, key="optimizer.plugin") if end_to_end
                else _refused_in_process(tmp_path, spec, *args, key="optimizer.plugin"))
        assert f"started with the {started} optimizer, which {resumed['plugin']} cannot continue" in line
        assert "not even with --force" in line and f"resume it with plugin: {started}" in line, line


def test_max_births_below_the_births_sent_out_is_refused(tmp_path, hpo_run_exe, stopped_async):
    """nsga2-async resumed with --force and a budget below the births it had sent out showed
    'births <sent> of <budget>', exited 0 and marked the run finished: the births after its
    last snapshot were never inserted, those running stayed 'running' in the journal for good."""
    spec, run_dir = _copy(stopped_async, tmp_path)
    births = _count(run_dir, "SELECT max(birth_id) + 1 FROM evaluations")
    finished = _count(run_dir, "SELECT count(*) FROM evaluations WHERE status = 'ok'")
    running = _count(run_dir, "SELECT count(*) FROM evaluations WHERE status = 'running'")
    assert births > 5
    line = _refused(tmp_path, hpo_run_exe, {**spec, "optimizer": {**ASYNC, "max_births": 5}}, "--force",
                    key="optimizer.max_births")
    assert f"5 is below the {births} births the run in {run_dir} has already sent out ({finished} recorded " \
           f"finished, {running} running when it stopped)" in line, line
    assert f"resume it with max_births: {births} or more" in line, line

    # What the line says to do: every birth sent out is recorded and inserted, none left running.
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "resumed.yaml", {
        **spec, "optimizer": {**ASYNC, "max_births": births}})), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        assert not journal.running()
        assert sorted(e.trial.birth_id for e in journal.evaluations()) == list(range(births))
        assert journal.checkpoint().state["inserted"] == births


def test_generations_below_those_started_are_refused(tmp_path, hpo_run_exe, stopped_nsga2):
    """nsga2 resumed with --force and fewer generations than it had started exited 0 with a
    later generation than the spec's and marked the run finished, the started generation's
    births in no population (those running left 'running' for good)."""
    spec, run_dir = _copy(stopped_nsga2, tmp_path)
    started = _count(run_dir, "SELECT max(generation) FROM evaluations")
    line = _refused(tmp_path, hpo_run_exe, {**spec, "optimizer": {**spec["optimizer"], "generations": 1}},
                    "--force", key="optimizer.generations")
    assert f"1 is below generation {started}, which the run in {run_dir} has already started" in line, line
    assert f"resume it with generations: {started} or more" in line, line

    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "resumed.yaml", {
        **spec, "optimizer": {**spec["optimizer"], "generations": started}})), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        assert not journal.running() and journal.generations()[-1] == started
        assert sorted(e.trial.birth_id for e in journal.evaluations()) == list(range(4 * (started + 1)))


def test_replicates_seeds_below_the_trainings_sent_out_are_refused(tmp_path, hpo_run_exe, wait_until,
                                                                   stopped_nsga2):
    """replicates resumed with --force and fewer seeds trained the first births again and
    exited 0, the run marked finished, the births above left 'running' for good."""
    search, _ = _copy(stopped_nsga2, tmp_path / "search")
    started = {**search, "run_dir": str(tmp_path / "run"), "seed": search["seed"] + 1,
               "optimizer": {"plugin": "replicates", "source": search["run_dir"], "seeds": 3}}
    kill_driver_when([str(hpo_run_exe), str(write_spec(tmp_path / "started.yaml", started))], tmp_path,
                     subprocess_env(), lambda: _count(tmp_path / "run", "SELECT count(*) FROM evaluations "
                                                      "WHERE status = 'ok'") >= 1, wait_until)
    births = _count(tmp_path / "run", "SELECT count(*) FROM evaluations")  # all sent at once
    line = _refused(tmp_path, hpo_run_exe, {**started, "optimizer": {**started["optimizer"], "seeds": 1}},
                    "--force", key="optimizer.seeds")
    assert f"make {births // 3} trainings, fewer than the {births} the run in {tmp_path / 'run'} has already " \
           "sent out" in line, line


@pytest.mark.parametrize("edit", ["added", "removed", "renamed", "reordered"])
def test_other_parameters_are_refused_even_with_force(tmp_path, hpo_run_exe, stopped_nsga2, edit):
    """A parameter added with --force failed once the workers were up ('genome has 4 genes,
    the space 5', exit 4 with a traceback); renamed or reordered ones would decode the
    journal's genomes into other parameters.  One check of the names refuses all four:
    the added one is the real hpo-run, the others its checks in-process."""
    spec, _ = _copy(stopped_nsga2, tmp_path)
    space = dict(spec["space"])
    names = list(space)
    if edit == "added":
        space["x9"] = dict(space[names[0]])
    elif edit == "removed":
        del space[names[-1]]
    elif edit == "renamed":
        space = {("y0" if k == names[0] else k): v for k, v in space.items()}
    else:
        space = dict(reversed(list(space.items())))
    line = (_refused(tmp_path, hpo_run_exe, {**spec, "space": space}, "--force", key="space") if edit == "added"
            else _refused_in_process(tmp_path, {**spec, "space": space}, "--force", key="space"))
    assert f"holds a run of the parameters {', '.join(names)}, which cannot be continued with" in line, line
    assert "not even with --force" in line, line


def test_progress_counts_to_the_births_a_forced_pop_size_change_makes(tmp_path, hpo_run_exe, stopped_nsga2):
    """What --force can change: pop_size.  The generations checkpointed before keep their
    size, so the run's total is not the new pop_size * (generations + 1), which the
    progress lines counted to (generation 5 ended at 32/36)."""
    spec, run_dir = _copy(stopped_nsga2, tmp_path)
    resumed = {**spec, "optimizer": {**spec["optimizer"], "pop_size": 6}}
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "resumed.yaml", resumed)), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = re.findall(r"^generation (\d+) of 5 done: (\d+)/(\d+) evaluations", done.stdout, re.MULTILINE)
    births = _count(run_dir, "SELECT count(DISTINCT birth_id) FROM evaluations")
    assert [int(g) for g, _, _ in counts] == [2, 3, 4, 5], done.stdout
    assert {int(total) for _, _, total in counts} == {births}, (done.stdout, births)
    assert int(counts[-1][1]) == births
    # the new size did apply: more births than the started pop_size could have made
    assert births > spec["optimizer"]["pop_size"] * 6, births


@pytest.mark.parametrize("force", [(), ("--force",)], ids=["", "--force"])
def test_async_pop_size_is_not_changed_even_with_force(tmp_path, hpo_run_exe, stopped_async, force):
    """nsga2-async numbers its snapshots every pop_size insertions: resumed with pop_size 6
    it recorded snapshot 1 at 12 insertions over the one taken at 8, and pop.csv held one
    snapshot twice (helper-54).  Said at once: without --force the line offered --force,
    which then refused it (helper-124)."""
    spec, run_dir = _copy(stopped_async, tmp_path)
    line = _refused(tmp_path, hpo_run_exe, {**spec, "optimizer": {**ASYNC, "pop_size": 6}}, *force,
                    key="optimizer.pop_size")
    assert f"{run_dir} holds a run with pop_size 4, which it cannot change, not even with --force: its " \
           "snapshots are numbered every pop_size insertions" in line, line
    assert line.rstrip().endswith("resume it with pop_size: 4, or choose another run_dir"), line


def test_a_journal_without_resolved_settings_is_judged_by_its_spec(tmp_path, hpo_run_exe, stopped_async):
    """A journal from before the settings with their defaults were recorded: pop_size
    written out at its default is no change (it was refused, 'pop_size "its default"':
    helper-126), and another one is refused by the spec's value then (a check of the
    filled-in settings alone, which such a journal lacks, let it run with 6)."""
    spec, run_dir = _copy(stopped_async, tmp_path)
    with sqlite3.connect(run_dir / "journal.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'resolved'")
    more = {**spec, "optimizer": {**ASYNC, "max_births": 48}}
    dry = run_cli(hpo_run_exe, str(write_spec(tmp_path / "more.yaml", more)), "--force", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "the run would resume there" in dry.stdout, dry.stdout + dry.stderr
    line = _refused(tmp_path, hpo_run_exe, {**spec, "optimizer": {**ASYNC, "pop_size": 6}}, "--force",
                    key="optimizer.pop_size")
    assert "holds a run with pop_size 4, which it cannot change, not even with --force" in line, line

    # a run that left pop_size to its default (100), resumed with it written out
    with sqlite3.connect(run_dir / "journal.sqlite") as db:
        spec_then = json.loads(db.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()[0])
        del spec_then["optimizer"]["pop_size"]
        db.execute("UPDATE meta SET value = ? WHERE key = 'spec'", (json.dumps(spec_then),))
    written = {**spec, "optimizer": {**ASYNC, "pop_size": 100, "max_births": 400}}
    dry = run_cli(hpo_run_exe, str(write_spec(tmp_path / "written.yaml", written)), "--force", "--dry-run",
                  cwd=tmp_path)
    assert "cannot change" not in dry.stderr, dry.stderr


def test_pop_size_below_the_births_of_the_unfinished_generation_is_refused(tmp_path, hpo_run_exe, stopped_nsga2):
    """nsga2 resumed with --force and a pop_size below the births its unfinished generation
    had sent out exited 0 and marked the run finished, the births above the new size left
    'running' for good (finished ones there were set aside) (helper-69)."""
    spec, run_dir = _copy(stopped_nsga2, tmp_path)
    generation = _count(run_dir, "SELECT max(generation) FROM evaluations")
    sent = _count(run_dir, f"SELECT count(DISTINCT birth_id) FROM evaluations WHERE generation = {generation}")
    assert sent >= 2, sent
    line = _refused(tmp_path, hpo_run_exe, {**spec, "optimizer": {**spec["optimizer"], "pop_size": sent - 1}},
                    "--force", key="optimizer.pop_size")
    assert f"{sent - 1} is below the {sent} births generation {generation} of the run in {run_dir} has already " \
           "sent out" in line, line
    assert f"resume it with pop_size: {sent} or more" in line, line

    # Once that generation is recorded, a smaller pop_size applies to the next ones.
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "resumed.yaml", {
        **spec, "optimizer": {**spec["optimizer"], "generations": generation}})), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    smaller = {**spec, "optimizer": {**spec["optimizer"], "generations": generation + 1, "pop_size": sent - 1}}
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "smaller.yaml", smaller)), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        assert not journal.running()
        assert len(journal.population(generation + 1)) == sent - 1


def test_a_finished_run_is_not_shown_with_its_parameters_reordered(tmp_path, hpo_run_exe):
    """The same parameters listed in another order differ in no key: the finished run's
    front was printed with each gene under another parameter's name (helper-110)."""
    spec = zdt_spec(tmp_path / "run", pop_size=4, generations=0, workers=1)
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "started.yaml", spec)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = list(spec["space"])
    line = _refused(tmp_path, hpo_run_exe, {**spec, "space": dict(reversed(list(spec["space"].items())))}, key="space")
    assert (f"holds a finished run of the parameters in the order {', '.join(names)}, and this spec lists them as "
            f"{', '.join(reversed(names))}: its front would be shown under the wrong names") in line, line
