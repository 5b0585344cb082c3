"""Dask's version report reads the installed versions from the packages' metadata
(plugins/launchers/dask_versions.py): the same answers as distributed's own function, and
no process of a local run imports pandas for it (about 0.3 s of CPU each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import distributed
import pytest
from distributed import versions
from launchers_testutil import read_csv, write_spec

from dnnp_hpo.plugins.launchers import dask_versions


def test_the_versions_read_are_the_ones_distributed_reads_by_importing() -> None:
    reported = [*versions.required_packages, *versions.optional_packages]
    # a module named otherwise than its distribution (yaml: PyYAML), one not installed,
    # and one given by name alone, as client.get_versions(packages=[...]) passes them
    asked = [*reported, "yaml", ("no_such_module_here", None), "attrs"]
    # distributed's own, also where a run in this process has replaced it
    by_import = getattr(versions.get_package_info, "by_import", versions.get_package_info)
    from_metadata = dask_versions._from_metadata(by_import)
    expected = by_import(asked)
    assert from_metadata(asked) == expected
    assert expected["no_such_module_here"] is None and expected["yaml"] and expected["pandas"]
    assert set(expected) == {"python", *(name for name, _ in reported), "yaml", "no_such_module_here", "attrs"}


def test_it_is_done_once_and_not_on_a_distributed_that_reads_the_metadata_itself_or_is_unreadable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    own = getattr(versions.get_package_info, "by_import", versions.get_package_info)
    monkeypatch.setattr(versions, "get_package_info", own)  # put back at the end
    monkeypatch.setattr(distributed, "__version__", dask_versions.READS_METADATA_SINCE)
    dask_versions.read_versions_from_metadata()
    assert versions.get_package_info is own
    monkeypatch.setattr(distributed, "__version__", "a version packaging cannot read")
    dask_versions.read_versions_from_metadata()  # a speed-up: no reason to stop a run
    assert versions.get_package_info is own
    monkeypatch.setattr(distributed, "__version__", "2024.6.2")
    dask_versions.read_versions_from_metadata()
    replaced = versions.get_package_info
    assert replaced.by_import is own
    dask_versions.read_versions_from_metadata()
    assert versions.get_package_info is replaced, "not wrapped twice"


DRIVER = """
import sys
from dnnp_hpo import cli
if __name__ == "__main__":
    status = cli.main(sys.argv[1:])  # returns, where hpo-run's outer frame exits
    print("driver imported pandas:", "pandas" in sys.modules)
    sys.exit(status)
"""


def test_no_process_of_a_local_run_imports_pandas(tmp_path: Path, worker_env) -> None:
    """hpo-run (its client and scheduler) and its local worker, for real."""
    spec = write_spec(tmp_path / "probe.yaml", pop_size=2, generations=0,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:pandas_imported"},
                      launcher={"plugin": "dask", "workers": 1})
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(spec)], cwd=tmp_path, env=worker_env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "driver imported pandas: False" in done.stdout, done.stdout
    rows = read_csv(tmp_path / "run-probe" / "individuals.csv")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}, rows
    assert {r["f1"] for r in rows} == {"0.0"}, "the worker imported pandas"
