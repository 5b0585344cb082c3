"""Telling a run journal from what is not one, and damage from what dnnp-hpo writes.

Everything that reads a journal goes through these checks first: a path that is no
regular file, an SQLite file of someone else's, a journal its driver left empty or
half-created, one of a newer dnnp-hpo, and records that do not read as dnnp-hpo writes
them each give one line naming the journal and what is wrong (exit 2 at the command
line), never a traceback half-way through a resume or a report.  Nothing here writes.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sqlite3
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dnnp_hpo.errors import shortened
from dnnp_hpo.evaluation import OK, STATUSES, Evaluation, Trial
from dnnp_hpo.journalschema import COLUMNS, INTERRUPTED, RUNNING, SCHEMA_KEY, SCHEMA_VERSION, TABLES, dumps

#: SQLite's names (and their extended forms, SQLITE_IOERR_WRITE...) of what the machine
#: does to a write: a lock held too long, the disk full, a read-only file or directory
MACHINE_FAULTS = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR",
                  "SQLITE_CANTOPEN", "SQLITE_PERM")


class NotAJournal(sqlite3.DatabaseError):
    """A path opened read-only that holds no run journal (missing, or not one of ours)."""


class EmptyJournal(NotAJournal):
    """A journal file without any table: its driver was killed while creating it."""


class DamagedJournal(NotAJournal):
    """A run journal whose records do not read as dnnp-hpo writes them: a table without one
    of its columns, a value that is not its JSON, a finished run without a population.
    Nothing is changed in it: the message names the journal and what is wrong."""


class NewerJournal(NotAJournal):
    """A journal of a higher :data:`SCHEMA_VERSION`, written by a newer dnnp-hpo."""


def damaged(path: Path, what: str) -> DamagedJournal:
    return DamagedJournal(f"{path}: damaged journal: {what}")


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be a journal file (None if it is a regular file): missing, or
    something else (a directory, a FIFO...), which SQLite would open, or wait on, with a
    message that names no path."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops, not a regular file"
        return "no such file" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else (exc.strerror or str(exc)).lower()
    if stat.S_ISREG(mode):
        return None
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device")
    return f"{kind}, not a regular file"


def connect_readonly(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection that cannot write and creates no file, and whether its evaluations
    have a ``sent_after`` column; or NotAJournal."""
    problem = not_a_file(path)
    if problem:
        # Checked first: SQLite's own message ("unable to open database file") names no path.
        raise NotAJournal(f"{path}: {problem}")
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
        return db, _check_structure(db, path)
    except (DamagedJournal, NewerJournal):
        db.close()
        raise
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


def _check_tables(db: sqlite3.Connection, path: Path) -> None:
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_CORRUPT"):
            # An SQLite file, cut short or overwritten in part: a journal, possibly ours.
            raise damaged(path, str(exc)) from None
        raise NotAJournal(f"{path}: not a run journal ({exc})") from None
    if not tables:
        raise EmptyJournal(f"{path}: an empty journal (its driver was killed while creating it)")
    missing = [table for table in TABLES if table not in tables]
    if missing and tables <= set(TABLES) and not any(
            db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() for table in tables):
        # Only some of our tables, all empty: left by a version that created them one by
        # one, when the disk filled (or the driver was killed) part-way.  Nothing was run.
        raise EmptyJournal(f"{path}: a journal its driver left half-created")
    if missing:
        raise NotAJournal(f"{path}: not a run journal (no table {missing[0]!r})")


