"""Which progress display the real ``hpo-run`` picks: the live table on a terminal, plain
lines (one per generation) in a log.  The terminal is a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import threading
from pathlib import Path

import pytest
from hpo_testutil import run_cli, subprocess_env, write_spec, zdt_spec

from dnnp_hpo.cli import main
from dnnp_hpo.journal import Journal

PLAIN = re.compile(r"^generation (\d) of 1 done: ", re.MULTILINE)
HIDE_CURSOR = "\x1b[?25l"  # what rich's Live writes first


def on_a_terminal(exe: Path, spec: Path, cwd: Path, *args: str, **variables: str) -> tuple[int, str]:
    """hpo-run with its stdout on a pseudo-terminal; its exit status and what it wrote there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(exe), str(spec), *args], cwd=cwd, env=subprocess_env(**variables), stdout=slave,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # a full terminal would block hpo-run
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        status = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
        os.close(master)
    return status, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1))


def test_a_log_gets_plain_lines_even_with_force_color(spec, tmp_path, hpo_run_exe):
    """rich takes FORCE_COLOR for a terminal: a batch log got the live table redrawn twice
    a second, cursor codes and all, and not one plain line (helper-75)."""
    done = run_cli(hpo_run_exe, str(spec), cwd=tmp_path, FORCE_COLOR="1")
    assert done.returncode == 0, done.stderr
    assert [int(g) for g in PLAIN.findall(done.stdout)] == [0, 1], done.stdout
    assert HIDE_CURSOR not in done.stdout


def test_a_dumb_terminal_gets_plain_lines(spec, tmp_path, hpo_run_exe):
    """rich's Live draws nothing on TERM=dumb, and the table is transient: the run showed
    nothing at all while it went (helper-75)."""
    status, shown = on_a_terminal(hpo_run_exe, spec, tmp_path, TERM="dumb")
    assert status == 0, shown
    assert [int(g) for g in PLAIN.findall(shown.replace("\r\n", "\n"))] == [0, 1], shown
    assert HIDE_CURSOR not in shown


def test_a_terminal_gets_the_live_table(spec, tmp_path, hpo_run_exe):
    status, shown = on_a_terminal(hpo_run_exe, spec, tmp_path, TERM="xterm-256color")
    assert status == 0, shown
    assert HIDE_CURSOR in shown, shown
    assert not PLAIN.findall(shown.replace("\r\n", "\n")), shown


ELAPSED = re.compile(r"elapsed (\d+):(\d\d):(\d\d)")


def test_the_live_table_s_clock_runs_between_results(tmp_path, hpo_run_exe):
    """The table was built at each event alone: while one training ran the screen kept the
    same "elapsed" (0:00:00 until the first result), which looks like a hang (helper-100).
    Here each training takes 3 s, one after the other: every second of the run shows."""
    spec = write_spec(tmp_path / "slow.yaml", zdt_spec(tmp_path / "run", pop_size=2, generations=0, workers=1,
                                                         callable_="hpo_testfuncs:slow_zdt1"))
    status, shown = on_a_terminal(hpo_run_exe, spec, tmp_path, TERM="xterm-256color", HPO_TEST_SLEEP="3")
    assert status == 0, shown
    seconds = {int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in ELAPSED.findall(shown)}
    assert {0, 1, 2} <= seconds, (sorted(seconds), shown)


BEST = re.compile(r"best f1: (\S+) +best f2: (\S+)")


def test_a_resumed_run_s_live_front_is_the_run_s_not_this_session_s(tmp_path, hpo_run_exe, monkeypatch):
    """The live table's front began empty in a resumed session and showed this session's
    results alone until the next generation ended: a worse front than the run had
    (0.0302 eV/atom where it had 0.0123; helper-124), for hours with long trainings.
    Here a finished run is extended by a generation (the same start as any resume): every
    front shown is at least as good as the one recorded, from the first frame on."""
    first = zdt_spec(tmp_path / "run", pop_size=4, generations=0, callable_="hpo_testfuncs:slow_zdt1")
    with monkeypatch.context() as patch:  # the run to extend, made in-process (its workers read the sleep)
        patch.setenv("HPO_TEST_SLEEP", "0")
        assert main([str(write_spec(tmp_path / "first.yaml", first))]) == 0
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        best = [min(e.fitness[i] for e in journal.evaluations() if e.ok) for i in (0, 1)]

    longer = write_spec(tmp_path / "longer.yaml", {**first, "optimizer": {**first["optimizer"], "generations": 1}})
    status, shown = on_a_terminal(hpo_run_exe, longer, tmp_path, "--force", TERM="xterm-256color",
                                  COLUMNS="200", HPO_TEST_SLEEP="1")  # wide: a value on its name's line
    assert status == 0, shown
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # rich colours the numbers
    fronts = [(float(f1), float(f2)) for f1, f2 in BEST.findall(shown)]
    assert fronts and all(f <= float(f"{b:.4g}") for front in fronts for f, b in zip(front, best)), (best, fronts)
    # from its first frame: the table is drawn before the first training of the session ends
    assert shown.index("best f1: ") < shown.index("done 1"), shown


def test_a_log_gets_a_line_per_failed_birth_as_it_comes(tmp_path, hpo_run_exe):
    """In a log each failed evaluation gets its line, named by its birth as every other
    message names it (it said "evaluation 3", a number no other output uses; helper-123)."""
    spec = zdt_spec(tmp_path / "run", pop_size=8, generations=0, callable_="hpo_testfuncs:failing_by_x0")
    done = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        failed = sorted((e.trial.birth_id, e.status, e.reason) for e in journal.evaluations() if not e.ok)
    assert failed  # the seed gives some x0 < 0.6
    said = sorted((int(b), status, reason) for b, status, reason in
                  re.findall(r"^birth (\d+) \(generation 0\) (\w+): (.*)$", done.stdout, re.MULTILINE))
    assert said == failed, done.stdout
