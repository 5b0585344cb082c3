"""The run journal: ``RUN_DIR/journal.sqlite``, the one record of a run.

One row per evaluation, inserted when it is sent out (status ``running``) and updated
in a transaction the moment it finishes; the population after every generation with
its rank and crowding distance, written in the same transaction as the optimizer's
state, so a run killed at any moment resumes from a consistent last generation.
Everything else (CSV files, reports, resume) is derived from it.  Its layout is
:mod:`dnnp_hpo.journalschema`; what tells a journal, and damage in one, from what
dnnp-hpo writes is :mod:`dnnp_hpo.journalcheck`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import attrs

from dnnp_hpo.errors import RecordsFailed, shortened
from dnnp_hpo.evaluation import STATUSES, Evaluation, Member, Trial
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.journalcheck import (
    MACHINE_FAULTS,
    NotAJournal,
    check_version,
    connect_readonly,
    damaged,
    evaluation_from_row,
    lengths,
    loaded,
)
from dnnp_hpo.journalschema import COLUMNS, INTERRUPTED, RUNNING, SCHEMA, SCHEMA_KEY, SCHEMA_VERSION, dumps

FILENAME = "journal.sqlite"
# The run-level facts in the ``meta`` table, one key each (docs/outputs.md lists them).
#: the spec the run started with (an extension's, once extended): what a resume compares
SPEC = "spec"
#: true once the last generation is recorded: hpo-run there only shows the front
FINISHED = "finished"
#: the trainer's and optimizer's settings as the run started, every default filled in
RESOLVED = "resolved"
#: the prepared trainer's ``input_digest()`` as the run started (its template's content)
TEMPLATE_DIGEST = "template_digest"
#: the content digests of the trainer's data paths as the run started (core/fingerprint.py)
DATA_DIGESTS = "data_digests"
#: the spec's ``report`` block of the run's latest session (limits changed with --force
#: are in here; SPEC keeps those the run started with)
REPORT_SETTINGS = "report_settings"
#: the spec's objectives (``{"name", "unit"}`` each) of the run's latest session, recorded
#: with REPORT_SETTINGS: a --force resume may change their units, and hpo-report judges
#: accuracy in the units hpo-run's last front table showed (SPEC keeps the first ones)
OBJECTIVES = "objectives"
#: the versions of dnnp-hpo and of the distributions of the run's trainer, optimizer and
#: launcher (``{name: version}``) of the session that started it (or forced it last)
VERSIONS = "versions"
#: seconds a write waits for another program that holds the journal (SQLite's default: 5)
BUSY_TIMEOUT_S = 60.0
#: seconds the driver's close waits for a reader's read to end, to checkpoint the -wal
CLOSE_CHECKPOINT_WAIT_S = 2.0

@attrs.frozen
class Checkpoint:
    """The last complete generation: where a resumed run continues from."""

    generation: int
    population: list[Member]
    state: dict[str, Any]  #: the optimizer's own, opaque to core


class Journal:
    """A run's SQLite journal (WAL mode); only the driver writes to it.

    Open it read-write (the driver; creates the journal) or ``readonly`` (everything that
    only reads: hpo-report, the CSV export, checking a run directory), which writes nothing
    and so works on a run copied to a read-only place and beside a live driver.  Use it as a
    context manager: ``with Journal.of(run_dir, readonly=True) as journal: ...``.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.root = resolved_path(self.path.parent)  #: the run directory the journal is in now
        self.readonly = readonly
        if readonly:
            self.db, self._sent_after = connect_readonly(self.path)
            return
        self._sent_after = True
        with self._writing():
            # A reader that holds the journal (hpo-report, an sqlite3 shell) is waited for
            # up to BUSY_TIMEOUT_S at each write rather than SQLite's 5 s.
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            self._identity = _identity(self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # One transaction: a full disk or a kill part-way leaves no table rather than
            # some, which a resume reads as a fresh start (see journalcheck._check_tables).
            try:
                self.db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}")
                columns = {row[1] for row in self.db.execute("PRAGMA table_info(evaluations)")}
                check_version(self.db, self.path)  # before anything is added to a newer one
                if "sent_after" not in columns:  # a journal from before 2026-12-05: no birth has one
                    self.db.execute("ALTER TABLE evaluations ADD COLUMN sent_after INTEGER")
                self.db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (SCHEMA_KEY, dumps(SCHEMA_VERSION)))
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
        if not self.readonly:
            # SQLite folds the -wal into journal.sqlite only at the close of the last
            # connection: with a reader still open (hpo-report, an sqlite3 shell) every
            # record stayed in the -wal for good, and a copy of journal.sqlite alone read as
            # an empty journal.  A reader in the middle of a read is waited for a moment.
            with suppress(sqlite3.Error):  # best effort: the records are safe in the -wal
                self.db.execute(f"PRAGMA busy_timeout = {int(CLOSE_CHECKPOINT_WAIT_S * 1000)}")
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._check_still_there()
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
    def snapshot(self) -> Iterator[Self]:
        """One read transaction: every read inside sees the journal as of one commit (one
        WAL snapshot).  Read one by one, the records of a live run could mix two commits: a
        generation recorded between reading the evaluations and the populations gave a
        population whose members were not among the evaluations.  Writes nothing."""
        self.db.execute("BEGIN")
        try:
            yield self
        finally:
            if self.db.in_transaction:
                with suppress(sqlite3.Error):  # a read-only transaction: nothing to keep or lose
                    self.db.execute("ROLLBACK")

    def _check_still_there(self) -> None:
        """RecordsFailed if the file this journal writes is no longer the one at its path:
        removed (``rm``) or replaced (``mv``) while the run went on, SQLite went on writing
        into the file it had open, and the run ended with exit 0 and no record of it at all
        (helper-117).  A removed journal is written back first from that open file, all
        its records, so that the same command resumes; a replaced one is left as it is (the
        file there now is someone's)."""
        if self.readonly:  # writes nothing: a bug's write is refused by SQLite itself
            return
        now = _identity(self.path)
        if now == self._identity:
            return
        written_back = False
        if now is None and self.path.parent.is_dir():
            with suppress(sqlite3.Error, OSError):
                with closing(sqlite3.connect(self.path)) as copy:
                    self.db.backup(copy)
                written_back = True
        how = "removed" if now is None else "replaced by another file"
        then = ("written back from the file hpo-run still had open, every record in it: run hpo-run again to "
                "resume" if written_back else "the run's records since it opened it are lost with it")
        raise RecordsFailed(self.path, OSError(f"{how} while the run wrote it"), then)

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
        self.set_metas({key: value})

    def set_metas(self, values: Mapping[str, Any]) -> None:
        """Several meta keys at once: all or none of them are written."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, dumps(v)) for k, v in values.items()])

    def meta(self, key: str, default: Any = None) -> Any:
        """The run-level value stored under ``key`` (JSON-decoded), or ``default``."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else loaded(self.path, f"meta {key!r}", row[0], object)

    def report_settings(self) -> dict[str, Any]:
        """The ``report:`` block of the run's latest session (meta REPORT_SETTINGS; in a
        journal from before it was recorded, the spec's), ``{}`` without one; DamagedJournal
        naming the meta key unless it is a mapping whose ``chemical_accuracy`` maps names to
        positive numbers, as the spec check requires (a damaged one gave a TypeError)."""
        key, block = REPORT_SETTINGS, self.meta(REPORT_SETTINGS)
        where = ""
        if block is None:
            spec = self.meta(SPEC)
            key, block, where = SPEC, spec.get("report") if isinstance(spec, dict) else None, "report."
        if block is None:
            return {}
        if not isinstance(block, dict):
            raise damaged(self.path, f"meta {key!r}: {where.rstrip('.') or 'its value'} is not a mapping but "
                                      f"{shortened(dumps(block))}")
        limits = block.get("chemical_accuracy")
        if limits is None:
            return block
        if not isinstance(limits, dict):
            raise damaged(self.path, f"meta {key!r}: {where}chemical_accuracy is not a mapping but "
                                      f"{shortened(dumps(limits))}")
        for name, limit in limits.items():
            if not _positive_number(limit):
                raise damaged(self.path, f"meta {key!r}: {where}chemical_accuracy.{name} is "
                                          f"{shortened(dumps(limit))}, not a positive limit")
        return block

    def objectives(self) -> list[tuple[str, str]] | None:
        """``(name, unit)`` of each objective as of the run's latest session (meta
        OBJECTIVES), or None in a journal from before it was recorded (the spec's are the
        run's); DamagedJournal unless it is a list of ``{"name", "unit"}`` strings."""
        listed = self.meta(OBJECTIVES)
        if listed is None:
            return None
        if not isinstance(listed, list) or not listed or not all(
                isinstance(o, dict) and isinstance(o.get("name"), str) and isinstance(o.get("unit"), str)
                for o in listed):
            raise damaged(self.path, f"meta {OBJECTIVES!r} is not a list of objectives (name and unit) but "
                                      f"{shortened(dumps(listed))}")
        return [(o["name"], o["unit"]) for o in listed]

    # -- evaluations --------------------------------------------------------------------

    def started(self, trial: Trial) -> None:
        """Record that ``trial`` was sent out: the row a resume finds if the driver dies."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO evaluations (uuid, birth_id, generation, genome, params, seed, workdir, status,"
                " sent_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (trial.uuid, trial.birth_id, trial.generation, dumps(trial.genome),
                 dumps(trial.params), trial.seed, self._stored(trial.workdir), RUNNING, trial.sent_after),
            )

    def finished(self, evaluation: Evaluation) -> None:
        """Record one finished evaluation (inserting it if it was never marked started)."""
        t = evaluation.trial
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO evaluations (uuid, birth_id, generation, genome, params, seed, workdir,"
                " status, reason, fitness, metrics, start, stop, hostname, pid, sent_after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (t.uuid, t.birth_id, t.generation, dumps(t.genome), dumps(t.params), t.seed,
                 self._stored(t.workdir), evaluation.status, evaluation.reason, dumps(evaluation.fitness),
                 dumps(evaluation.metrics), evaluation.start, evaluation.stop,
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
        columns = self._evaluation_columns()
        if status is None:
            rows = self.db.execute(
                f"SELECT {columns} FROM evaluations WHERE status NOT IN (?, ?) ORDER BY "
                + ("rowid" if recorded else "birth_id, start"),
                (RUNNING, INTERRUPTED),
            )
        else:
            rows = self.db.execute(f"SELECT {columns} FROM evaluations WHERE status = ? ORDER BY birth_id", (status,))
        return [evaluation_from_row(row, self.root, self.path) for row in rows.fetchall()]

    def _evaluation_columns(self, table: str = "") -> str:
        """The columns :func:`~dnnp_hpo.journalcheck.evaluation_from_row` reads, by name
        (not ``*``: a journal's columns may be in another order, or without ``sent_after``)."""
        prefix = f"{table}." if table else ""
        names = [prefix + name for name in COLUMNS["evaluations"]]
        return ", ".join([*names, f"{prefix}sent_after" if self._sent_after else "NULL"])

    def births(self) -> list[tuple[int, int, str]]:
        """(birth id, generation, status) of every evaluation, whatever its status: what a
        resume's budget checks count, without reading each record whole."""
        return self.db.execute("SELECT birth_id, generation, status FROM evaluations").fetchall()

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
                db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", (generation, dumps(dict(state))))

    def generations(self) -> list[int]:
        """The generations whose population is recorded, in order."""
        return [g for (g,) in self.db.execute("SELECT DISTINCT generation FROM populations ORDER BY generation")]

    def population(self, generation: int) -> list[Member]:
        """The survivors recorded for ``generation``, in the optimizer's order, with rank
        and crowding distance."""
        rows = self.db.execute(
            f"SELECT {self._evaluation_columns('e')}, p.rank, p.distance FROM populations p"
            " JOIN evaluations e USING (uuid) WHERE p.generation = ? ORDER BY p.position",
            (generation,),
        ).fetchall()
        return [Member(evaluation_from_row(row[:-2], self.root, self.path), int(row[-2]), float(row[-1])) for row in rows]

    def checkpoint(self) -> Checkpoint | None:
        """The last generation whose population and optimizer state were both recorded."""
        row = self.db.execute("SELECT generation, state FROM checkpoints ORDER BY generation DESC LIMIT 1").fetchone()
        if row is None:
            return None
        generation, state = row
        return Checkpoint(generation, self.population(generation), self._state(generation, state))

    def states(self) -> dict[int, Any]:
        """Every recorded optimizer state, by generation (hpo-report reads a steady-state
        run's snapshots from them)."""
        return {generation: self._state(generation, state)
                for generation, state in self.db.execute("SELECT generation, state FROM checkpoints")}

    def _state(self, generation: Any, state: Any) -> dict[str, Any]:
        return loaded(self.path, f"the optimizer state of generation {generation}", state, dict)

    def genomes(self) -> Iterator[tuple[int, list[float], dict[str, Any]]]:
        """(birth id, genome, params) of every evaluation, whatever its status: the two
        columns alone (a resume decodes every genome again), read as :meth:`check` found them."""
        for birth_id, genome, params in self.db.execute("SELECT birth_id, genome, params FROM evaluations"):
            yield birth_id, json.loads(genome), json.loads(params)

    def trainings(self) -> set[tuple[tuple[float, ...], int]]:
        """(genome, training seed) of every evaluation, whatever its status: the two columns
        alone (a replicates run checks it makes no training its source made)."""
        found = set()
        for genome, seed in self.db.execute("SELECT genome, seed FROM evaluations"):
            try:
                genes = json.loads(genome)
                found.add((tuple(float(g) for g in genes), int(seed)))
            except (ValueError, TypeError):  # a row not as dnnp-hpo writes it (helper-114)
                raise damaged(self.path, f"an evaluation's genome or seed does not read: {genome!r}, {seed!r}") \
                    from None
        return found

    def check(self) -> None:
        """DamagedJournal unless every record reads as dnnp-hpo writes it (or NotAJournal
        for another fault of the file); reads only.

        One pass over the whole journal, for what reads it all before doing anything (a
        resume, a finished run's front, hpo-report): a value found unreadable half-way would
        otherwise stop a run after its engine had started, or a report with a traceback.
        Opening it already checked the tables' columns and the schema version."""
        try:
            for (key,) in self.db.execute("SELECT key FROM meta").fetchall():
                self.meta(key)
            spec, finished = self.meta(SPEC), self.meta(FINISHED)
            if spec is not None and not isinstance(spec, dict):
                raise damaged(self.path, f"meta 'spec' is not a mapping but {shortened(dumps(spec))}")
            if finished is not None and not isinstance(finished, bool):
                raise damaged(self.path, f"meta 'finished' is not true or false but {shortened(dumps(finished))}")
            versions = self.meta(VERSIONS)
            if versions is not None and not (isinstance(versions, dict) and all(
                    isinstance(v, str) for v in (*versions, *versions.values()))):
                raise damaged(self.path, f"meta 'versions' is not a mapping of names to versions but "
                                         f"{shortened(dumps(versions))}")
            genes, scores = lengths(spec, self.objectives())
            for row in self.db.execute(f"SELECT {self._evaluation_columns()} FROM evaluations"):
                evaluation = evaluation_from_row(row, self.root, self.path)
                # A genome or a fitness of another length stopped a resume with a traceback
                # (the space's decode, numpy's ranking) and the report took the genome as
                # it was; lengths from the spec and objectives, else the first row's
                genome, fitness = evaluation.trial.genome, evaluation.fitness
                genes = len(genome) if genes is None else genes
                if fitness and scores is None:
                    scores = len(fitness)
                if len(genome) != genes or evaluation.status in STATUSES and len(fitness) != scores:
                    raise damaged(self.path, f"evaluation {shortened(evaluation.trial.uuid)} has {len(genome)} "
                                              f"genes and {len(fitness)} fitness values, where the run has {genes} "
                                              f"parameters and {scores} objectives")
            row = self.db.execute(
                "SELECT p.generation, p.uuid FROM populations p LEFT JOIN evaluations e USING (uuid)"
                " WHERE e.uuid IS NULL LIMIT 1").fetchone()
            if row is not None:
                raise damaged(self.path, f"the population of generation {row[0]} holds {row[1]!r}, which is "
                                          "not in its evaluations")
            row = self.db.execute(
                "SELECT generation, position FROM populations WHERE typeof(generation) != 'integer'"
                " OR typeof(position) != 'integer' OR typeof(rank) != 'integer'"
                " OR typeof(distance) NOT IN ('real', 'integer') OR generation < 0 OR position < 0 OR rank < 0"
                " LIMIT 1").fetchone()
            if row is not None:
                raise damaged(self.path, f"population row {row[1]!r} of generation {row[0]!r} has no number "
                                          "for its generation, position, rank or distance, or one below 0")
            for generation, state in self.db.execute("SELECT generation, state FROM checkpoints").fetchall():
                if not isinstance(generation, int):
                    raise damaged(self.path, f"a checkpoint's generation is {shortened(str(generation))}")
                self._state(generation, state)
            if finished and not self.generations():
                raise damaged(self.path, "it records a finished run, but no population")
        except NotAJournal:
            raise
        except sqlite3.DatabaseError as exc:  # a page that cannot be read: "disk image is malformed"
            if str(getattr(exc, "sqlite_errorname", "")).startswith(MACHINE_FAULTS):
                raise  # what the machine does (a lock held by another program): not damage
            raise damaged(self.path, str(exc)) from None

    def integrity(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


def resolved_path(path: Path) -> Path:
    """``path`` resolved, or made absolute where it cannot be (a symbolic link that loops)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13's "Symlink loop from ..."
        return path.absolute()


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of the file at ``path`` (None: there is none)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino



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
        self.journal.set_meta(FINISHED, True)


def _positive_number(value: Any) -> bool:
    """Whether the spec check takes ``value`` as a limit: what ``float()`` reads (a quoted
    ``"0.5"`` too, which the spec keeps as written) and is above 0; not true or false."""
    if isinstance(value, bool):
        return False
    try:
        return float(value) > 0
    except (TypeError, ValueError, OverflowError):
        return False
