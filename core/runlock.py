"""One driver per run directory: an exclusive lock held while ``hpo-run`` runs a search.

A second ``hpo-run`` on a live run's directory (a requeued batch job, a second terminal:
"run the same command again" is how a run resumes) would otherwise resume it: set the
first driver's evaluations in flight aside and train every birth again, both writing to
one journal.  The lock is ``flock`` on ``RUN_DIR/driver.lock``, not on the journal (SQLite
locks that file its own way, and NFS emulates flock with the same byte-range locks).  The
kernel drops it when the driver dies, SIGKILL included, so it never goes stale; the file
stays, naming the last holder.  The directory itself is locked too, where the file system
lets a directory be (not NFS): a lock file removed by hand while its driver ran let a
second driver lock a new one and drive the same run, each training twice (helper-117).
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from dnnp_hpo.errors import RecordsFailed, SpecError

LOCK = "driver.lock"
#: how many times a lock file or directory taken away by other drivers is taken again
TAKEN_AWAY_TRIES = 20


def missing_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist, innermost first: what
    ``mkdir -p path`` would make (the parent of the last is the nearest that exists)."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def check_writable(path: Path, key: str, where: str = "") -> None:
    """SpecError (``key``) unless the directory ``path`` can be created (or, if it exists,
    written in), so that ``--dry-run`` finds what the run would stop at; creating it
    tells the same at start (as root, whose access checks pass, only then)."""
    missing = missing_dirs(path)
    place = missing[-1].parent if missing else path  # the nearest that exists
    problem = ("Not a directory" if not place.is_dir()
               else "Permission denied" if not os.access(place, os.W_OK | os.X_OK) else None)
    if problem:
        raise SpecError(f"cannot write in {path}: {problem}", key, where)


def make_dirs(path: Path, made: list[Path]) -> None:
    """``mkdir -p path``, appending each directory it makes to ``made`` (outermost first)
    as it goes, so that a failure part way (a name too long, the disk full) can take them
    away again with :func:`remove_made`."""
    for directory in reversed(missing_dirs(path)):
        try:
            directory.mkdir()
        except FileExistsError:  # made meanwhile by someone else: not ours to remove
            continue
        made.append(directory)


def remove_made(made: list[Path]) -> None:
    """Remove the directories :func:`make_dirs` made, innermost first, while they are empty."""
    for directory in reversed(made):
        try:
            directory.rmdir()
        except OSError:  # something was written there after all: keep it
            break
    made.clear()


def in_use(run_dir: Path, holder: str, spec: str) -> SpecError:
    return SpecError(f"{run_dir} is in use by another hpo-run ({holder.strip() or 'another process'}): wait for "
                     "it to end, or choose another run_dir", "run_dir", spec)


def driver_holds(run_dir: Path) -> bool | None:
    """Whether a driver holds ``run_dir`` now, as :class:`RunLock` would find it (None:
    it cannot be told, no flock on this file system); writes nothing: the lock is taken
    and dropped at once, through a file opened for reading, and only if the lock file
    exists (no driver has held it otherwise).  Shared, so that it holds off a driver
    starting at that very instant as briefly as can be."""
    if _directory_held(run_dir):
        return True
    try:
        with open(run_dir / LOCK, encoding="utf-8") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            except OSError:  # no flock on this file system: RunLock only notes it, so does this
                return None
    except OSError:  # no lock file (a new run, or one started before the lock), or unreadable
        return False
    return False


def check_free(run_dir: Path, spec: str) -> None:
    """SpecError if a driver holds ``run_dir`` now (:func:`driver_holds`; ``--dry-run``)."""
    if driver_holds(Path(run_dir)):
        raise in_use(Path(run_dir), _holder(Path(run_dir)), spec)


def _locked_directory(run_dir: Path, operation: int) -> int | None:
    """A descriptor of ``run_dir`` itself, locked with ``operation`` (flock's, without
    waiting); BlockingIOError if a driver holds it; None where it cannot be locked (no
    such directory: removed meanwhile; NFS, which emulates flock with locks a directory
    cannot take), the lock file's lock then standing alone."""
    try:
        directory = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(directory, operation | fcntl.LOCK_NB)
    except OSError as exc:  # BlockingIOError among them: raised, the descriptor closed
        os.close(directory)
        if isinstance(exc, BlockingIOError):
            raise
        return None
    return directory


