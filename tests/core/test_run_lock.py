"""One driver per run directory (core/runlock.py), with the real hpo-run on local Dask."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from file_modes import unprivileged
from hpo_testutil import run_cli, subprocess_env, write_spec, zdt_spec

from dnnp_hpo.journal import Journal
from dnnp_hpo.runlock import LOCK


def rows(run_dir: Path) -> list[tuple[str, str]]:
    with Journal.of(run_dir, readonly=True) as journal, journal.transaction() as db:
        return db.execute("SELECT uuid, status FROM evaluations ORDER BY rowid").fetchall()


def wait_for_rows(run_dir: Path, driver: subprocess.Popen, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end and driver.poll() is None:
        try:
            if rows(run_dir):
                return
        except Exception:  # noqa: BLE001, S110 - the journal is not there yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"the first driver recorded nothing (exit {driver.poll()})")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, hpo_run_exe) -> Path:
    """The run directory of a finished run of zdt_spec(pop_size=4, generations=0), made once
    a module: a test copies it with _finished_copy."""
    tmp = tmp_path_factory.mktemp("finished")
    spec = write_spec(tmp / "s.yaml", zdt_spec(tmp / "run", pop_size=4, generations=0))
    assert run_cli(hpo_run_exe, str(spec), cwd=tmp).returncode == 0
    return tmp / "run"


def _finished_copy(finished_run: Path, tmp_path: Path) -> Path:
    """The finished run copied to tmp_path/run; returns its spec file there."""
    shutil.copytree(finished_run, tmp_path / "run")
    return write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=0))


def test_a_second_driver_on_a_live_run_is_refused_and_changes_nothing(tmp_path, hpo_run_exe):
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=2,
                                                    callable_="hpo_testfuncs:slow_zdt1"))
    first = subprocess.Popen([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_rows(tmp_path / "run", first)
        before = rows(tmp_path / "run")
        second = run_cli(hpo_run_exe, str(spec), cwd=tmp_path)
        assert second.returncode == 2, second.stdout
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and "is in use by another hpo-run" in lines[0], second.stderr
        assert f"(pid {first.pid} on " in lines[0]
        # --dry-run says the same: a dry run that passes is a run that starts
        dry = run_cli(hpo_run_exe, str(spec), "--dry-run", cwd=tmp_path)
        assert dry.returncode == 2 and dry.stderr.splitlines() == lines, (dry.stdout, dry.stderr)
        # the first run's rows are all still there, none set aside, none added by the second
        assert {uuid for uuid, _ in before} <= {uuid for uuid, _ in rows(tmp_path / "run")}
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    recorded = rows(tmp_path / "run")
    assert len(recorded) == 12 and {status for _, status in recorded} == {"ok"}
    # its driver gone, the lock is free: the same command shows the finished run
    again = run_cli(hpo_run_exe, str(spec), cwd=tmp_path)
    assert again.returncode == 0 and "is finished" in again.stdout, again.stderr


def test_a_directory_left_with_only_the_lock_starts_afresh(tmp_path, hpo_run_exe):
    # a driver killed before it created its journal leaves the lock file alone
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK).write_text("pid 1 on elsewhere since then\n")
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=0))
    done = run_cli(hpo_run_exe, str(spec), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(rows(tmp_path / "run")) == 4
    assert f"pid {os.getpid()}" not in (tmp_path / "run" / LOCK).read_text()  # the driver's own pid


def test_a_refused_resume_leaves_no_directory_behind(tmp_path, hpo_run_exe):
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run"))
    done = run_cli(hpo_run_exe, str(spec), "--resume", cwd=tmp_path)
    assert done.returncode == 2 and "holds no journal.sqlite" in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_finished_run_in_a_read_only_directory_shows_its_front(tmp_path, hpo_run_exe, finished_run):
    spec = _finished_copy(finished_run, tmp_path)
    paths = [tmp_path / "run", *(tmp_path / "run").rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        shown = subprocess.run([*unprivileged(), str(hpo_run_exe), str(spec)], cwd=tmp_path,
                               env=subprocess_env(), capture_output=True, text=True, timeout=120, check=False)
    finally:
        for path in paths:
            path.chmod(path.stat().st_mode | 0o200)
    assert shown.returncode == 0, shown.stderr
    assert "is finished; the front of its final population" in shown.stdout and "Pareto front" in shown.stdout


def test_run_dir_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path, hpo_run_exe):
    (tmp_path / "afile").write_text("x")
    for run_dir, words in ((tmp_path / "afile", "is a file, not a directory"),
                           (tmp_path / "afile" / "sub", "cannot write in")):
        spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir))
        for dry in ([], ["--dry-run"]):  # a dry run finds what the run would stop at
            done = run_cli(hpo_run_exe, str(spec), *dry, cwd=tmp_path)
            assert done.returncode == 2, done.stdout
            assert len(done.stderr.splitlines()) == 1 and words in done.stderr and "run_dir" in done.stderr


def test_dry_run_checks_the_run_dir_as_the_run_does(tmp_path, hpo_run_exe, finished_run):
    """A directory that is not a run, or holds a run of another spec, is refused by
    --dry-run as by the run; a run's own directory is a resume, a finished run a display."""
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "other"))
    done = run_cli(hpo_run_exe, str(spec), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and "is not a dnnp-hpo run" in done.stderr, done.stderr
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]

    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=0))
    fresh = run_cli(hpo_run_exe, str(spec), "--dry-run", cwd=tmp_path)
    assert fresh.returncode == 0 and "the run would write there" in fresh.stdout, fresh.stderr
    assert not (tmp_path / "run").exists(), "--dry-run writes nothing"
    written = spec.read_text()
    _finished_copy(finished_run, tmp_path)  # rewrites s.yaml with the spec of the finished run
    assert spec.read_text() == written, "the same spec's run, finished"
    finished = run_cli(hpo_run_exe, str(spec), "--dry-run", cwd=tmp_path)
    assert finished.returncode == 0 and "is finished" in finished.stdout, finished.stderr
    changed = run_cli(hpo_run_exe, str(spec), "--dry-run", "--set", "optimizer.generations=3", cwd=tmp_path)
    assert changed.returncode == 2 and "holds a finished run" in changed.stderr, changed.stderr
    assert len(changed.stderr.splitlines()) == 1


