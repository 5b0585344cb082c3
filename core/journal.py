"""The run journal: ``RUN_DIR/journal.sqlite``, the one record of a run.

One row per evaluation, inserted when it is sent out (status ``running``) and updated
in a transaction the moment it finishes; the population after every generation with
its rank and crowding distance, written in the same transaction as the optimizer's
state, so a run killed at any moment resumes from a consistent last generation.
Everything else (CSV files, reports, resume) is derived from it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import attrs

from dnnp_hpo.errors import RecordsFailed
from dnnp_hpo.evaluation import Evaluation, Member, Trial
from dnnp_hpo.hookspecs import hookimpl

FILENAME = "journal.sqlite"
RUNNING = "running"  #: sent to a worker, not finished (yet)
INTERRUPTED = "interrupted"  #: set aside on resume (was running, or no longer matches); re-run under a new uuid
SCHEMA_VERSION = "1"
#: SQLite's names (and their extended forms, SQLITE_IOERR_WRITE...) of what the machine
#: does to a write: a lock held too long, the disk full, a read-only file or directory
MACHINE_FAULTS = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR",
                  "SQLITE_CANTOPEN", "SQLITE_PERM")
#: seconds a write waits for another program that holds the journal (SQLite's default: 5)
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    uuid TEXT PRIMARY KEY,
    birth_id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    genome TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    workdir TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    fitness TEXT,
    metrics TEXT,
    start REAL,
    stop REAL,
    hostname TEXT,
    pid INTEGER,
    sent_after INTEGER
);
CREATE INDEX IF NOT EXISTS evaluations_birth ON evaluations (birth_id);
CREATE TABLE IF NOT EXISTS populations (
    generation INTEGER NOT NULL,
    position INTEGER NOT NULL,
    uuid TEXT NOT NULL REFERENCES evaluations (uuid),
    rank INTEGER NOT NULL,
    distance REAL NOT NULL,
    PRIMARY KEY (generation, position)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    generation INTEGER PRIMARY KEY,
    state TEXT NOT NULL
);
"""


def _dumps(value: Any) -> str:
    # Python's json writes floats with repr(): they read back bit for bit.  Infinity is
    # allowed (a crowding distance at the edge of a front is infinite).
    return json.dumps(value)


@attrs.frozen
class Checkpoint:
    """The last complete generation: where a resumed run continues from."""

    generation: int
    population: list[Member]
    state: dict[str, Any]  #: the optimizer's own, opaque to core


class NotAJournal(sqlite3.DatabaseError):
    """A path opened read-only that holds no run journal (missing, or not one of ours)."""


class EmptyJournal(NotAJournal):
    """A journal file without any table: its driver was killed while creating it."""


