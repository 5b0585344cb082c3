"""The console scripts' outermost frame, which imports nothing heavy.

hpo-run's stop signals are handled from its first moment: importing numpy, rich and
cattrs takes about half a second, in which a Ctrl-C used to print a traceback from inside
an import and SIGTERM or SIGHUP ended hpo-run without a line.  Every command ends the
same way on Ctrl-C, SIGTERM and SIGHUP (one line, exit 128 + the signal), on a stdout that
cannot be written (one line) and on an exception nothing expected (its traceback, one
line, exit 4).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from dnnp_hpo.errors import described
from dnnp_hpo.process import STOP_SIGNALS

#: an unexpected exception: a bug in dnnp-hpo or in a plugin.  Not 1: for hpo-run that
#: means the search ran to its end and nothing succeeded, which a script reads differently.
EXIT_INTERNAL_ERROR = 4


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the run stops as on Ctrl-C, and exits with 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: the stop signals that reached the program.  A stop raised inside an extension
#: module's initialisation can be swallowed there, not chained: a Ctrl-C while numpy
#: imported datetime came out as numpy's "Importing the numpy C-extensions failed ...
#: a bad install" ImportError, exit 4 (hpo-report, under load); this is then all that
#: tells the stop.
_received: list[int] = []


def _stop_once(signum: int, frame: object) -> None:
    """The first stop signal stops the run; those after it are ignored, so that they cannot
    cut short the stopping: a second Ctrl-C used to end hpo-run by SIGINT half-way
    through it."""
    _received.append(signum)
    for each in STOP_SIGNALS:
        # A handler that does nothing, not SIG_IGN: a process started while the run stops
        # (a worker Dask starts again) would inherit SIG_IGN, and its trainings with it,
        # which the time limit stops with SIGTERM first.
        signal.signal(each, _ignore)
    raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(signum)


def _ignore(signum: int, frame: object) -> None:
    """Further stop signals while the run stops."""


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C where a command keeps Python's own handling of it (hpo-report,
    hpo-demo-data): a KeyboardInterrupt as Python's handler raises, the signal noted."""
    _received.append(signum)
    raise KeyboardInterrupt


