"""The journal stores what it is given and gives it back bit for bit."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path

import attrs
import pytest

from dnnp_hpo import journal as journal_module
from dnnp_hpo.errors import RecordsFailed
from dnnp_hpo.evaluation import MAXINT, Evaluation, Member, Trial
from dnnp_hpo.journal import Journal
from dnnp_hpo.journalschema import RUNNING, SCHEMA


def trial(birth: int, genome: tuple[float, ...], tmp: Path) -> Trial:
    return Trial(uuid=f"u{birth}", birth_id=birth, generation=birth // 2, genome=genome,
                 params={"lr": genome[0], "act": "tanh"}, seed=1000 + birth, workdir=tmp / f"u{birth}")


def test_round_trip_of_evaluations_populations_and_state(tmp_path):
    with Journal.of(tmp_path) as journal:
        a = trial(0, (0.1 + 0.2, 1e-300), tmp_path)  # floats that print with many digits
        b = trial(1, (1 / 3, 2.0), tmp_path)
        journal.started(a)
        journal.started(b)
        assert [t.uuid for t in journal.running()] == ["u0", "u1"]
        ok = Evaluation(trial=a, status="ok", reason="", fitness=(0.1 + 0.2, 1 / 7),
                        metrics={"runtime": 3.5, "energy_rmse": 0.1 + 0.2}, start=1.25, stop=2.5,
                        hostname="node1", pid=42)
        bad = Evaluation(trial=b, status="timeout", reason="killed after 1 min", fitness=(MAXINT, MAXINT),
                         metrics={}, start=3.0, stop=4.0, hostname="node2", pid=43)
        journal.finished(ok)
        journal.finished(bad)
        state = {"std": [0.1, 0.085], "rng": {"state": 2**100 + 7}}
        journal.generation_finished(0, [Member(ok, 0, math.inf), Member(bad, 1, 0.5)], state)
        journal.set_meta("spec", {"name": "x", "space": {"lr": {"type": "float"}}})

    with Journal.of(tmp_path, readonly=True) as again:
        assert again.evaluations() == [ok, bad]
        assert again.running() == []
        checkpoint = again.checkpoint()
        assert checkpoint.generation == 0 and checkpoint.state == state
        assert checkpoint.population == [Member(ok, 0, math.inf), Member(bad, 1, 0.5)]
        assert again.meta("spec") == {"name": "x", "space": {"lr": {"type": "float"}}}
        assert again.integrity() == "ok"


def test_wal_mode_and_running_rows_until_finished(tmp_path):
    with Journal.of(tmp_path) as journal:
        t = trial(3, (0.5,), tmp_path)
        journal.started(t)
        mode = sqlite3.connect(tmp_path / "journal.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        statuses = [row[0] for row in journal.db.execute("SELECT status FROM evaluations")]
        assert statuses == [RUNNING]
        journal.mark_interrupted("u3", "driver stopped")
        assert journal.evaluations() == [] and journal.running() == []


def test_checkpoint_is_the_last_generation_with_state(tmp_path):
    with Journal.of(tmp_path) as journal:
        e = Evaluation(trial=trial(0, (0.5,), tmp_path), status="ok", reason="", fitness=(1.0, 2.0),
                       metrics={}, start=0.0, stop=1.0, hostname="h", pid=1)
        journal.finished(e)
        assert journal.checkpoint() is None
        journal.generation_finished(0, [Member(e, 0, 1.0)], {"g": 0})
        journal.generation_finished(1, [Member(e, 0, 2.0)], {"g": 1})
        assert journal.generations() == [0, 1]
        assert journal.checkpoint().state == {"g": 1}
        assert journal.checkpoint().population == [Member(e, 0, 2.0)]


def test_a_moved_run_directory_reads_its_own_evaluation_directories(tmp_path):
    """workdir is recorded relative to the run directory: after a move (or on a copy) the
    journal points at the evaluation directories beside it, which a resume harvests."""
    run = tmp_path / "run"
    run.mkdir()
    with Journal.of(run) as journal:
        done = trial(0, (0.5,), run / "evals")
        journal.finished(Evaluation(trial=done, status="ok", reason="", fitness=(1.0, 2.0), metrics={},
                                    start=1.0, stop=2.0, hostname="h", pid=1))
        journal.started(trial(1, (0.25,), run / "evals"))
        outside = trial(2, (0.75,), tmp_path / "elsewhere")  # not under the run: kept as given
        journal.started(outside)
        stored = dict(journal.db.execute("SELECT uuid, workdir FROM evaluations").fetchall())
    assert stored == {"u0": "evals/u0", "u1": "evals/u1", "u2": str(tmp_path / "elsewhere" / "u2")}
    run.rename(tmp_path / "moved")
    with Journal.of(tmp_path / "moved", readonly=True) as journal:
        assert journal.evaluations()[0].trial.workdir == tmp_path / "moved" / "evals" / "u0"
        assert [t.workdir for t in journal.running()] == [tmp_path / "moved" / "evals" / "u1",
                                                          tmp_path / "elsewhere" / "u2"]


def _held(path: Path, seconds: float) -> threading.Thread:
    """Another program (an sqlite3 shell in a transaction) holding the journal's write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(seconds, lambda: (other.execute("COMMIT"), other.close()))
    release.start()
    return release


