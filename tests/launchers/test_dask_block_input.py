"""Values of the Dask ``launcher:`` block that no cluster can take are refused by the spec
check: one line naming the key, exit 2, nothing launched and nothing written (the run
directory, its journal).  Through the real ``hpo-run``, without ``--dry-run``: the run is
what wrote the journal before failing."""

from __future__ import annotations

from pathlib import Path

from cli_testutil import hpo_run, write_spec, zdt_spec


def _refused(tmp_path: Path, launcher: dict) -> str:
    """hpo-run's one line for a spec with this launcher block, checking that nothing was written."""
    spec = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", launcher=launcher))
    done = hpo_run(str(spec), cwd=tmp_path, timeout=120)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"], "nothing written"
    return lines[0]


def test_threads_per_worker_is_bounded_as_workers_are(tmp_path: Path) -> None:
    """2**64 passed --dry-run; the run wrote its directory and journal, then the LocalCluster
    raised OverflowError: a traceback, exit 4."""
    line = _refused(tmp_path, {"plugin": "dask", "workers": 1, "threads_per_worker": 2**64})
    assert ": launcher.threads_per_worker: threads_per_worker must be at most 100,000, got " in line, line
