"""What the trainings read: a digest of each data path's content, recorded when a run starts.

The spec names the training data by path, and a path says nothing of what lies there: a
dataset regenerated (more frames, another DFT setting) under the same directory, or a
``$DATA`` set to another one, would let a resumed search mix candidates trained on two
datasets in one front, with no key of the spec that differs.  The run records a digest of
each data path when it starts and a resume compares them (resume.check_run_dir).

The digest is of content, not of place or time: a run moved to a cluster with its data
(copied, so with new modification times) resumes.  It reads every file once per session,
which a training reads anyway (docs/benchmarks.md section 7 gives the cost).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from dnnp_hpo.paths import data_location


@attrs.frozen
class DataDigest:
    """One data path as a run found it: ``sha256`` is None when nothing was there."""

    path: str
    sha256: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"path": self.path, "sha256": self.sha256}

    @classmethod
    def from_json(cls, value: object) -> DataDigest | None:
        """The digest a journal holds, or None for a value that is not one."""
        if not isinstance(value, dict) or not isinstance(value.get("path"), str):
            return None
        sha = value.get("sha256")
        return cls(value["path"], sha if isinstance(sha, str) else None)


def recorded_digests(value: object) -> tuple[DataDigest | None, ...]:
    """The digests a journal's ``data_digests`` holds (None for an entry that is not one;
    () for a journal from before they were recorded)."""
    return tuple(DataDigest.from_json(v) for v in value) if isinstance(value, list) else ()


def data_digests(paths: Sequence[str]) -> tuple[DataDigest, ...]:
    """A :class:`DataDigest` of each of ``paths`` (files or directory trees, the file of an
    HDF5 ``FILE#GROUP``), in order."""
    return tuple(DataDigest(path, content_digest(Path(data_location(path)))) for path in paths)


def content_digest(root: Path) -> str | None:
    """SHA-256 over every regular file under ``root`` (or of ``root`` itself, a file):
    each file's path relative to ``root`` and its content's digest, in sorted order; None
    if ``root`` does not exist."""
    if not root.exists():
        return None
    digest = hashlib.sha256()
    for relative, path in sorted(_files(root)):
        digest.update(f"{relative}\0{_file_digest(path)}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """(path relative to ``root`` with ``/``, path) of every regular file under ``root``.

    Symbolic links are followed (a dataset is often assembled from links to systems kept
    elsewhere), each directory once: a link back up the tree does not loop.  What is not a
    regular file (a FIFO, a socket) is left out: reading one could block, and no trainer
    reads one as data.
    """
    if not root.is_dir():
        if _regular(root):  # a data path that is a FIFO would block the digest for ever
            yield "", root
        return
    seen: set[tuple[int, int]] = set()
    for directory, subdirectories, names in os.walk(root, followlinks=True):
        # In name order, so that of two links to one directory the same one is walked
        # whatever order the file system lists them in (a copy lists them in another).
        subdirectories.sort()
        info = os.stat(directory)
        if (info.st_dev, info.st_ino) in seen:
            subdirectories.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        for name in names:
            path = Path(directory, name)
            if _regular(path):
                yield path.relative_to(root).as_posix(), path


def _regular(path: Path) -> bool:
    """Whether ``path`` (links followed) is a regular file; a dangling link is not."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _file_digest(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:  # unreadable here: the training cannot read it either
        return f"unreadable ({exc.strerror})"
