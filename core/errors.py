"""The expected failures: a user's mistake, a plugin that cannot load, a training that
failed, an engine that cannot start."""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def shortened(value: str, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: a 5,000-character value stays one readable
    line in an error message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(value)} characters)"


def short_number(number: float) -> str:
    """``repr(number)``, or its first 10 characters and its length when over 24: a whole
    number of 400 digits (YAML reads any) stays one readable line in an error message."""
    text = repr(number)
    return text if len(text) <= 24 else f"{text[:10]}... ({len(text)} digits)"


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` in one line, cut to ``limit`` characters: a plugin's return value
    in an error message (one whose ``repr`` raises too is named by its type)."""
    try:
        text = " ".join(repr(value).split())
    except Exception:  # noqa: BLE001 - a plugin's object whose repr is broken
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit]}..."


def printable(text: str) -> str:
    """``text`` with each character a terminal would not print as itself (a newline, an
    escape) written as its escape sequence: a path given on the command line may hold
    any, and a newline split a one-line message in two (helper-120)."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def yaml_shown(value: object) -> str:
    """A value read from YAML as a message shows it, in YAML's words rather than Python's:
    null for an empty value (``seed:``), a date as written (YAML reads an unquoted
    2020-01-01 as a date), ``!!binary`` data as such; else :func:`shown`."""
    import datetime

    if value is None:
        return "null (an empty value)"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()} (unquoted, YAML reads it as a date: quote it for text)"
    if isinstance(value, (bytes, bytearray)):
        return f"binary data (!!binary, {len(value)} bytes)"
    return shown(value)


def described(exc: BaseException) -> str:
    """``Type: message`` of an exception, in one line (``Type`` alone without a message, or
    when its ``__str__`` raises: a plugin's exception class may be as broken as its code)."""
    try:
        message = " ".join(str(exc).split())
    except Exception:  # noqa: BLE001 - whatever its __str__ raises
        message = ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def exit_call(exc: SystemExit) -> str:
    """``sys.exit(...)`` as it was called: a status or a message as given, anything else
    (the params dict of ``sys:exit`` as a callable) cut to ``...``."""
    code = exc.code
    given = code if isinstance(code, int) or code is None else shortened(code) if isinstance(code, str) else "..."
    return f"sys.exit({given})"


def unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read as text, in words (not the exception's class name)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    if isinstance(exc, IsADirectoryError):
        return "a directory, not a file"
    return exc.strerror.lower() if exc.strerror else type(exc).__name__


class SpecError(Exception):
    """A mistake in the user's input, shown as one line: ``FILE: KEY: what is expected``.

    Raised at start-up, before anything is launched or written; the CLI turns it into
    that line on stderr and exit status 2.  ``key`` is a dotted path into the spec
    (``space.rcut.init``) or empty when the whole file is at fault.  ``rooted``: ``key``
    is a path from the spec's top even when a block's check raises it (a trainer finding
    fault with ``objectives.1.name``), so no block prefix is put before it.
    """

    def __init__(self, message: str, key: str = "", file: str = "", *, rooted: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.file = file
        self.rooted = rooted

    def located(self, file: str = "", prefix: str = "") -> SpecError:
        """The same error with the file, and a key path prefix, filled in."""
        key = self.key if self.rooted else ".".join(p for p in (prefix, self.key) if p)
        return SpecError(self.message, key, self.file or file, rooted=self.rooted)

    def __str__(self) -> str:
        # A file or key named with a newline or an escape sequence is quoted: the message
        # stays one line and the terminal gets no control sequence.
        return ": ".join(p if p.isprintable() else repr(p) for p in (self.file, self.key) if p) + (
            f": {self.message}" if self.file or self.key else self.message)


class Invalid(ValueError):
    """Raised by spec validators; its message is shown to the user as is.

    ``key``: the field at fault, relative to the block being validated (a validator passes
    ``attribute.name``), so the line names ``optimizer.pop_size``, not only ``optimizer``.
    Plugins import it as ``dnnp_hpo.spec.Invalid``."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


def checked(spec_file: str, prefix: str, step: Callable[[], T]) -> T:
    """``step()`` (a plugin's ``prepare`` or ``render``), with the user's mistake it raises,
    a SpecError or a validator's Invalid, located in ``spec_file`` under ``prefix`` (the
    plugin's block): ``exp.yaml: optimizer.generations: ...``."""
    try:
        return step()
    except SpecError as exc:
        raise exc.located(spec_file, prefix) from None
    except Invalid as exc:  # what a plugin's validators raise, raised by its prepare too
        raise SpecError(str(exc), exc.key).located(spec_file, prefix) from None
    except SystemExit as exc:
        # A plugin's bug like any other exception (exit 4, with its traceback): sys.exit()
        # ended hpo-run with status 0 and no word, and sys.exit("...") with status 1, which
        # says that no evaluation succeeded.
        raise RuntimeError(f"the {prefix} plugin called {exit_call(exc)} in its start-up checks: a plugin "
                           "raises dnnp_hpo.errors.SpecError for a mistake in the spec, and lets hpo-run end the "
                           "run") from exc


class PluginError(Exception):
    """An installed plugin that cannot be used: its import fails, or it registers a name
    another distribution registers too.  ``hpo-run`` shows it as one line and exits 2,
    before reading the spec: the fix is in the environment, not in the run."""


class TrainingFailed(Exception):
    """A training ran but gave no usable result; the candidate gets the MAXINT fitness.

    ``status`` is one of :attr:`STATUSES`: ``failed`` (the default: no usable result),
    ``timeout`` (killed at the time limit) or ``error`` (not the candidate's fault: a full
    disk, a directory that cannot be made); the message is the recorded reason.  Any other
    status (``"ok"``, ``"running"``, a typo such as ``"timout"``) is recorded as ``error``
    with a reason naming it: it would otherwise be a status no reader of the run knows.
    """

    #: the statuses a trainer may give (as dnnp_hpo.evaluation names them)
    STATUSES = ("failed", "timeout", "error")

    def __init__(self, reason: str, status: str = "failed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class LaunchFailed(RuntimeError):
    """The execution engine could not be started or joined (no scheduler file, no
    workers in time...).  ``hpo-run`` shows the message as one line and exits 3; the
    journal keeps whatever was recorded, so the same command resumes the run later."""

    headline = "could not launch"  #: how hpo-run's line begins


class EngineLost(LaunchFailed):
    """The engine failed for good during the run (Parsl gave its executor up): no later
    evaluation could run.  Exit 3 as well, the evaluations in flight left pending.

    ``what`` happened and, if the user must act first, the ``fix``; the message ends with
    what every such stop promises, so each launcher says it the same way.
    """

    headline = "the engine was lost"

    def __init__(self, what: str, fix: str = "") -> None:
        then = f"{fix} and run" if fix else "run"
        super().__init__(f"launcher: {what}; the evaluations in flight are kept: {then} hpo-run again to resume")


class TaskGivenUp(Exception):
    """Raised by a pool's future from ``result()`` when the engine gave one task up (its
    workers died under it, say): the message is the reason, in the pool's own words,
    recorded for that evaluation (``lost``).  Any other exception from ``result()`` is
    recorded as ``Type: message``."""


class RecordsFailed(LaunchFailed):
    """The run's records cannot be written (the journal locked by another program past the
    wait, the disk full, the run directory made read-only): a fault of the machine, not a
    bug.  Exit 3 as for a lost engine: what was committed stays, the evaluations in flight
    are kept, and the same command resumes once the cause is gone."""

    headline = "the run's records could not be written"

    def __init__(self, path: object, exc: BaseException,
                 then: str = "the evaluations in flight are kept: run hpo-run again to resume") -> None:
        cause = " ".join(str(getattr(exc, "strerror", None) or exc).split())
        hint = next((h for words, h in _RECORD_HINTS if words in cause.lower()), "")
        if "disk i/o error" in cause.lower():  # SQLite's word for any failed write, a full disk's too
            hint = _FREE_SPACE if _nearly_full(path) else _size_limit(path) or " (the file system failed a write: check it)"
        super().__init__(f"cannot write {path}: {cause}{hint}; {then}")


_FREE_SPACE = " (free space on its file system)"

#: what to do about the commonest causes, by words of SQLite's or the system's message
_RECORD_HINTS = (
    ("locked", (" (another program held the journal longer than hpo-run waits: close it, "
                "an sqlite3 shell in a transaction or a database browser)")),
    ("full", _FREE_SPACE),
    ("no space", _FREE_SPACE),
    ("readonly", " (make the run directory writable)"),
    ("read-only", " (make the run directory writable)"),
    ("permission denied", " (make the run directory writable)"),
)


def _size_limit(path: object) -> str:
    """The hint for a process that may not write files past a size (``ulimit -f``, set by
    a batch system or a login script) when the file or its WAL has come within a MiB of
    it: SQLite calls that write's failure "disk I/O error" too, and "check the file
    system" sent the user to a disk that was fine; "" otherwise (a generous site-wide
    limit is not the cause of every failed write)."""
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit == resource.RLIM_INFINITY:
        return ""
    sizes = []
    for suffix in ("", "-wal", "-journal"):
        try:
            sizes.append(os.stat(f"{path}{suffix}").st_size)
        except OSError:
            continue
    if max(sizes, default=0) + 2**20 < limit:
        return ""
    return f" (this process may not write a file past {limit} bytes: raise its file-size limit, ulimit -f)"


def _nearly_full(path: object) -> bool:
    """Whether the file system ``path`` is on has less than a MiB free (for the user; root
    may still write into the reserved blocks, so not exactly zero)."""
    try:
        return shutil.disk_usage(Path(str(path)).parent).free < 2**20
    except OSError:
        return False
