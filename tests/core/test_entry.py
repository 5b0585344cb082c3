"""core/entry.py, the console scripts' outermost frame, in this process."""

from __future__ import annotations

import os
import signal

import pytest

from dnnp_hpo import entry


@pytest.fixture
def stop_handlers():
    before = {each: signal.getsignal(each) for each in entry.STOP_SIGNALS}
    yield
    for each, handler in before.items():
        signal.signal(each, handler)


def exit_status(prog: str, main) -> int | str | None:
    """The status ``entry._exit_with(prog, main)`` exits with, in this process; the
    unraisable hook it sets is put back."""
    import sys

    hook = sys.unraisablehook
    try:
        with pytest.raises(SystemExit) as done:
            entry._exit_with(prog, main)
    finally:
        sys.unraisablehook = hook
    return done.value.code


HELD_SHUTDOWN = """
import signal, sys, threading, time
from dnnp_hpo import entry

for each in entry.STOP_SIGNALS:
    signal.signal(each, entry._stop_once)


def main():
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a library may on its way out
    threading.Thread(target=held).start()
    return 0


def held():
    # a plugin's thread that is not a daemon: the interpreter's shutdown waits for it.
    # "done" once the main thread has stopped: main has returned and the process exits.
    threading.main_thread().join()
    print("done", flush=True)
    time.sleep(60)


entry._exit_with("hpo-run", main)
"""


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_after_the_work_is_done_ends_it_with_its_status(stop) -> None:
    """Once main has returned, a stop signal ended a finished run by SIGINT without a line
    (3 of 10 in a review); ignoring them instead left a shutdown that a plugin's thread
    holds up stoppable only by SIGKILL: now it ends the process at once, with main's status."""
    import subprocess
    import sys

    held = subprocess.Popen([sys.executable, "-c", HELD_SHUTDOWN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert held.stdout.readline() == "done\n"  # main has returned: the interpreter waits for the thread
        held.send_signal(getattr(signal, stop))
        assert held.wait(timeout=10) == 0
    finally:
        held.kill()
        held.wait()
    assert held.stderr.read() == ""


def test_a_broken_pipe_of_a_plugins_own_is_an_internal_error(capsys) -> None:
    """Only a stdout whose reader went away is the quiet exit 141: a BrokenPipeError a
    plugin's hook raised (its own pipe) is a bug like any other, traceback and exit 4."""
    def main() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(SystemExit) as done:
        entry._exit_with("hpo-run", main)
    assert done.value.code == 4
    assert capsys.readouterr().err.splitlines()[-1].startswith("hpo-run: internal error: BrokenPipeError")


def test_a_stop_signal_while_main_works_is_one_line_and_its_status(stop_handlers, capsys) -> None:
    for each in entry.STOP_SIGNALS:
        signal.signal(each, entry._stop_once)

    def main() -> int:
        signal.raise_signal(signal.SIGHUP)
        return 0

    with pytest.raises(SystemExit) as done:
        entry._exit_with("hpo-run", main)
    assert done.value.code == 128 + signal.SIGHUP
    assert capsys.readouterr().err == "hpo-run: stopped by SIGHUP\n"


def test_a_stop_in_a_deferred_block_takes_effect_at_its_end(stop_handlers) -> None:
    """hpo-report stopped just after making its hidden folder, before noting it for the
    clean-up, left the folder behind: such a step runs whole, then the stop is raised."""
    entry.stop_on_signals()
    steps = []
    with pytest.raises(entry.Stopped) as stopped, entry.stops_deferred():
        signal.raise_signal(signal.SIGTERM)
        steps.append("made")
        steps.append("noted")
    assert steps == ["made", "noted"] and stopped.value.signum == signal.SIGTERM
    with entry.stops_deferred():  # nothing noted: nothing raised, the handlers are back
        pass
    assert signal.getsignal(signal.SIGHUP) is entry._ignore  # the stop's own: later ones ignored


def test_an_unexpected_exception_is_its_traceback_then_one_line_and_exit_4(capsys) -> None:
    def main() -> int:
        raise KeyError("went wrong")

    with pytest.raises(SystemExit) as done:
        entry._exit_with("hpo-report", main)
    assert done.value.code == entry.EXIT_INTERNAL_ERROR == 4
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "in main" in err
    assert err.splitlines()[-1] == ("hpo-report: internal error: KeyError: 'went wrong' "
                                    "(a bug in dnnp-hpo or in a plugin: the traceback above says where)")


def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path, hpo_run_exe) -> None:
    """`hpo-run spec --dry-run | head -c 10` gave BrokenPipeError's traceback and the
    internal-error line, exit 4: now quiet, exit 141, as a command killed by SIGPIPE."""
    import subprocess

    from hpo_testutil import subprocess_env, write_spec, zdt_spec

    # 1200 rows, about 80 KB: past a pipe's 64 KiB, so that the writer is still writing when the reader goes
    # (600 rows were 40 KB, written whole into the pipe before it went: exit 0 under load)
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=1200, generations=1))
    dry = subprocess.Popen([str(hpo_run_exe), str(spec), "--dry-run"], cwd=tmp_path, env={**subprocess_env(), "COLUMNS": "200"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert dry.stdout.read(10)
    dry.stdout.close()  # as head does after its 10 bytes
    stderr = dry.stderr.read().decode()
    assert dry.wait(timeout=60) == 128 + signal.SIGPIPE, stderr
    assert stderr == ""


def test_a_log_on_a_full_disk_stops_the_run_in_order_and_the_same_command_resumes(tmp_path, hpo_run_exe) -> None:
    """stdout that cannot be written (a batch log on a full disk or past its quota) ended
    the run at its first generation's line with a traceback and "internal error", exit 4
    (helper-127).  It is the exit 3 of records that cannot be written: one line, the run
    stopped in order, and the same command finishes it with every birth recorded once."""
    import sqlite3
    import subprocess
    from pathlib import Path

    from hpo_testutil import subprocess_env, write_spec, zdt_spec

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=6, generations=2))
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=300, check=False)
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines()[-1] == ("hpo-run: cannot write to stdout (No space left on device): the run "
                                            "stopped; once it can write, the same command resumes it")
    assert "Traceback" not in done.stderr
    again = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(tmp_path / "run" / "journal.sqlite") as db:
        births = [b for (b,) in db.execute("SELECT birth_id FROM evaluations WHERE status != 'running'")]
    assert sorted(births) == list(range(18))