def _directory_held(run_dir: Path) -> bool:
    """Whether a driver holds the lock on ``run_dir`` itself (taken and dropped at once,
    shared); False where it cannot be told."""
    try:
        directory = _locked_directory(run_dir, fcntl.LOCK_SH)
    except BlockingIOError:
        return True
    if directory is not None:
        os.close(directory)
    return False


def _holder(run_dir: Path) -> str:
    """The holder line of ``run_dir``'s lock file ('' if it cannot be read: removed by hand)."""
    try:
        return (run_dir / LOCK).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _holds_only_the_lock(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds the lock file and nothing else (False if it is gone:
    removed while its run went on, helper-117)."""
    try:
        return [p.name for p in run_dir.iterdir()] == [LOCK]
    except OSError:
        return False


class RunLock:
    """``with RunLock(run_dir, spec):`` holds ``run_dir`` for this process, or raises a
    SpecError (key ``run_dir``) naming the driver that holds it.  Creates ``run_dir`` and
    the parents it lacks; if it cannot, or the block fails, it removes again every directory
    it created (``run_dir`` only when the lock is all it holds)."""

    def __init__(self, run_dir: Path, spec: str) -> None:
        self.run_dir = Path(run_dir)
        self.spec = spec
        self.file: IO[str] | None = None
        self.directory: int | None = None  #: the run directory's descriptor, locked (None: not lockable)
        self.created: list[Path] = []  #: the directories this lock made, outermost first

    def __enter__(self) -> Self:
        # Again while another driver, refused in a directory it had made, takes the lock
        # file or the directory away from under this one (each time a driver gives up):
        # bounded all the same, so that no file system's oddity can hold hpo-run here.
        for _ in range(TAKEN_AWAY_TRIES):
            if self._lock():
                break
        else:
            raise SpecError(f"cannot lock {self.run_dir / LOCK}: it was removed {TAKEN_AWAY_TRIES} times while "
                            "hpo-run took it; run it again", "run_dir", self.spec)
        try:
            self.file.seek(0)
            self.file.truncate()
            self.file.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                            f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            self.file.flush()
        except OSError as exc:  # the quota or the disk full: a run's first write (helper-118)
            self.__exit__(type(exc), exc, None)
            raise RecordsFailed(self.run_dir / LOCK, exc, "nothing was launched: run hpo-run again once it "
                                "can write there") from None
        return self

    def _lock(self) -> bool:
        """Open and lock the lock file; False if it was taken away meanwhile: a driver
        refused in a directory it had made unlinks the file and removes the directory,
        which may come between our making of the directory and our open (the open fails),
        or between our open and our lock (a third driver would lock a new file beside ours)."""
        try:
            make_dirs(self.run_dir, self.created)
            self.file = open(self.run_dir / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 - held until __exit__
        except OSError as exc:  # a read-only place, a path through a file, /proc, a name too long...
            if isinstance(exc, FileNotFoundError) and not os.path.lexists(self.run_dir):
                return False  # removed since we made it or saw it (not a dangling symbolic link)
            remove_made(self.created)
            raise SpecError(f"cannot write in {self.run_dir}: {exc.strerror or exc}", "run_dir",
                            self.spec) from None
        try:
            self.directory = _locked_directory(self.run_dir, fcntl.LOCK_EX)
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read()
            self._release()
            raise in_use(self.run_dir, holder, self.spec) from None
        except OSError as exc:  # a file system without flock (a Lustre mount without -o flock)
            print(f"hpo-run: note: cannot lock {self.run_dir / LOCK} ({exc.strerror or exc}); "
                  "do not run two hpo-run on this run_dir at once", file=sys.stderr)
            return True
        try:
            unlinked = os.stat(self.run_dir / LOCK).st_ino != os.fstat(self.file.fileno()).st_ino
        except FileNotFoundError:
            unlinked = True
        except OSError:  # cannot tell (an NFS hiccup): the file is the one opened a moment ago
            unlinked = False
        if unlinked:
            self._release()
        return not unlinked

    def _release(self) -> None:
        if self.directory is not None:
            os.close(self.directory)
            self.directory = None
        if self.file is not None:
            file, self.file = self.file, None
            try:
                file.close()  # closing the file drops the lock
            except OSError:  # flushing a holder line the disk refused: the descriptor is closed all the same
                pass

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is not None and self.run_dir in self.created and _holds_only_the_lock(self.run_dir):
            # refused before anything was written (another driver's run, a bad resume);
            # unlinked while still locked: a driver that opened it meanwhile finds it
            # locked, or (its lock taken after our release) no longer at its path
            (self.run_dir / LOCK).unlink()
            self._release()
            remove_made(self.created)
        self._release()