class Journal:
    """A run's SQLite journal (WAL mode); only the driver writes to it.

    Open it read-write (the driver; creates the journal) or ``readonly`` (everything that
    only reads: hpo-report, the CSV export, checking a run directory), which writes nothing
    and so works on a run copied to a read-only place and beside a live driver.  Use it as a
    context manager: ``with Journal.of(run_dir, readonly=True) as journal: ...``.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.root = self.path.parent.resolve()  #: the run directory the journal is in now
        self.readonly = readonly
        if readonly:
            self.db = _connect_readonly(self.path)
            return
        with self._writing():
            # A reader that holds the journal (hpo-report, an sqlite3 shell) is waited for
            # up to BUSY_TIMEOUT_S at each write rather than SQLite's 5 s.
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # One transaction: a full disk or a kill part-way leaves no table rather than
            # some, which a resume reads as a fresh start (see _check_tables).
            try:
                self.db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}")
                columns = {row[1] for row in self.db.execute("PRAGMA table_info(evaluations)")}
                if "sent_after" not in columns:  # a journal from before 2026-12-05: no birth has one
                    self.db.execute("ALTER TABLE evaluations ADD COLUMN sent_after INTEGER")
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    with suppress(sqlite3.Error):  # the error that got us here is the one to show
                        self.db.execute("ROLLBACK")
                raise

    @classmethod
    def of(cls, run_dir: Path, *, readonly: bool = False) -> Journal:
        return cls(Path(run_dir) / FILENAME, readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._writing():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # not after a COMMIT that failed and ended it
                    with suppress(sqlite3.Error):
                        self.db.execute("ROLLBACK")
                raise

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """RecordsFailed (one line, exit 3) for what the machine does to a write: the
        journal locked by another program past the wait, the disk full, the directory
        read-only.  Not for SQL errors, which are bugs (IntegrityError and the like), nor
        for a write through a journal opened read-only (a bug too)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            # SQL mistakes are OperationalErrors too (no such column...): only what the
            # machine does is resumable, by SQLite's own name for it.
            if self.readonly or not str(getattr(exc, "sqlite_errorname", "")).startswith(MACHINE_FAULTS):
                raise
            raise RecordsFailed(self.path, exc) from None
        except OSError as exc:
            raise RecordsFailed(getattr(exc, "filename", None) or self.path, exc) from None

    # -- meta ---------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- evaluations --------------------------------------------------------------------

    def started(self, trial: Trial) -> None:
        """Record that ``trial`` was sent out: the row a resume finds if the driver dies."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO evaluations (uuid, birth_id, generation, genome, params, seed, workdir, status,"
                " sent_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (trial.uuid, trial.birth_id, trial.generation, _dumps(trial.genome),
                 _dumps(trial.params), trial.seed, self._stored(trial.workdir), RUNNING, trial.sent_after),
            )

    def finished(self, evaluation: Evaluation) -> None:
        """Record one finished evaluation (inserting it if it was never marked started)."""
        t = evaluation.trial
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO evaluations (uuid, birth_id, generation, genome, params, seed, workdir,"
                " status, reason, fitness, metrics, start, stop, hostname, pid, sent_after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (t.uuid, t.birth_id, t.generation, _dumps(t.genome), _dumps(t.params), t.seed,
                 self._stored(t.workdir), evaluation.status, evaluation.reason, _dumps(evaluation.fitness),
                 _dumps(evaluation.metrics), evaluation.start, evaluation.stop,
                 evaluation.hostname, evaluation.pid, t.sent_after),
            )

    def _stored(self, workdir: Path) -> str:
        """``workdir`` as recorded: relative to the run directory when inside it (always, for
        RUN_DIR/evals/<uuid>), so a run directory moved or copied elsewhere reads, and
        harvests from, its own evaluation directories, not the ones it was copied from."""
        try:
            return str(Path(workdir).relative_to(self.root))
        except ValueError:
            return str(workdir)

    def mark_interrupted(self, uuid: str, reason: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE evaluations SET status = ?, reason = ? WHERE uuid = ?",
                       (INTERRUPTED, reason, uuid))

    def evaluations(self, status: str | None = None, *, recorded: bool = False) -> list[Evaluation]:
        """Every recorded evaluation (finished ones by default: not running/interrupted).

        By birth, or with ``recorded`` in the order they were recorded as finished: a
        finished row is written with INSERT OR REPLACE, which gives it a rowid above every
        other, so rowid order is finishing order (a steady-state resume replays it).
        """
        if status is None:
            rows = self.db.execute(
                "SELECT * FROM evaluations WHERE status NOT IN (?, ?) ORDER BY "
                + ("rowid" if recorded else "birth_id, start"),
                (RUNNING, INTERRUPTED),
            )
        else:
            rows = self.db.execute("SELECT * FROM evaluations WHERE status = ? ORDER BY birth_id", (status,))
        return [_evaluation(row, self.root) for row in rows.fetchall()]

    def running(self) -> list[Trial]:
        """Trials sent out but never recorded as finished."""
        return [e.trial for e in self.evaluations(RUNNING)]

    # -- generations --------------------------------------------------------------------

    def generation_finished(self, generation: int, population: Sequence[Member],
                            state: Mapping[str, Any] | None) -> None:
        """The survivors of ``generation`` and the optimizer's state, atomically."""
        with self.transaction() as db:
            db.execute("DELETE FROM populations WHERE generation = ?", (generation,))
            db.executemany(
                "INSERT INTO populations VALUES (?, ?, ?, ?, ?)",
                [(generation, i, m.evaluation.trial.uuid, m.rank, m.distance)
                 for i, m in enumerate(population)],
            )
            if state is not None:
                db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", (generation, _dumps(dict(state))))

    def generations(self) -> list[int]:
        return [g for (g,) in self.db.execute("SELECT DISTINCT generation FROM populations ORDER BY generation")]

    def population(self, generation: int) -> list[Member]:
        rows = self.db.execute(
            "SELECT e.*, p.rank, p.distance FROM populations p JOIN evaluations e USING (uuid)"
            " WHERE p.generation = ? ORDER BY p.position",
            (generation,),
        ).fetchall()
        return [Member(_evaluation(row[:-2], self.root), int(row[-2]), float(row[-1])) for row in rows]

    def checkpoint(self) -> Checkpoint | None:
        """The last generation whose population and optimizer state were both recorded."""
        row = self.db.execute("SELECT generation, state FROM checkpoints ORDER BY generation DESC LIMIT 1").fetchone()
        if row is None:
            return None
        generation, state = row
        return Checkpoint(generation, self.population(generation), json.loads(state))

    def states(self) -> dict[int, Any]:
        """Every recorded optimizer state, by generation (hpo-report reads a steady-state
        run's snapshots from them)."""
        return {generation: json.loads(state)
                for generation, state in self.db.execute("SELECT generation, state FROM checkpoints")}

    def integrity(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


_TABLES = ("meta", "evaluations", "populations", "checkpoints")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write and creates no file, or NotAJournal."""
    if not path.is_file():
        # Checked first: SQLite's own message ("unable to open database file") names no path.
        raise NotAJournal(f"{path}: no such file")
    wal = path.with_name(path.name + "-wal")
    # Without a -wal file no connection has the journal open (the driver's WAL connection
    # keeps one from its first read to its close) and every committed record is in the
    # main file: immutable=1 reads it without locks and without the -wal/-shm files that
    # mode=ro would create, leave behind, and cannot create in a read-only directory.
    # With a -wal file a driver is live (or died): records it committed may be only in the
    # -wal, which immutable=1 would ignore, so read through SQLite's locks and index
    # (mode=ro; a read-only -shm also works, SQLite >= 3.22).  A driver that starts
    # after the check writes to a new -wal and touches the main file only when it
    # checkpoints (every ~1000 pages, or at its close), far longer than a read takes.
    query = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    db = sqlite3.connect(f"file:{quote(str(path.absolute()))}?{query}", uri=True, isolation_level=None)
    try:
        _check_tables(db, path)
    except NotAJournal:
        db.close()
        shm = path.with_name(path.name + "-shm")
        if wal.exists() and not shm.exists() and not os.access(path.parent, os.W_OK):
            # SQLite needs the -shm index to read a -wal, and cannot make one here.
            raise NotAJournal(f"{path}: its {wal.name} cannot be read without {shm.name}, which this "
                              "read-only directory lacks: copy the run directory whole (every journal.sqlite* "
                              "file), or read it where it can be written") from None
        raise
    except BaseException:
        db.close()
        raise
    return db


def _check_tables(db: sqlite3.Connection, path: Path) -> None:
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise NotAJournal(f"{path}: not a run journal ({exc})") from None
    if not tables:
        raise EmptyJournal(f"{path}: an empty journal (its driver was killed while creating it)")
    missing = [table for table in _TABLES if table not in tables]
    if missing and tables <= set(_TABLES) and not any(
            db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() for table in tables):
        # Only some of our tables, all empty: left by a version that created them one by
        # one, when the disk filled (or the driver was killed) part-way.  Nothing was run.
        raise EmptyJournal(f"{path}: a journal its driver left half-created")
    if missing:
        raise NotAJournal(f"{path}: not a run journal (no table {missing[0]!r})")


def _evaluation(row: Sequence[Any], root: Path) -> Evaluation:
    """An evaluation from its row; a relative ``workdir`` is under ``root`` (the run
    directory where the journal is now; journals before 2026-12-02 hold absolute paths, and
    those before 2026-12-05 no ``sent_after`` column)."""
    (uuid, birth_id, generation, genome, params, seed, workdir, status, reason,
     fitness, metrics, start, stop, hostname, pid, *sent_after) = row
    trial = Trial(uuid=uuid, birth_id=birth_id, generation=generation,
                  genome=tuple(json.loads(genome)), params=json.loads(params), seed=seed,
                  workdir=root / workdir, sent_after=sent_after[0] if sent_after else None)
    return Evaluation(
        trial=trial, status=status, reason=reason or "",
        fitness=tuple(json.loads(fitness)) if fitness else (),
        metrics=json.loads(metrics) if metrics else {},
        start=start or 0.0, stop=stop or 0.0, hostname=hostname or "", pid=pid if pid is not None else -1,
    )


class JournalRecorder:
    """The observer that writes a run's events into its journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @hookimpl
    def dnnp_hpo_evaluation_started(self, trial: Trial) -> None:
        self.journal.started(trial)

    @hookimpl
    def dnnp_hpo_evaluation_interrupted(self, trial: Trial, rerun: Trial) -> None:
        self.journal.mark_interrupted(trial.uuid, f"not used by the resumed run; birth {trial.birth_id} "
                                      f"re-run as {rerun.uuid}")

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, evaluation: Evaluation) -> None:
        self.journal.finished(evaluation)

    @hookimpl
    def dnnp_hpo_generation_finished(self, generation: int, population: Sequence[Member],
                                     state: Mapping[str, Any]) -> None:
        self.journal.generation_finished(generation, population, state)

    @hookimpl
    def dnnp_hpo_run_finished(self) -> None:
        self.journal.set_meta("finished", True)