def test_a_run_dir_that_cannot_be_made_leaves_no_directory_behind(tmp_path):
    """mkdir(parents=True) made a/ and a/b/ before the last name failed (too long for the
    file system), and nothing removed them: a refused run left empty directories."""
    from dnnp_hpo.errors import SpecError
    from dnnp_hpo.runlock import RunLock

    lock = RunLock(tmp_path / "a" / "b" / ("x" * 300), "spec.yaml")
    try:
        with lock:
            raise AssertionError("a 300-byte directory name was accepted")
    except SpecError as exc:
        assert exc.key == "run_dir" and "cannot write in" in exc.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("made_before", [False, True], ids=["new-directory", "directory-made-before"])
def test_a_lock_line_the_disk_refuses_is_exit_3_and_the_rerun_starts(tmp_path, hpo_run_exe, made_before):
    """The holder line is a run's first write: the quota or the disk full there (here a
    file-size limit of 0, the same ENOSPC-like refusal) was a traceback and exit 4, with
    the lock file and directory left behind (helper-118).  Exit 3, one line, and the same
    command starts the run once it can write: a directory the lock made is taken away; one
    there before (a batch script's mkdir -p) keeps the lock file and the line saying why,
    which the rerun accepts (it refused them as "not a dnnp-hpo run": helper-119)."""
    import resource

    if made_before:
        (tmp_path / "run").mkdir()
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=0))
    refused = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(),
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)),
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.splitlines() == [
        (f"hpo-run: the run's records could not be written: cannot write {tmp_path / 'run' / LOCK}: File too large; "
         "nothing was launched: run hpo-run again once it can write there")], refused.stderr
    if made_before:
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["driver.lock", "launcher.log"]
    else:
        assert not (tmp_path / "run").exists()
    done = run_cli(hpo_run_exe, str(spec), cwd=tmp_path)
    assert done.returncode == 0 and len(rows(tmp_path / "run")) == 4, done.stderr


