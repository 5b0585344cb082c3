"""Promise 5: an evaluation directory that cannot be created (a read-only directory) is a
failed evaluation with a clear reason, not a crashed driver; a run whose own records
cannot be written (the run directory read-only, the journal held by another program)
stops with one line and exit 3, and the same command resumes it.

The real ``hpo-run`` (faults_runner.py registers one observer that makes
``RUN_DIR/evals`` read-only) with the real ``deepmd`` trainer (stand-in dp program) on
real local Dask.  Root ignores file modes, so as root the run is started under
``setpriv`` without the capabilities that let root write anywhere (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH): the modes then apply as they do for any user.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faults_testutil import (
    HERE,
    MAXINT,
    assert_recorded_once,
    deepmd_spec,
    function_spec,
    hpo_run,
    subprocess_env,
    write_spec,
)
from file_modes import unprivileged


def run_with_readonly_evals(tmp_path: Path, generation: int) -> tuple[Path, subprocess.CompletedProcess]:
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(
        tmp_path / "run", pop_size=4, generations=1, env={"FAULTS_FAULT": "ok"}))
    done = hpo_run_with_observer(tmp_path, spec, "readonly", str(generation))
    return tmp_path / "run", done


def hpo_run_with_observer(tmp_path: Path, spec: Path, *observer: str) -> subprocess.CompletedProcess:
    """``hpo-run spec`` with a faults_runner.py observer, with file modes obeyed."""
    return subprocess.run([*unprivileged(), sys.executable, str(HERE / "faults_runner.py"), *observer, str(spec)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
                          env=subprocess_env(COLUMNS="250"))


def test_evaluation_directories_read_only_from_the_start(tmp_path: Path) -> None:
    run_dir, done = run_with_readonly_evals(tmp_path, -1)
    try:
        # The run goes to its end; with nothing succeeded it says why and exits 1.
        assert done.returncode == 1, done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines()[-1].startswith("hpo-run: no evaluation succeeded (final population: 4 of 4 "
                                                       "error: cannot create the evaluation directory"), done.stderr
        evaluations = assert_recorded_once(run_dir, 8)
        for evaluation in evaluations:
            assert evaluation.status == "error" and evaluation.fitness == (MAXINT, MAXINT)
            assert evaluation.reason == (f"cannot create the evaluation directory {evaluation.trial.workdir}: "
                                         "Permission denied"), evaluation.reason
        assert list((run_dir / "evals").iterdir()) == []
    finally:
        (run_dir / "evals").chmod(0o755)


def test_evaluation_directories_turn_read_only_mid_run(tmp_path: Path) -> None:
    run_dir, done = run_with_readonly_evals(tmp_path, 0)
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        evaluations = assert_recorded_once(run_dir, 8)
        assert [e.status for e in evaluations if e.trial.generation == 0] == ["ok"] * 4
        later = [e for e in evaluations if e.trial.generation == 1]
        assert [e.status for e in later] == ["error"] * 4
        assert all("cannot create the evaluation directory" in e.reason and "Permission denied" in e.reason
                   for e in later), [e.reason for e in later]
        # The run went on to its end; the survivors are generation 0's healthy trainings.
        assert "Pareto front" in done.stdout
    finally:
        (run_dir / "evals").chmod(0o755)


def test_run_directory_turning_read_only_stops_with_one_line_and_resumes(tmp_path: Path) -> None:
    """The journal and the CSV files cannot be written after generation 0: not a bug of
    dnnp-hpo (it was exit 4 with a traceback and 'internal error'), a fault of the machine."""
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(
        tmp_path / "run", pop_size=4, generations=1, env={"FAULTS_FAULT": "ok"}))
    run_dir = tmp_path / "run"
    try:
        done = hpo_run_with_observer(tmp_path, spec, "readonly-run", "0")
    finally:
        run_dir.chmod(0o755)
        for path in run_dir.iterdir():
            if path.is_file():
                path.chmod(0o644)
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"hpo-run: the run's records could not be written: cannot write {run_dir}"), last
    assert "(make the run directory writable); the evaluations in flight are kept: run hpo-run again" in last
    again = hpo_run_with_observer(tmp_path, spec, "readonly", "99")  # an observer that does nothing here
    assert again.returncode == 0, again.stderr[-3000:]
    assert [e.status for e in assert_recorded_once(run_dir, 8)] == ["ok"] * 8


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real file system of 4 MiB (tmpfs), to be filled: mounting needs root with
    CAP_SYS_ADMIN (CI and this machine kind have it)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=False)


@pytest.mark.parametrize("free_kib", [64, 256])
def test_a_full_disk_stops_with_one_line_and_the_same_command_resumes(tmp_path: Path, small_disk: Path,
                                                                      free_kib: int) -> None:
    """64 KiB free: the disk fills while the journal is created (its tables were created
    one commit each, and the half-made journal was then refused for good); 256 KiB: after
    some evaluations are recorded."""
    run_dir = small_disk / "run"
    spec = write_spec(tmp_path / "spec.yaml", function_spec(run_dir, pop_size=6, generations=3))
    filler = small_disk / "filler"
    with filler.open("wb") as out:
        out.write(bytes(shutil.disk_usage(small_disk).free - free_kib * 1024))
    done = hpo_run(str(spec), cwd=tmp_path)
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("hpo-run: the run's records could not be written: cannot write "), last
    assert "(free space on its file system); the evaluations in flight are kept" in last, last
    filler.unlink()
    again = hpo_run(str(spec), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Traceback" not in again.stderr
    assert_recorded_once(run_dir, 6 * 4)


def test_sqlites_disk_io_error_is_told_apart_by_the_free_space(tmp_path: Path, small_disk: Path) -> None:
    """SQLite says "disk I/O error" for any failed write, also one on a full disk (3 of 15
    full-disk runs in a review): the hint then follows what the file system has free."""
    import sqlite3

    from dnnp_hpo.errors import RecordsFailed

    io_error = sqlite3.OperationalError("disk I/O error")
    journal = small_disk / "journal.sqlite"
    assert "(the file system failed a write: check it)" in str(RecordsFailed(journal, io_error))
    with (small_disk / "filler").open("wb") as out:
        out.write(bytes(shutil.disk_usage(small_disk).free))
    assert "disk I/O error (free space on its file system); the evaluations" in str(RecordsFailed(journal, io_error))


#: hpo-run with a file-size limit (``ulimit -f``), exec'd so the limit is its own and its
#: workers'; Python ignores SIGXFSZ, so a write past the limit fails (EFBIG), as SQLite's
#: "disk I/O error"
UNDER_SIZE_LIMIT = ("import os, resource, sys; limit = int(sys.argv[1]);"
                    " resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)); os.execv(sys.argv[2], sys.argv[2:])")


def test_a_file_size_limit_is_named_and_the_same_command_resumes_without_it(tmp_path: Path) -> None:
    """A batch system's or a login script's ``ulimit -f`` stops the journal's writes with
    SQLite's "disk I/O error", and the hint said "the file system failed a write: check
    it" (helper-117), sending the user to a disk that was fine."""
    spec = write_spec(tmp_path / "spec.yaml", function_spec(tmp_path / "run", pop_size=8, generations=20),
                      template=None)
    limit = 100 * 1024
    done = hpo_run(str(spec), cwd=tmp_path, prefix=[sys.executable, "-c", UNDER_SIZE_LIMIT, str(limit)])
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last == (f"hpo-run: the run's records could not be written: cannot write {tmp_path / 'run' / 'journal.sqlite'}: "
                    f"disk I/O error (this process may not write a file past {limit} bytes: raise its file-size limit, "
                    "ulimit -f); the evaluations in flight are kept: run hpo-run again to resume"), last
    again = hpo_run(str(spec), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert_recorded_once(tmp_path / "run", 8 * 21)


def test_a_file_size_limit_far_above_the_journal_is_not_blamed(tmp_path: Path) -> None:
    """A site-wide limit of gigabytes is not why a write of a small journal failed: the
    hint names the limit only once the journal or its WAL comes within a MiB of it."""
    import resource
    import sqlite3

    from dnnp_hpo.errors import RecordsFailed

    io_error = sqlite3.OperationalError("disk I/O error")
    journal = tmp_path / "journal.sqlite"
    journal.write_bytes(b"\0" * 4096)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    limit = 4 * 2**20
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        assert "(the file system failed a write: check it)" in str(RecordsFailed(journal, io_error))
        (tmp_path / "journal.sqlite-wal").write_bytes(b"\0" * (limit - 2**19))
        assert f"(this process may not write a file past {limit} bytes" in str(RecordsFailed(journal, io_error))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
