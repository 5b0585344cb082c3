"""hpo-report only reads a run: every file of a real finished run is unchanged after it
(content and mtime, and no -wal/-shm left), it reports a run directory that is read-only
(as a copy from a cluster or a read-only mount leaves it), and refuses what is not a
journal without creating anything."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from file_modes import unprivileged

BIN = Path(sys.executable).parent


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and directory under ``root`` (itself included): content hash and mtime."""
    out = {}
    for path in sorted([root, *root.rglob("*")]):
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = (digest, path.stat().st_mtime_ns)
    return out



def hpo_report(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, str(BIN / "hpo-report"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, zdt1_function_run) -> Path:
    """A real run of hpo-run (ZDT1, function trainer), finished: a copy of conftest.py's."""
    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    run = shutil.copytree(zdt1_function_run, tmp_path_factory.mktemp("readonly") / "run")
    assert not (run / "journal.sqlite-wal").exists()  # the driver closed its journal
    return run


def test_report_elsewhere_leaves_every_file_of_the_run_unchanged(finished_run, tmp_path):
    before = snapshot(finished_run)
    done = hpo_report(str(finished_run), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "summary.md").is_file()
    assert snapshot(finished_run) == before


def test_report_by_default_adds_only_its_report_directory(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = snapshot(run)
    done = hpo_report(str(run), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    after = snapshot(run)
    assert (run / "report" / "summary.md").is_file()  # documented: RUN_DIR/report by default
    mine = {k: v for k, v in after.items() if k != "report" and not k.startswith("report/")}
    del mine["."], before["."]  # the run directory itself gained report/
    assert mine == before


def test_report_of_a_read_only_run_directory(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    for path in [run, *run.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        before = snapshot(run)
        done = hpo_report(str(run), "--out", str(tmp_path / "out"), cwd=tmp_path,
                          prefix=tuple(unprivileged()))
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out" / "summary.md").is_file()
        # the default place, inside the read-only run directory, is one clear line
        inside = hpo_report(str(run), cwd=tmp_path, prefix=tuple(unprivileged()))
        assert inside.returncode == 2
        assert inside.stderr.startswith(f"hpo-report: {run / 'report'}: cannot create the report directory")
        assert inside.stderr.rstrip().endswith("): choose another --out"), inside.stderr  # the next step (helper-82)
        assert inside.stderr.count("\n") == 1, inside.stderr
        assert snapshot(run) == before
    finally:
        for path in [run, *run.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.parametrize("content", [b"", b"this is not an SQLite database, not at all" * 10])
def test_report_of_what_is_not_a_journal_creates_nothing(tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "journal.sqlite").write_bytes(content)
    before = snapshot(run)
    done = hpo_report(str(run), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("hpo-report: ") and done.stderr.count("\n") == 1, done.stderr
    assert "journal" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(run) == before
    assert not (tmp_path / "out").exists()


def test_a_copy_without_the_shm_file_in_a_read_only_place_is_told_what_is_missing(tmp_path):
    """A live run's records are in journal.sqlite-wal, which SQLite reads through the
    -shm index: a copy that left out the -shm, in a read-only directory, cannot be read,
    and the line says which file is missing (SQLite's own: 'unable to open database file')."""
    from dnnp_hpo.journal import Journal

    live, copy = tmp_path / "live", tmp_path / "copy"
    live.mkdir()
    copy.mkdir()
    with Journal.of(live) as journal:  # open: its records are in the -wal
        journal.set_meta("spec", {"name": "x"})
        for name in ("journal.sqlite", "journal.sqlite-wal"):
            shutil.copy2(live / name, copy / name)
    assert (copy / "journal.sqlite-wal").stat().st_size > 0
    for path in [copy, *copy.iterdir()]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        done = hpo_report(str(copy), "--out", str(tmp_path / "out"), cwd=tmp_path, prefix=tuple(unprivileged()))
    finally:
        for path in [copy, *copy.iterdir()]:
            path.chmod(path.stat().st_mode | 0o200)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "cannot be read without journal.sqlite-shm" in done.stderr, done.stderr
