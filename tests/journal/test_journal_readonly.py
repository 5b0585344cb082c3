"""Journal.of(run_dir, readonly=True): reads a real journal (written by another process, in
WAL mode) without writing anything: beside a live writer, from a read-only directory,
after a writer died, and refuses, creating nothing, what is not a journal."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from file_modes import unprivileged
from journal_readers import births_read, make_read_only, make_writable, snapshot, write_journal

from dnnp_hpo.journal import Journal
from dnnp_hpo.journalcheck import EmptyJournal, NotAJournal


def immutable_count(run_dir: Path) -> int:
    """Evaluations in journal.sqlite itself, ignoring its -wal (what immutable=1 would read)."""
    db = sqlite3.connect(f"file:{run_dir / 'journal.sqlite'}?mode=ro&immutable=1", uri=True)
    try:
        return db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.OperationalError:  # not even the tables: they too are only in the -wal
        return 0
    finally:
        db.close()


@pytest.fixture
def read_only_after(tmp_path):
    """Directories made read-only by a test, made writable again for pytest's clean-up."""
    made: list[Path] = []
    yield made
    for root in made:
        make_writable(root)


def test_a_reader_beside_a_live_writer_sees_every_committed_record(tmp_path, read_only_after):
    run_dir = tmp_path / "run"
    writer = write_journal(run_dir, 5, "hold")
    try:
        assert (run_dir / "journal.sqlite-wal").exists()
        assert immutable_count(run_dir) == 0  # the records are only in the live writer's -wal
        with Journal.of(run_dir, readonly=True) as journal:
            assert [e.trial.birth_id for e in journal.evaluations()] == [0, 1, 2, 3, 4]
            assert journal.meta("spec") == {"name": "live"}
        # ...and from another process, with the run directory read-only for it
        run_dir.chmod(0o555)
        read_only_after.append(run_dir)
        assert births_read(run_dir) == [0, 1, 2, 3, 4]
    finally:
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0


