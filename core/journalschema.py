"""The journal's layout: its tables and the columns read from them, the statuses a row
may hold besides an evaluation's outcome, and the schema version that tells a journal of
a newer dnnp-hpo (core/journal.py writes and reads it; core/journalcheck.py checks it)."""

from __future__ import annotations

import json
from typing import Any

RUNNING = "running"  #: sent to a worker, not finished (yet)
INTERRUPTED = "interrupted"  #: set aside on resume (was running, or no longer matches); re-run under a new uuid
#: the journal's layout: recorded in ``meta`` (key ``schema_version``) when the journal is
#: created; a journal of a higher one, from a newer dnnp-hpo, is refused rather than misread
SCHEMA_VERSION = "1"
SCHEMA_KEY = "schema_version"

SCHEMA = """
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
#: the columns each table must have to be read; ``sent_after`` is not among them: journals
#: written before 2026-12-05 lack it (read as NULL)
COLUMNS = {
    "meta": ("key", "value"),
    "evaluations": ("uuid", "birth_id", "generation", "genome", "params", "seed", "workdir", "status", "reason",
                    "fitness", "metrics", "start", "stop", "hostname", "pid"),
    "populations": ("generation", "position", "uuid", "rank", "distance"),
    "checkpoints": ("generation", "state"),
}

#: the tables, in the order a run's records fill them
TABLES = ("meta", "evaluations", "populations", "checkpoints")


def dumps(value: Any) -> str:
    # Python's json writes floats with repr(): they read back bit for bit.  Infinity is
    # allowed (a crowding distance at the edge of a front is infinite).
    return json.dumps(value)