class OutputLost(Exception):
    """stdout could not be written (a log on a full disk or past its quota).  ``status``
    and ``after`` (what follows the line) are the command's: hpo-run's search sets them
    to a stopped run's (core/cli.py)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error
        self.status = 2  #: as for a report or a dataset that cannot be written
        self.after = ""


class _Output:
    """``sys.stdout``, whose write errors raise :class:`OutputLost`: a batch log on a full
    disk ended a run with a traceback and "internal error", exit 4, and hpo-report the same
    after writing its whole report (helper-127).  A reader gone (EPIPE) stays a
    BrokenPipeError: that reader has what it wanted (:func:`_exit_with`)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guarded(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputLost(exc) from exc

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...: the stream's
        return getattr(self._stream, name)


def output_dropped() -> None:
    """stdout to /dev/null from here on, once it could not be written: the interpreter's
    flush of what it still holds, at exit, would fail again, with a message."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def internal_error(prog: str, exc: BaseException) -> str:
    """The last line after the traceback of an unexpected exception: what it was, in one line."""
    return (f"{prog}: internal error: {described(exc)} "
            "(a bug in dnnp-hpo or in a plugin: the traceback above says where)")


def _ignore_stop_signals() -> None:
    """The last exit handler: the stop signals are ignored from here to the end.

    After the exit handlers the interpreter puts every signal that has a Python handler
    back to its default (CPython's _PySignal_Fini), then tears its modules down, which
    takes a while after a run: a SIGTERM then (a second one from a batch system, or the
    group's) killed hpo-run by signal 15 after its 'stopped by SIGTERM' line or its front
    table, its status lost (helper-84's soak, 10 of about 200 stops).  An ignored signal is
    left ignored.  Nothing is started from here on that could inherit it."""
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)


def _show_what_cannot_be_encoded() -> None:
    """Characters the terminal's encoding lacks (a run_dir named in Unicode, printed to a
    latin-1 or ASCII terminal: PYTHONIOENCODING, a batch system's locale) are shown
    escaped (``\\u2603``): a finished run ended with UnicodeEncodeError, a traceback and
    exit 4, at its last line (helper-117)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # not on a replaced stream (pytest's)
        if reconfigure is not None and (getattr(stream, "errors", None) or "strict") == "strict":
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _exit_with(prog: str, main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status; an exception nothing expected (a plugin's hook that
    raises, a bug of dnnp-hpo) keeps its traceback, which is what its author needs."""
    # Registered first, so run last: the libraries main() imports register theirs later.
    # Once per process (the tests call this function in theirs).
    atexit.unregister(_ignore_stop_signals)
    atexit.register(_ignore_stop_signals)
    sys.unraisablehook = _stop_again
    _received.clear()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    _show_what_cannot_be_encoded()
    # Once (the tests call this function in theirs); not a closed stdout (`>&-`), which is
    # None, and which print() and rich then leave alone as they should.
    if sys.stdout is not None and not isinstance(sys.stdout, _Output):
        sys.stdout = _Output(sys.stdout)
    try:
        status = main()
        _leave_on_stop(status)
        sys.exit(status)
    except BrokenPipeError as exc:
        if not _stdout_gone():  # a plugin's own pipe, say: a bug like any other
            _internal_error(prog, exc)
        # `hpo-run spec --dry-run | head`: the reader has what it wanted.  Quiet, as a
        # command killed by SIGPIPE is.
        output_dropped()
        sys.exit(128 + signal.SIGPIPE)
    except OutputLost as lost:
        output_dropped()
        with contextlib.suppress(OSError):  # stderr on the same full disk: the status says it
            print(f"{prog}: cannot write to stdout ({lost.error.strerror or lost.error}){lost.after}",
                  file=sys.stderr, flush=True)
        sys.exit(lost.status)
    except KeyboardInterrupt as stop:  # Stopped too
        _stopped(prog, stop)
    except Exception as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are not Exceptions
        stop = _stop_behind(exc) or _stop_swallowed(exc)
        if stop is not None:
            _stopped(prog, stop)
        _internal_error(prog, exc)


def _stopped(prog: str, stop: KeyboardInterrupt) -> NoReturn:
    if isinstance(stop, Stopped):
        print(f"{prog}: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        sys.exit(128 + stop.signum)
    print(f"{prog}: interrupted", file=sys.stderr)
    sys.exit(130)


def _stop_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The stop an exception was raised from, if any: a stop signal handled inside an
    extension module's initialisation came out as "ImportError: initialization failed"
    (scipy's HiGHS, pybind11), which hpo-demo-data took for a bug (exit 4, a traceback)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def stop_received() -> bool:
    """Whether a stop signal reached the program: an ImportError then may be a stop an
    extension module's initialisation swallowed (see :data:`_received`), not a fault of
    what was imported."""
    return bool(_received)


def _stop_swallowed(exc: BaseException) -> KeyboardInterrupt | None:
    """The stop an import failed on without naming it (see :data:`_received`): an
    ImportError after a stop signal came.  Only an ImportError: another exception after a
    stop (a plugin's bug while the run stopped) keeps its traceback."""
    if not _received or not isinstance(exc, ImportError):
        return None
    return KeyboardInterrupt() if _received[0] == signal.SIGINT else Stopped(_received[0])


def _stop_again(unraisable: Any) -> None:
    """``sys.unraisablehook``: a stop raised where Python cannot pass an exception on (a
    garbage-collector callback such as distributed's GCDiagnosis, a ``__del__``) was only
    printed as "Exception ignored in ...", and the run went on to its end (exit 0 after a
    Ctrl-C).  The signal is sent again, its handler put back, so that it is raised where
    the program is next.  Any other exception goes to the hook there was."""
    stop = unraisable.exc_value
    if not isinstance(stop, KeyboardInterrupt):
        _unraisable_before(unraisable)
        return
    signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
    if signal.getsignal(signum) is _ignore:  # still the run's own handling, stopping
        signal.signal(signum, _stop_once)
        # From another thread, a moment later: sent from here, the handler ran at once,
        # still inside the collector, and was lost again.
        threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()


_unraisable_before = sys.unraisablehook


def _internal_error(prog: str, exc: BaseException) -> NoReturn:
    traceback.print_exception(exc)
    print(internal_error(prog, exc), file=sys.stderr, flush=True)
    sys.exit(EXIT_INTERNAL_ERROR)


def _leave_on_stop(status: int) -> None:
    """The work is done: a stop signal from here on (the interpreter's shutdown, which a
    plugin's thread or exit handler may hold up) ends the process at once with ``status``,
    rather than as a death by signal without a line, or not at all."""

    def leave(_signum: int, _frame: object) -> None:
        with contextlib.suppress(Exception):  # a closed or broken stdout: the status matters more
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)

    leaving = []
    for each in STOP_SIGNALS:
        # Not only hpo-run's own handler: one a library put back to the default on its
        # way out (a SIGTERM in the last 0.2 s of a run killed it, its front table unprinted).
        if signal.getsignal(each) is not signal.SIG_IGN:  # nohup's stays
            signal.signal(each, leave)
            leaving.append(each)
    # The handler runs in the main thread, which the shutdown holds waiting for a plugin's
    # thread; a signal the kernel gives to that thread instead only marks it pending, and
    # the main thread waits on (1 stop in 10 ended nothing, under load).  The signal's
    # wakeup byte reaches this thread whichever thread took it.
    try:
        woken, wake = os.pipe()
        os.set_blocking(wake, False)
        signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    except (OSError, ValueError):  # not the main thread (a test's): the handler alone
        return

    def watch() -> None:
        while True:
            if any(byte in leaving for byte in os.read(woken, 64)):
                leave(0, None)

    threading.Thread(target=watch, name="hpo-leave-on-stop", daemon=True).start()


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll says POLLERR for it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _fd, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no stdout, or not a file
        return False


@contextlib.contextmanager
def stops_deferred() -> Iterator[None]:
    """A stop signal in the block takes effect at its end, where the handler it had runs:
    a step that must not be cut in two (a directory made and noted for clean-up, one put
    in another's place).  hpo-report stopped by SIGHUP just after making its hidden
    folder, before it noted it, left the folder behind (1 run in 12 of its test, under
    load).  Only the main thread sets handlers: elsewhere the block runs as it is."""
    noted: list[int] = []
    try:
        before = {each: signal.signal(each, lambda signum, _frame: noted.append(signum)) for each in STOP_SIGNALS}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for each, handler in before.items():
            signal.signal(each, handler)
        if noted:
            signal.raise_signal(noted[0])  # its handler runs now, here


def stop_on_signals() -> dict[int, Any]:
    """Have each of :data:`STOP_SIGNALS` stop the program as Ctrl-C does (the first raises
    :class:`Stopped`, later ones are ignored while it stops); return the handlers replaced.
    One ignored already stays so: `nohup hpo-run ...` must outlive the session."""
    previous = {}
    for each in STOP_SIGNALS:
        if signal.getsignal(each) is not signal.SIG_IGN:
            previous[each] = signal.signal(each, _stop_once)
    return previous


def hpo_run() -> NoReturn:
    # SIGTERM and SIGHUP too: at their defaults they ended hpo-run at once and left a Parsl
    # run's batch jobs and interchange running until their walltime.  One that comes while
    # a local Dask cluster starts waits until it has started (dask_launcher).
    def main() -> int:
        # Inside _exit_with: a Ctrl-C while the handlers are being set (the next one not
        # yet) is one line too; before this, it was a traceback from stop_on_signals.
        stop_on_signals()
        from dnnp_hpo.cli import main

        return main()

    _exit_with("hpo-run", main)


def hpo_report() -> NoReturn:
    def main() -> int:
        # SIGTERM and SIGHUP (a batch system, a dropped ssh session) as Ctrl-C: at their
        # defaults they left the half-written report's hidden folder in the run directory
        # (helper-127).
        stop_on_signals()
        from dnnp_hpo.report.cli import main

        return main()

    _exit_with("hpo-report", main)


def hpo_demo_data() -> NoReturn:
    def main() -> int:
        from dnnp_hpo.plugins.deepmd.demo_data import main

        return main()

    _exit_with("hpo-demo-data", main)