#: hpo-run whose stdout fails from the front table at the end of the run on, a stand-in
#: for a disk that fills at that moment (no file system here can be made to)
FULL_AT_THE_FRONT = """
import errno, io, os, sys

class FullAtTheFront(io.TextIOWrapper):
    full = False

    def write(self, text):
        self.full = self.full or "Pareto front of the final population" in text or "Run directory:" in text
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(text)

if __name__ == "__main__":
    sys.stdout = FullAtTheFront(open(sys.argv.pop(1), "wb"), encoding="utf-8", line_buffering=True)
    from dnnp_hpo.entry import hpo_run
    hpo_run()
"""


def test_output_lost_says_a_run_stopped_only_where_one_did(tmp_path, hpo_run_exe) -> None:
    """hpo-run said "stopped; ... resumes the run" and exited 3 for any stdout it could not
    write (helper-130): --version, --dry-run, a finished run shown again, and a run that
    finished whole but for its front table, which a batch script takes for "queue it
    again".  A closed stdout (`>&-`) became an internal error: it is left alone."""
    import subprocess
    import sys

    from hpo_testutil import subprocess_env, write_spec, zdt_spec

    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1))
    script = tmp_path / "full_at_the_front.py"
    script.write_text(FULL_AT_THE_FRONT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "out.log"), str(spec)], cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr  # the run's own status
    assert done.stderr.splitlines()[-1] == (
        f"hpo-run: warning: cannot write to stdout (No space left on device): the front table is lost; "
        f"hpo-report {tmp_path / 'run'} shows the front"), done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    lost = "hpo-run: cannot write to stdout (No space left on device)"
    with open("/dev/full", "w") as full:
        for args in (["--version"], [str(spec), "--dry-run"], [str(spec)]):  # the last: finished, shown again
            again = subprocess.run([str(hpo_run_exe), *args], cwd=tmp_path, env=subprocess_env(), stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=300, check=False)
            assert (again.returncode, again.stderr.splitlines()) == (2, [lost]), args
    closed = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(), stdout=None,
                            stderr=subprocess.PIPE, text=True, timeout=300, check=False,
                            preexec_fn=lambda: os.close(1))
    assert (closed.returncode, closed.stderr) == (0, "")


