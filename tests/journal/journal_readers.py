"""Helpers of the read-only journal tests: real journals written by a separate process, and
readers run without the privileges that let root write anywhere."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from file_modes import unprivileged

#: writes BIRTHS finished evaluations into RUN_DIR's journal, then (MODE) keeps it open
#: until stdin closes ("hold"), exits without closing it ("crash"), or closes it ("close")
WRITER = """
import os, sys
from pathlib import Path
from dnnp_hpo.evaluation import Evaluation, Trial
from dnnp_hpo.journal import Journal

run_dir, births, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
journal = Journal.of(run_dir)
journal.db.execute("PRAGMA wal_autocheckpoint=0")  # every record stays in the -wal only
journal.set_meta("spec", {"name": "live"})
for birth in range(births):
    trial = Trial(uuid=f"u{birth}", birth_id=birth, generation=0, genome=(0.5,), params={"x": 0.5},
                  seed=birth, workdir=run_dir / "evals" / f"u{birth}")
    journal.finished(Evaluation(trial=trial, status="ok", reason="", fitness=(1.0, 2.0), metrics={},
                                start=0.0, stop=1.0, hostname="h", pid=1))
print("written", flush=True)
if mode == "crash":
    os._exit(0)
if mode == "hold":
    sys.stdin.read()
journal.close()
"""

#: prints the births RUN_DIR's journal holds, read with Journal.of(run_dir, readonly=True)
READER = """
import json, sys
from dnnp_hpo.journal import Journal

with Journal.of(sys.argv[1], readonly=True) as journal:
    print(json.dumps([e.trial.birth_id for e in journal.evaluations()]))
"""



def write_journal(run_dir: Path, births: int, mode: str) -> subprocess.Popen:
    """Start the writer; returns once it has committed every record."""
    run_dir.mkdir(parents=True, exist_ok=True)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir), str(births), mode],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "written\n"
    return writer


def read_births(run_dir: Path) -> subprocess.CompletedProcess:
    """Read the journal in another process with file modes obeyed."""
    return subprocess.run([*unprivileged(), sys.executable, "-c", READER, str(run_dir)],
                          capture_output=True, text=True, timeout=60, check=False)


def births_read(run_dir: Path) -> list[int]:
    done = read_births(run_dir)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def make_read_only(root: Path) -> None:
    """chmod a-w on ``root`` and everything under it, as a read-only copy or mount leaves it."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and directory under ``root`` (itself included): content hash and mtime."""
    out = {}
    for path in sorted([root, *root.rglob("*")]):
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = (digest, path.stat().st_mtime_ns)
    return out