def test_a_write_waits_for_another_program_holding_the_journal(tmp_path):
    """SQLite's default wait is 5 s: a user's sqlite3 shell in a transaction for 6 s
    stopped a run of hours.  The journal waits up to BUSY_TIMEOUT_S."""
    with Journal.of(tmp_path) as journal:
        release = _held(tmp_path / "journal.sqlite", 6.0)
        started = time.monotonic()
        journal.started(trial(0, (0.5,), tmp_path))
        assert time.monotonic() - started >= 5.5
        release.join()
        assert [t.uuid for t in journal.running()] == ["u0"]


def test_a_journal_held_past_the_wait_is_one_clear_error(tmp_path, monkeypatch):
    """Past the wait: RecordsFailed (hpo-run: one line, exit 3), naming the cause and what
    to do, not an OperationalError read as a bug of dnnp-hpo (exit 4)."""
    monkeypatch.setattr(journal_module, "BUSY_TIMEOUT_S", 0.2)
    with Journal.of(tmp_path) as journal:
        release = _held(tmp_path / "journal.sqlite", 1.0)
        with pytest.raises(RecordsFailed) as info:
            journal.started(trial(0, (0.5,), tmp_path))
        release.join()
        assert str(info.value) == (
            f"cannot write {tmp_path / 'journal.sqlite'}: database is locked (another program held the journal "
            "longer than hpo-run waits: close it, an sqlite3 shell in a transaction or a database browser); the "
            "evaluations in flight are kept: run hpo-run again to resume")
        journal.started(trial(1, (0.5,), tmp_path))  # the connection is usable again
        assert [t.uuid for t in journal.running()] == ["u1"]


def test_a_journal_from_before_sent_after_reads_and_resumes(tmp_path):
    """Journals written before births recorded ``sent_after`` (2026-12-05) read with None
    for it, and gain the column when a resumed run opens them for writing."""
    old = sqlite3.connect(tmp_path / "journal.sqlite")
    old.executescript(SCHEMA.replace(",\n    sent_after INTEGER", ""))
    old.execute("INSERT INTO evaluations (uuid, birth_id, generation, genome, params, seed, workdir, status)"
                " VALUES ('u0', 0, 0, '[0.5]', '{\"lr\": 0.5}', 7, 'evals/u0', 'running')")
    old.commit()
    old.close()
    with Journal.of(tmp_path, readonly=True) as journal:
        assert [(t.uuid, t.sent_after) for t in journal.running()] == [("u0", None)]
    with Journal.of(tmp_path) as journal:
        journal.started(attrs.evolve(trial(1, (0.25,), tmp_path), sent_after=3))
        assert [(t.uuid, t.sent_after) for t in journal.running()] == [("u0", None), ("u1", 3)]


def test_a_sql_mistake_is_not_taken_for_a_machine_fault(tmp_path):
    """SQL mistakes are OperationalErrors too: a bug must keep its traceback (exit 4), not
    read as 'the run's records could not be written ... run hpo-run again'."""
    with Journal.of(tmp_path) as journal:
        with pytest.raises(sqlite3.OperationalError, match="no such column"), journal.transaction() as db:
            db.execute("SELECT nope FROM meta")
        journal.set_meta("after", 1)  # the transaction was rolled back: the journal goes on
        assert journal.meta("after") == 1


