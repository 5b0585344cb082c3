"""hpo-report on a damaged journal or a path it cannot follow: one line, exit 2, nothing
written (a review found tracebacks: JSONDecodeError, TypeError, and OSError 'Too many
levels of symbolic links' from a run directory that is a symlink loop)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from file_modes import journal_not_a_file
from report_journals import run_a

from dnnp_hpo.report.cli import main

BIN = Path(sys.executable).parent


def bad(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hpo-report: ") and "Traceback" not in err, err
    return err


def digest(run: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(run.glob("journal.sqlite*")))).hexdigest()


@pytest.mark.parametrize(("sql", "says"), [
    ("UPDATE meta SET value = '{not json' WHERE key = 'spec'", "meta 'spec' is not JSON but '{not json'"),
    ("ALTER TABLE evaluations DROP COLUMN params", "its table evaluations has no column 'params'"),
    ("UPDATE evaluations SET fitness = '[0.1' WHERE birth_id = 2", "its fitness is not JSON but '[0.1'"),
    ("UPDATE evaluations SET fitness = '[\"a\", 1]' WHERE birth_id = 2", "holds a value that is not a number"),
    ("INSERT OR REPLACE INTO meta VALUES ('schema_version', '\"2\"')", "written by a newer dnnp-hpo"),
    ("DELETE FROM populations; INSERT OR REPLACE INTO meta VALUES ('finished', 'true')", "a finished run, but no population"),
])
def test_a_damaged_journal_is_one_line_naming_it(tmp_path, capsys, sql, says):
    run = run_a(tmp_path / "runA")
    db = sqlite3.connect(run / "journal.sqlite")
    db.executescript(sql)
    db.commit()
    db.close()
    before = digest(run)
    err = bad(capsys, [str(run), "--out", str(tmp_path / "out")])
    assert err.startswith(f"hpo-report: {run / 'journal.sqlite'}: ") and says in err, err
    assert digest(run) == before and not (tmp_path / "out").exists() and not (run / "report").exists()


def test_a_run_dir_that_is_a_symlink_loop_is_one_line(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert "a symbolic link that loops" in bad(capsys, [str(loop)])
    assert "a symbolic link that loops" in bad(capsys, [str(run_a(tmp_path / "runA")), str(loop), "--out",
                                                        str(tmp_path / "merged")])
    done = subprocess.run([str(BIN / "hpo-report"), str(loop)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2 and done.stderr == f"hpo-report: {loop}: a symbolic link that loops (it points, " \
        "in the end, back to itself), not a run directory\n", done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop", "runA"]


@pytest.mark.parametrize("kind", ["directory", "FIFO"])
def test_a_journal_that_is_not_a_regular_file_is_called_so(tmp_path, capsys, kind):
    """It said 'no journal.sqlite here'."""
    run = tmp_path / "run"
    journal_not_a_file(run, kind)
    err = bad(capsys, [str(run), "--out", str(tmp_path / "out")])
    assert err == f"hpo-report: {run / 'journal.sqlite'}: a {kind}, not a regular file, so not a run's journal\n"
