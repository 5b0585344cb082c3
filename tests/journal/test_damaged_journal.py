"""A damaged or other-version journal in a run directory: hpo-run (dry run and real run)
and hpo-report refuse it in one line naming the journal and what is wrong, exit 2, and
leave every journal file byte for byte as it was (a review found tracebacks, exit 4:
OperationalError, JSONDecodeError, TypeError, IndexError)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cli_testutil import VENV_BIN, hpo_run, write_spec, zdt_spec
from file_modes import journal_not_a_file

from dnnp_hpo.journal import Journal
from dnnp_hpo.journalcheck import DamagedJournal, NewerJournal, NotAJournal
from dnnp_hpo.journalschema import SCHEMA_KEY, SCHEMA_VERSION

#: name: (SQL that damages the journal, what the one line says, whether the run is finished)
DAMAGES = {
    "meta with other columns": (
        ("ALTER TABLE meta RENAME TO old; CREATE TABLE meta (name TEXT PRIMARY KEY, data TEXT);"
         " INSERT INTO meta SELECT * FROM old; DROP TABLE old"),
        "damaged journal: its table meta has no column 'key'", True),
    "spec not JSON": ("UPDATE meta SET value = '{not json' WHERE key = 'spec'",
                      "damaged journal: meta 'spec' is not JSON but '{not json'", True),
    "spec not JSON, unfinished": ("UPDATE meta SET value = '{not json' WHERE key = 'spec'",
                                  "damaged journal: meta 'spec' is not JSON", False),
    "spec not a mapping": ("UPDATE meta SET value = '[1, 2]' WHERE key = 'spec'",
                           "damaged journal: meta 'spec' is not a mapping", True),
    "finished not a boolean": ("UPDATE meta SET value = '\"yes\"' WHERE key = 'finished'",
                               "damaged journal: meta 'finished' is not true or false", True),
    "versions not a mapping": ("INSERT OR REPLACE INTO meta VALUES ('versions', '[\"0.1.0\"]')",
                               "damaged journal: meta 'versions' is not a mapping of names to versions", False),
    "no params column": ("ALTER TABLE evaluations DROP COLUMN params",
                         "damaged journal: its table evaluations has no column 'params'", True),
    "no params column, unfinished": ("ALTER TABLE evaluations DROP COLUMN params",
                                     "damaged journal: its table evaluations has no column 'params'", False),
    "fitness not JSON": ("UPDATE evaluations SET fitness = 'garbage' WHERE birth_id = 3",
                         "its fitness is not JSON but 'garbage'", True),
    "fitness not JSON, unfinished": ("UPDATE evaluations SET fitness = 'garbage' WHERE birth_id = 3",
                                     "its fitness is not JSON but 'garbage'", False),
    # the uuid shown quoted: one holding a newline split the one line
    "uuid with a newline": (
        ("UPDATE populations SET uuid = uuid || char(10) || 'X' WHERE uuid = "
         "(SELECT uuid FROM evaluations WHERE birth_id = 3);"
         " UPDATE evaluations SET uuid = uuid || char(10) || 'X', fitness = 'garbage' WHERE birth_id = 3"),
        "\\nX': its fitness is not JSON but 'garbage'", True),
    "genome not JSON": ("UPDATE evaluations SET genome = '[0.5,' WHERE birth_id = 0",
                        "its genome is not JSON but '[0.5,'", True),
    "genome not a list": ("UPDATE evaluations SET genome = '{}' WHERE birth_id = 0",
                          "its genome is not a JSON list but '{}'", False),
    "no population, finished": ("DELETE FROM populations; DELETE FROM checkpoints",
                                "damaged journal: it records a finished run, but no population", True),
    "state not JSON": ("UPDATE checkpoints SET state = '{'",
                       "damaged journal: the optimizer state of generation 0 is not JSON", False),
    "population of an unknown evaluation": (
        "UPDATE populations SET uuid = 'nowhere' WHERE position = 0 AND generation = 0",
        "damaged journal: the population of generation 0 holds 'nowhere', which is not in its evaluations", False),
    # a report took these as they were: a member left off the front without a word, NaN
    # in final.csv (helper-120)
    "status of no meaning": ("UPDATE evaluations SET status = 'weird' WHERE birth_id = 2",
                             ("its status is 'weird', none of ok, failed, timeout, error, infeasible, lost, "
                              "running, interrupted"), True),
    "a success scored NaN": ("UPDATE evaluations SET fitness = '[NaN, 1.0]' WHERE birth_id = 2",
                             "its fitness '[NaN, 1.0]' is not finite, and its status ok", True),
    # a resume stopped with a traceback (the space's decode, numpy's ranking), a report took
    # the genome as it was; both read as counts from 0 too
    "a genome of another length": ("UPDATE evaluations SET genome = '[0.5]' WHERE birth_id = 5",
                                   "has 1 genes and 2 fitness values, where the run has 3 parameters and 2 objectives",
                                   True),
    "a fitness of another length": ("UPDATE evaluations SET fitness = '[0.5]' WHERE birth_id = 5",
                                    ("has 3 genes and 1 fitness values, where the run has 3 parameters and 2 "
                                    "objectives"), False),
    "a negative generation": ("UPDATE evaluations SET generation = -1 WHERE birth_id = 2",
                              "its generation is -1, below 0", True),
    "a population's negative generation": (
        "UPDATE populations SET generation = -1 WHERE generation = 0",
        ("population row 0 of generation -1 has no number for its generation, position, rank or distance, "
        "or one below 0"), True),
    "newer schema": (f"INSERT OR REPLACE INTO meta VALUES ('{SCHEMA_KEY}', '\"{int(SCHEMA_VERSION) + 1}\"')",
                     f"written by a newer dnnp-hpo (journal schema version {int(SCHEMA_VERSION) + 1}", False),
    "newer schema, other columns": (
        (f"INSERT OR REPLACE INTO meta VALUES ('{SCHEMA_KEY}', '\"{int(SCHEMA_VERSION) + 1}\"');"
         " ALTER TABLE evaluations DROP COLUMN params"),
        "upgrade dnnp-hpo", False),
}


def state(run_dir: Path) -> dict[str, str]:
    """Every journal file by its SHA-256, and every name in the run directory."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.glob("journal.sqlite*")}
    return {**files, "names": " ".join(sorted(p.name for p in run_dir.rglob("*")))}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A finished run (4 x 2 evaluations of ZDT1) and the spec that made it."""
    tmp = tmp_path_factory.mktemp("made")
    spec = write_spec(tmp / "spec.yaml", zdt_spec(tmp / "run", n=3, pop_size=4, generations=1))
    done = hpo_run(str(spec), cwd=tmp)
    assert done.returncode == 0, done.stderr
    return spec, tmp / "run"


def damaged(made, tmp_path: Path, sql: str, finished: bool) -> Path:
    _, run = made
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    db = sqlite3.connect(copy / "journal.sqlite")
    if not finished:
        db.execute("DELETE FROM meta WHERE key = 'finished'")
        db.commit()
    db.executescript(sql)
    db.commit()
    db.close()
    assert not (copy / "journal.sqlite-wal").exists()
    return copy


def one_line(done: subprocess.CompletedProcess, prog: str) -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def in_process(main, argv: list[str], capsys) -> subprocess.CompletedProcess:
    """A command's main() here, as the console script would exit: 16 kinds x 3 commands
    as processes took 45 s of interpreter start-ups; one kind goes through them below."""
    status = main(argv)
    return subprocess.CompletedProcess(argv, status, "", capsys.readouterr().err)


@pytest.mark.parametrize("name", list(DAMAGES))
def test_a_damaged_journal_is_one_line_and_exit_2_and_left_as_it_was(made, tmp_path, capsys, name):
    from dnnp_hpo.cli import main as hpo_run_main
    from dnnp_hpo.report.cli import main as hpo_report_main

    sql, says, finished = DAMAGES[name]
    spec, _ = made
    run = damaged(made, tmp_path, sql, finished)
    before = state(run)
    for extra in (["--dry-run"], []):
        line = one_line(in_process(hpo_run_main, [str(spec), "--set", f"run_dir={run}", *extra], capsys), "hpo-run")
        assert f"run_dir: {run / 'journal.sqlite'}: " in line and says in line, line
        assert state(run) == before, extra
    line = one_line(in_process(hpo_report_main, [str(run), "--out", str(tmp_path / "report")], capsys), "hpo-report")
    assert f"{run / 'journal.sqlite'}: " in line and says in line, line
    assert state(run) == before
    assert not (tmp_path / "report").exists()


def test_the_console_scripts_refuse_a_damaged_journal_in_one_line(made, tmp_path):
    sql, says, finished = DAMAGES["fitness not JSON, unfinished"]
    spec, _ = made
    run = damaged(made, tmp_path, sql, finished)
    before = state(run)
    line = one_line(hpo_run(str(spec), "--set", f"run_dir={run}", cwd=tmp_path), "hpo-run")
    assert f"run_dir: {run / 'journal.sqlite'}: " in line and says in line, line
    report = subprocess.run([str(VENV_BIN / "hpo-report"), str(run), "--out", str(tmp_path / "report")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    line = one_line(report, "hpo-report")
    assert f"{run / 'journal.sqlite'}: " in line and says in line, line
    assert state(run) == before


def test_check_reads_every_record_of_a_sound_journal_and_names_what_is_damaged(made, tmp_path):
    _, run = made
    with Journal.of(run, readonly=True) as journal:
        journal.check()
        assert journal.meta(SCHEMA_KEY) == SCHEMA_VERSION  # recorded when the journal was created
    for name, (sql, says, finished) in DAMAGES.items():
        where = tmp_path / name.replace(" ", "_").replace(",", "")
        where.mkdir()
        copy = damaged(made, where, sql, finished)
        expected = "newer" if "newer" in name else "damaged journal"
        with pytest.raises(NotAJournal, match=expected) as refused, Journal.of(copy, readonly=True) as journal:
            journal.check()
        assert isinstance(refused.value, NewerJournal if "newer" in name else DamagedJournal), name
        assert str(refused.value).startswith(f"{copy / 'journal.sqlite'}: ")


def test_the_readers_name_a_damaged_value_too(made, tmp_path):
    """Without check(): what reads a journal (another optimizer's source run, a script)
    gets DamagedJournal naming the value, not a JSONDecodeError."""
    run = damaged(made, tmp_path, "UPDATE evaluations SET metrics = '{' WHERE birth_id = 0", True)
    with Journal.of(run, readonly=True) as journal:
        with pytest.raises(DamagedJournal, match="its metrics is not JSON but '{'"):
            journal.evaluations()
        with pytest.raises(DamagedJournal, match="its metrics is not JSON"):
            journal.population(0)


def test_a_journal_without_a_schema_version_is_of_version_1_and_resumes(made, tmp_path):
    """Journals written before the version was recorded: read, and given it when resumed."""
    spec, _ = made
    run = damaged(made, tmp_path, f"DELETE FROM meta WHERE key = '{SCHEMA_KEY}'", False)
    with Journal.of(run, readonly=True) as journal:
        journal.check()
        assert journal.meta(SCHEMA_KEY) is None
    done = hpo_run(str(spec), "--set", f"run_dir={run}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Journal.of(run, readonly=True) as journal:
        assert journal.meta(SCHEMA_KEY) == SCHEMA_VERSION and journal.meta("finished")


def test_a_newer_journal_is_not_written_to_even_when_opened_for_writing(made, tmp_path):
    run = damaged(made, tmp_path, f"INSERT OR REPLACE INTO meta VALUES ('{SCHEMA_KEY}', '\"99\"');"
                                  " ALTER TABLE evaluations DROP COLUMN sent_after", False)
    with pytest.raises(NewerJournal, match="upgrade dnnp-hpo"):
        Journal.of(run)
    db = sqlite3.connect(f"file:{run / 'journal.sqlite'}?mode=ro", uri=True)
    assert "sent_after" not in {row[1] for row in db.execute("PRAGMA table_info(evaluations)")}
    db.close()


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_journal_that_is_not_a_regular_file_is_called_so(made, tmp_path, kind):
    spec, _ = made
    run = tmp_path / "run"
    journal_not_a_file(run, kind)
    with pytest.raises(NotAJournal, match=f"a {'directory' if kind == 'directory' else 'FIFO'}, not a regular file"):
        Journal.of(run, readonly=True)
    for extra in (["--dry-run"], []):
        line = one_line(hpo_run(str(spec), "--set", f"run_dir={run}", *extra, cwd=tmp_path, timeout=60), "hpo-run")
        assert "not a regular file" in line and "no such file" not in line, line


def test_a_run_dir_that_is_a_symlink_loop_is_one_line_naming_run_dir(made, tmp_path):
    """It was Path.resolve's RuntimeError ("Symlink loop from ..."), exit 4."""
    spec, _ = made
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for run_dir in (loop, loop / "below"):
        for extra in (["--dry-run"], []):
            line = one_line(hpo_run(str(spec), "--set", f"run_dir={run_dir}", *extra, cwd=tmp_path), "hpo-run")
            assert f"run_dir: {run_dir}: a symbolic link on the way loops" in line, line
    assert loop.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["loop"]