def test_journal_holdings_counts_births_by_status(tmp_path):
    """What a resume's budget checks read (resume.journal_holdings), from one light query:
    births sent out, finished and running (each birth once, whatever its reruns), the
    highest generation and, when its population is not recorded, its births."""
    from dnnp_hpo.resume import journal_holdings

    with Journal.of(tmp_path) as journal:
        trials = [trial(birth, (0.5,), tmp_path) for birth in range(7)]  # generations 0, 0, 1, 1, 2, 2, 3
        for t in trials:
            journal.started(t)
        done = [Evaluation(t, "ok", "", (1.0, 2.0), {}, 1.0, 2.0, "h", 1) for t in trials[:4]]
        for evaluation in done:
            journal.finished(evaluation)
        journal.finished(Evaluation(trials[4], "failed", "nan", (MAXINT, MAXINT), {}, 1.0, 2.0, "h", 1))
        journal.mark_interrupted("u5", "driver stopped")
        # birth 5 sent again under a new uuid, and still running with birth 6
        journal.started(attrs.evolve(trials[5], uuid="u5b"))
        journal.generation_finished(0, [Member(done[0], 1, math.inf)], None)
        held = journal_holdings(tmp_path)
        assert (held.births, held.finished, held.running, held.generation, held.open_births) == (7, 5, 2, 3, 1)
        journal.generation_finished(3, [Member(done[3], 1, math.inf)], None)
    held = journal_holdings(tmp_path)
    assert (held.generation, held.open_births) == (3, 0)
    (tmp_path / "empty").mkdir()
    with Journal.of(tmp_path / "empty"):
        pass
    held = journal_holdings(tmp_path / "empty")
    assert (held.births, held.finished, held.running, held.generation, held.open_births) == (0, 0, 0, -1, 0)


def _finished(birth: int, tmp: Path) -> Evaluation:
    return Evaluation(trial=trial(birth, (0.1 * birth, 1.0), tmp), status="ok", reason="", fitness=(0.5, 0.25),
                      metrics={}, start=1.0, stop=2.0, hostname="node1", pid=42)


def test_a_journal_removed_while_the_run_writes_it_is_written_back_and_the_run_stops(tmp_path):
    """rm RUN_DIR/journal.sqlite* while the run went on: SQLite wrote on into the file it
    had open, and the run ended with exit 0 and no record anywhere (helper-117).  The next
    write stops the run (RecordsFailed: exit 3), the journal written back from that open
    file first, every record in it, so the same command resumes."""
    with Journal.of(tmp_path) as journal:
        journal.started(trial(0, (0.0, 1.0), tmp_path))
        journal.finished(_finished(0, tmp_path))
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        with pytest.raises(RecordsFailed) as stopped:
            journal.started(trial(1, (0.1, 1.0), tmp_path))
    assert str(stopped.value) == (f"cannot write {tmp_path / 'journal.sqlite'}: removed while the run wrote it; "
                                  "written back from the file hpo-run still had open, every record in it: run "
                                  "hpo-run again to resume")
    with Journal.of(tmp_path, readonly=True) as back:
        assert [(e.trial.birth_id, e.status) for e in back.evaluations()] == [(0, "ok")]
        assert back.running() == []  # birth 1's start was not written anywhere


def test_a_journal_replaced_while_the_run_writes_it_is_left_alone_and_the_run_stops(tmp_path):
    """mv another run's journal over it: the run wrote on into its own, unlinked, and the
    file there was another run's.  The run stops at its next write; the file there now is
    not touched."""
    other, run = tmp_path / "other", tmp_path / "run"
    other.mkdir()
    run.mkdir()
    with Journal.of(other) as journal:
        journal.started(trial(5, (0.5, 1.0), other))
    with Journal.of(run) as journal:
        journal.started(trial(0, (0.0, 1.0), run))
        (other / "journal.sqlite").replace(run / "journal.sqlite")
        before = (run / "journal.sqlite").read_bytes()
        with pytest.raises(RecordsFailed, match=r"replaced by another file while the run wrote it; the run's "
                                                r"records since it opened it are lost with it$"):
            journal.finished(_finished(0, run))
        assert (run / "journal.sqlite").read_bytes() == before