def test_a_lock_file_unlinked_before_it_is_locked_is_not_held(tmp_path, monkeypatch):
    """A driver refused in a directory it made unlinks its lock file and removes the
    directory; a second driver that opened that file just before held a lock on a file
    no longer there, and a third would lock a new file beside it: two drivers (helper-118).
    The lock is taken on the file at the path, opened again if it was unlinked meanwhile."""
    import fcntl

    from dnnp_hpo import runlock

    run_dir = tmp_path / "run"
    real_flock = fcntl.flock
    unlinked = []

    def flock_after_an_unlink(file, operation):
        if not unlinked:  # the first driver gives the directory up between our open and our lock
            unlinked.append(True)
            (run_dir / LOCK).unlink()
            run_dir.rmdir()
        return real_flock(file, operation)

    monkeypatch.setattr(runlock.fcntl, "flock", flock_after_an_unlink)
    with runlock.RunLock(run_dir, "spec.yaml") as held:
        assert os.fstat(held.file.fileno()).st_ino == (run_dir / LOCK).stat().st_ino
        assert (run_dir / LOCK).read_text().startswith(f"pid {os.getpid()} on ")
        third = os.open(run_dir / LOCK, os.O_RDONLY)
        try:  # the file at the path is the one held
            try:
                real_flock(third, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("a third driver locked the run directory beside the second")
            except BlockingIOError:
                pass
        finally:
            os.close(third)


def test_a_run_dir_removed_before_the_lock_file_is_opened_is_made_again(tmp_path, monkeypatch):
    """The other moment a refused driver's clean-up can come: between this driver's
    making of the directory and its open of the lock file, which then failed "cannot
    write in RUN_DIR: No such file or directory" (helper-119).  Made again, and locked."""
    from dnnp_hpo import runlock

    run_dir = tmp_path / "run"
    real_make_dirs = runlock.make_dirs
    removed = []

    def removed_after_making(path, made):
        real_make_dirs(path, made)
        if not removed:
            removed.append(True)
            path.rmdir()

    monkeypatch.setattr(runlock, "make_dirs", removed_after_making)
    with runlock.RunLock(run_dir, "spec.yaml"):
        assert (run_dir / LOCK).read_text().startswith(f"pid {os.getpid()} on ")
    assert removed


def test_a_dangling_symbolic_link_as_run_dir_is_one_line(tmp_path):
    """Not taken for a directory removed meanwhile (tried again and again): its open
    fails the same way, and it is said at once."""
    from dnnp_hpo.errors import SpecError
    from dnnp_hpo.runlock import RunLock

    (tmp_path / "run").symlink_to(tmp_path / "nowhere")
    try:
        with RunLock(tmp_path / "run", "spec.yaml"):
            raise AssertionError("a dangling link was locked")
    except SpecError as exc:
        assert exc.key == "run_dir" and exc.message == f"cannot write in {tmp_path / 'run'}: No such file or directory"


def test_a_lock_file_removed_by_hand_while_its_driver_runs_still_holds_the_run(tmp_path):
    """driver.lock stays after every run, and users remove it: removed while its driver
    ran, a second driver locked a new file and drove the same run, each training twice
    (helper-117).  The run directory itself is locked too: the second is refused, and so
    is a --dry-run's look."""
    from dnnp_hpo.errors import SpecError
    from dnnp_hpo.runlock import RunLock, check_free

    run_dir = tmp_path / "run"
    with RunLock(run_dir, "first.yaml"):
        (run_dir / LOCK).unlink()
        for look in (lambda: RunLock(run_dir, "second.yaml").__enter__(), lambda: check_free(run_dir, "second.yaml")):
            try:
                look()
                raise AssertionError("a second driver took a run directory whose driver runs")
            except SpecError as exc:
                assert exc.key == "run_dir" and "is in use by another hpo-run" in exc.message, exc.message
    with RunLock(run_dir, "third.yaml"):  # free once the first has ended
        assert (run_dir / LOCK).read_text().startswith(f"pid {os.getpid()} on ")


def test_a_run_dir_removed_while_its_run_goes_on_lets_the_run_s_error_through(tmp_path):
    """rm -rf of a live run's directory: the run's records fail (exit 3, one line), and
    the lock's clean-up looked into the missing directory and raised FileNotFoundError
    instead, a traceback and exit 4 (helper-117)."""
    import shutil

    from dnnp_hpo.runlock import RunLock

    run_dir = tmp_path / "run"
    try:
        with RunLock(run_dir, "spec.yaml"):
            shutil.rmtree(run_dir)
            raise RuntimeError("the run's records could not be written")
    except RuntimeError as exc:
        assert str(exc) == "the run's records could not be written"
    assert not run_dir.exists()