def _check_structure(db: sqlite3.Connection, path: Path) -> bool:
    """NewerJournal for a journal of a newer dnnp-hpo, DamagedJournal for a table without
    one of the columns this one reads; whether ``evaluations`` has ``sent_after``.  A few
    queries of the schema, whatever the journal holds."""
    try:
        columns = {table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")} for table in TABLES}
        if set(COLUMNS["meta"]) <= columns["meta"]:
            check_version(db, path)  # first: a newer layout may well lack columns of this one
        for table, names in COLUMNS.items():
            lacking = [name for name in names if name not in columns[table]]
            if lacking:
                raise damaged(path, f"its table {table} has no column {lacking[0]!r}")
    except NotAJournal:
        raise
    except sqlite3.DatabaseError as exc:
        raise damaged(path, str(exc)) from None
    return "sent_after" in columns["evaluations"]


def check_version(db: sqlite3.Connection, path: Path) -> None:
    """NewerJournal if the journal records a schema version above :data:`SCHEMA_VERSION`
    (one without a version is of version 1, written before it was recorded)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (SCHEMA_KEY,)).fetchone()
    if row is None:
        return
    version = loaded(path, f"meta {SCHEMA_KEY!r}", row[0], object)
    if isinstance(version, bool) or not isinstance(version, str | int) or not str(version).isdecimal():
        raise damaged(path, f"meta {SCHEMA_KEY!r} is not a version number but {shortened(str(row[0]))}")
    if int(version) > int(SCHEMA_VERSION):
        raise NewerJournal(f"{path}: written by a newer dnnp-hpo (journal schema version {version}; this one reads "
                           f"up to {SCHEMA_VERSION}): upgrade dnnp-hpo to read it")


_KINDS = {dict: "JSON object", list: "JSON list", object: "JSON value"}


def loaded(path: Path, what: str, text: Any, kind: type) -> Any:
    """``text`` read as JSON of ``kind``, or DamagedJournal saying which value is not."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):  # not text, or not JSON
        raise damaged(path, f"{what} is not JSON but {shortened(str(text))}") from None
    if not isinstance(value, kind):
        raise damaged(path, f"{what} is not a {_KINDS[kind]} but {shortened(str(text))}")
    return value


_NUMBER = (int, float)
#: the type each plain column of ``evaluations`` must hold (``None``: may be NULL)
_PLAIN = {"uuid": (str,), "birth_id": (int,), "generation": (int,), "seed": (int,), "workdir": (str,),
          "status": (str,), "reason": (str, type(None)), "start": (*_NUMBER, type(None)),
          "stop": (*_NUMBER, type(None)), "hostname": (str, type(None)), "pid": (int, type(None)),
          "sent_after": (int, type(None))}


#: the columns of ``evaluations`` that count from 0 (a negative generation was reported as it was)
_COUNTS = ("birth_id", "generation", "sent_after")


def lengths(spec: Any, objectives: Sequence[Any] | None) -> tuple[int | None, int | None]:
    """How many genes and fitness values each evaluation of the run has: one gene per
    parameter of the recorded spec's space, one value per objective (the latest session's,
    else the spec's); None where the journal does not say (a damaged spec: the rows agree)."""
    spec = spec if isinstance(spec, Mapping) else {}
    space, listed = spec.get("space"), spec.get("objectives")
    if objectives is None and isinstance(listed, list):
        objectives = listed
    return (len(space) if isinstance(space, Mapping) and space else None,
            len(objectives) if objectives else None)


#: the statuses an evaluation's row may hold
_ROW_STATUSES = (*STATUSES, RUNNING, INTERRUPTED)


def evaluation_from_row(row: Sequence[Any], root: Path, path: Path) -> Evaluation:
    """An evaluation from its row (the columns of ``COLUMNS["evaluations"]``, then
    ``sent_after`` or NULL), or DamagedJournal (``path``: the journal) naming the value that
    is not what dnnp-hpo writes; a relative ``workdir`` is under ``root`` (the run directory
    where the journal is now; journals before 2026-12-02 hold absolute paths)."""
    (uuid, birth_id, generation, genome, params, seed, workdir, status, reason,
     fitness, metrics, start, stop, hostname, pid, sent_after) = row
    for name, value in zip((*COLUMNS["evaluations"], "sent_after"), row, strict=True):
        kinds = _PLAIN.get(name)
        if kinds is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            raise damaged(path, f"evaluation {shortened(str(uuid))}: its {name} is {shortened(str(value))}")
        if name in _COUNTS and value is not None and value < 0:
            raise damaged(path, f"evaluation {shortened(str(uuid))}: its {name} is {value}, below 0")
    where = f"evaluation {shortened(str(uuid))}: its"  # quoted: a damaged uuid may hold a newline
    genome = loaded(path, f"{where} genome", genome, list)
    fitness = loaded(path, f"{where} fitness", fitness, list) if fitness else []
    if not all(isinstance(x, _NUMBER) and not isinstance(x, bool) for x in (*genome, *fitness)):
        raise damaged(path, f"{where} genome or fitness holds a value that is not a number")
    # What dnnp-hpo never writes, which a report took as it was: a status of no meaning
    # (its member left off the front without a word), a success scored NaN or inf (in
    # final.csv as such): helper-120
    if status not in _ROW_STATUSES:
        raise damaged(path, f"{where} status is {shortened(str(status))}, none of {', '.join(_ROW_STATUSES)}")
    if status == OK and not all(math.isfinite(x) for x in fitness):
        raise damaged(path, f"{where} fitness {shortened(dumps(fitness))} is not finite, and its status ok")
    trial = Trial(uuid=uuid, birth_id=birth_id, generation=generation, genome=tuple(genome),
                  params=loaded(path, f"{where} params", params, dict), seed=seed,
                  workdir=root / workdir, sent_after=sent_after)
    return Evaluation(
        trial=trial, status=status, reason=reason or "", fitness=tuple(fitness),
        metrics=loaded(path, f"{where} metrics", metrics, dict) if metrics else {},
        start=start or 0.0, stop=stop or 0.0, hostname=hostname or "", pid=pid if pid is not None else -1,
    )