SWALLOWED = """
import gc, os, signal, sys, time
from dnnp_hpo import entry

for each in entry.STOP_SIGNALS:
    signal.signal(each, entry._stop_once)


def main():
    def callback(phase, info):  # as distributed's GCDiagnosis: Python prints what it raises, and goes on
        if phase == "start":
            gc.callbacks.remove(callback)
            os.kill(os.getpid(), signal.SIG{stop})
            for _ in range(1000):  # the handler runs here, inside the callback
                pass

    gc.callbacks.append(callback)
    gc.collect()
    time.sleep(3)  # the stop lost: the run went on to its end, exit 0
    print("ran to its end", flush=True)
    return 0


entry._exit_with("hpo-run", main)
"""


@pytest.mark.parametrize(("stop", "status", "said"), [("INT", 130, "hpo-run: interrupted\n"),
                                                      ("TERM", 143, "hpo-run: stopped by SIGTERM\n")])
def test_a_stop_raised_inside_a_garbage_collector_callback_still_stops(stop, status, said) -> None:
    """A Ctrl-C handled while distributed's GCDiagnosis callback ran was printed as
    "Exception ignored in ..." and lost: the run went on and exited 0 (CI, once)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", SWALLOWED.replace("{stop}", stop)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (status, "", said)


def test_a_stop_that_an_extension_turned_into_another_error_is_the_stop(stop_handlers, capsys) -> None:
    """A SIGHUP handled while scipy's HiGHS module initialised came out as "ImportError:
    initialization failed", and hpo-demo-data called it a bug: exit 4, a traceback (CI, once)."""

    def main() -> int:
        try:
            raise entry.Stopped(signal.SIGHUP)
        except entry.Stopped as stop:
            raise ImportError("initialization failed") from stop

    assert exit_status("hpo-demo-data", main) == 128 + signal.SIGHUP
    assert capsys.readouterr().err == "hpo-demo-data: stopped by SIGHUP\n"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_that_an_import_swallowed_is_the_stop(stop_handlers, capsys, signum) -> None:
    """A Ctrl-C while numpy imported datetime was swallowed by numpy's C code, which
    raised an ImportError of its own, chained to no stop ("Importing the numpy
    C-extensions failed ... a bad install"): hpo-report said internal error, exit 4.  The
    signal is real (Python's handling of SIGINT for hpo-report, hpo-run's own for the
    others); only the swallowing is played here, as numpy's PyCapsule_Import does it."""
    import os

    if signum == signal.SIGINT:
        # as a terminal starts hpo-report, whatever the runner ignores (a background job
        # of a non-interactive shell ignores SIGINT, and so does an ignored one's child)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    else:
        entry.stop_on_signals()  # hpo-run's

    def main() -> int:
        try:
            os.kill(os.getpid(), signum)
            for _ in range(1000):  # the handler runs at the next bytecode
                pass
        except KeyboardInterrupt:
            pass  # what the C code does: the stop is cleared
        raise ImportError("Importing the numpy C-extensions failed") from None

    status = exit_status("hpo-report", main)
    said = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    assert (status, capsys.readouterr().err) == (128 + signum, f"hpo-report: {said}\n")


def test_an_import_error_without_a_stop_is_still_a_bug(stop_handlers, capsys) -> None:

    def main() -> int:
        raise ImportError("No module named 'a_plugins_dependency'")

    assert exit_status("hpo-report", main) == entry.EXIT_INTERNAL_ERROR
    assert "hpo-report: internal error: ImportError" in capsys.readouterr().err