def test_a_finished_journal_in_a_read_only_directory(tmp_path, read_only_after):
    run_dir = tmp_path / "run"
    assert write_journal(run_dir, 3, "close").wait(timeout=60) == 0
    assert sorted(p.name for p in run_dir.iterdir()) == ["journal.sqlite"]
    make_read_only(run_dir)
    read_only_after.append(run_dir)
    # The premise: SQLite's plain read-only mode cannot read it here (it must create -shm)
    plain = "import sqlite3, sys; sqlite3.connect(sys.argv[1], uri=True).execute('SELECT * FROM meta')"
    denied = subprocess.run([*unprivileged(), sys.executable, "-c", plain,
                             f"file:{run_dir / 'journal.sqlite'}?mode=ro"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert denied.returncode != 0 and "readonly" in denied.stderr, denied.stderr
    before = snapshot(run_dir)
    assert births_read(run_dir) == [0, 1, 2]
    assert snapshot(run_dir) == before


def test_a_journal_whose_writer_died_in_a_read_only_directory(tmp_path, read_only_after):
    run_dir = tmp_path / "run"
    assert write_journal(run_dir, 4, "crash").wait(timeout=60) == 0
    # A killed driver leaves its -wal (holding every record here) and -shm behind.
    assert {p.name for p in run_dir.iterdir()} >= {"journal.sqlite-wal", "journal.sqlite-shm"}
    assert immutable_count(run_dir) == 0
    make_read_only(run_dir)
    read_only_after.append(run_dir)
    before = snapshot(run_dir)
    assert births_read(run_dir) == [0, 1, 2, 3]
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("reader", ["sqlite3", "Journal"])
def test_a_reader_open_at_the_writers_close_leaves_the_records_in_the_journal(tmp_path, reader):
    """SQLite folds the -wal into the database only at the last connection's close: a
    reader left open (an sqlite3 shell, hpo-report) kept a finished run's every record in
    the -wal, and journal.sqlite copied alone read as an empty journal (helper-69)."""
    run_dir = tmp_path / "run"
    writer = write_journal(run_dir, 4, "hold")
    held = (sqlite3.connect(f"file:{run_dir / 'journal.sqlite'}?mode=ro", uri=True) if reader == "sqlite3"
            else Journal.of(run_dir, readonly=True))
    try:
        if reader == "sqlite3":
            assert held.execute("SELECT count(*) FROM evaluations").fetchone() == (4,)
        else:
            assert len(held.evaluations()) == 4
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0
        assert immutable_count(run_dir) == 4  # journal.sqlite itself holds them
    finally:
        held.close()


def test_a_finished_journal_is_read_without_touching_the_directory(tmp_path):
    run_dir = tmp_path / "run"
    assert write_journal(run_dir, 2, "close").wait(timeout=60) == 0
    before = snapshot(run_dir)
    with Journal.of(run_dir, readonly=True) as journal:
        assert len(journal.evaluations()) == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            journal.set_meta("finished", True)
    assert snapshot(run_dir) == before  # no -wal/-shm left, journal.sqlite untouched


def test_what_is_not_a_journal_is_refused_and_nothing_is_created(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotAJournal, match="no such file"):
        Journal.of(empty, readonly=True)
    assert list(empty.iterdir()) == []
    with pytest.raises(NotAJournal, match="no such file"):
        Journal.of(tmp_path / "missing", readonly=True)
    assert not (tmp_path / "missing").exists()

    cases = {
        "garbage": (b"this is not an SQLite database, not at all" * 10, NotAJournal, "not a run journal"),
        "zero bytes": (b"", EmptyJournal, "empty journal"),
    }
    for name, (content, error, message) in cases.items():
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "journal.sqlite").write_bytes(content)
        with pytest.raises(error, match=message):
            Journal.of(run_dir, readonly=True)
        assert [p.name for p in run_dir.iterdir()] == ["journal.sqlite"], name
        assert (run_dir / "journal.sqlite").read_bytes() == content

    other = tmp_path / "other"
    other.mkdir()
    db = sqlite3.connect(other / "journal.sqlite")
    db.execute("CREATE TABLE notes (text TEXT)")
    db.commit()
    db.close()
    with pytest.raises(NotAJournal, match="no table 'meta'"):
        Journal.of(other, readonly=True)
    assert [p.name for p in other.iterdir()] == ["journal.sqlite"]



CREATE_UNDER_LIMITS = """
import json, os, resource, signal, sys
from pathlib import Path
from dnnp_hpo.journal import Journal  # imported once: each limit is tried in a child process of its own
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
statuses = {}
for run_dir, limit in zip(sys.argv[1::2], map(int, sys.argv[2::2])):
    pid = os.fork()
    if pid == 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        try:
            Journal.of(Path(run_dir)).close()
        except Exception as exc:
            print(limit, type(exc).__name__, exc, file=sys.stderr)
            sys.exit(3)
        sys.exit(0)  # the child ends as a process of its own did, its interpreter shut down
    statuses[run_dir] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(statuses))
"""


def test_a_journal_whose_creation_fails_part_way_is_read_as_empty(tmp_path):
    """The disk filled while the schema was written: each CREATE was its own commit, so
    the journal kept some tables, and the same command then refused it for good ("not a
    run journal (no table 'evaluations')"). Real write failures: the process's file-size
    limit stops SQLite's writes as a full disk would."""
    limits = {tmp_path / f"limit-{limit}": limit for limit in range(0, 40_000, 2048)}
    for run_dir in limits:
        run_dir.mkdir()
    done = subprocess.run([sys.executable, "-c", CREATE_UNDER_LIMITS, *(str(x) for item in limits.items() for x in item)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    statuses = json.loads(done.stdout)
    failed = 0
    for run_dir in limits:
        assert statuses[str(run_dir)] in (0, 3), done.stderr
        failed += statuses[str(run_dir)] == 3
        try:
            with Journal.of(run_dir, readonly=True) as journal:  # whole, or nothing to read
                assert journal.meta("spec", None) is None
        except EmptyJournal:
            pass
        with Journal.of(run_dir) as journal:  # what a resume (a fresh start) then does
            journal.set_meta("spec", {"seed": 1})
        with Journal.of(run_dir, readonly=True) as journal:
            assert journal.meta("spec") == {"seed": 1}
    assert failed >= 3, "the limits should stop the journal's creation part-way"


def test_a_half_created_journal_of_an_older_version_is_a_fresh_start_not_a_refusal(tmp_path):
    """Journals that older versions left with some of the tables, none holding a row."""
    run_dir = tmp_path / "half"
    run_dir.mkdir()
    db = sqlite3.connect(run_dir / "journal.sqlite")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.commit()
    with pytest.raises(EmptyJournal, match="half-created"):
        Journal.of(run_dir, readonly=True)
    db.execute("INSERT INTO meta VALUES ('spec', '{}')")  # a row: something was recorded, so not ours to drop
    db.commit()
    db.close()
    with pytest.raises(NotAJournal, match="no table 'evaluations'") as refused:
        Journal.of(run_dir, readonly=True)
    assert not isinstance(refused.value, EmptyJournal)
