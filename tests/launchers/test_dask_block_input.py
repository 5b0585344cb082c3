"""Values of the Dask ``launcher:`` block that no cluster can take are refused by the spec
check: one line naming the key, exit 2, nothing launched and nothing written (the run
directory, its journal).  Through the real ``hpo-run``, without ``--dry-run``: the run is
what wrote the journal before failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testutil import hpo_run, write_spec, zdt_spec

from dnnp_hpo.cli import main


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


def test_an_address_with_an_impossible_port_is_refused(tmp_path: Path) -> None:
    """tcp://127.0.0.1:99999 passed --dry-run; the run wrote its journal, waited wait_timeout
    for a scheduler no port can hold, and stopped with exit 3."""
    line = _refused(tmp_path, {"plugin": "dask", "address": "tcp://127.0.0.1:99999", "wait_timeout": 3})
    assert line.endswith(": launcher.address: address 'tcp://127.0.0.1:99999': expected a port from 1 to 65535 "
                         "after the host (the one the scheduler listens on, 8786 by default)"), line


@pytest.mark.parametrize(("address", "words"), [
    ("tcp://127.0.0.1:0", "expected a port from 1 to 65535"),
    ("tcp://127.0.0.1:65536", "expected a port from 1 to 65535"),
    ("tcp://127.0.0.1:" + "9" * 5000, "expected a port from 1 to 65535"),
    ("tcp://127.0.0.1:-1", "address must look like tcp://host:port"),
    ("tcp://:8786", "address must look like tcp://host:port"),
    # no port: Client() raised "missing port number" (a traceback, exit 4)
    ("tcp://127.0.0.1", "address must look like tcp://host:port"),
    ("tcp://::1:8786", "an IPv6 host in brackets"),
    # an address inside one process: Client() raised ValueError (a traceback, exit 4)
    ("inproc://foo", "address must look like tcp://host:port"),
    ("tcp://127.0.0.1:\u0668\u0667\u0668\u0666", "address must look like tcp://host:port"),
], ids=["port-0", "port-65536", "port-5000-digits", "port-negative", "no-host", "no-port", "ipv6-bare", "inproc",
        "port-arabic-indic"])
def test_an_address_dask_cannot_join_is_one_line(address: str, words: str, tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", launcher={"plugin": "dask",
                                                                                   "address": address}))
    assert main([str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ": launcher.address: " in err and words in err, err


def test_ucx_without_ucx_py_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    """distributed imports ucp only when it connects: ModuleNotFoundError, a traceback."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ucp" else real(name, *a))
    spec = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", launcher={
        "plugin": "dask", "address": "ucx://127.0.0.1:8786"}))
    assert main([str(spec), "--dry-run"]) == 2
    assert "launcher.address: ucx:// needs UCX-Py (the ucp module)" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tls://node-12.cluster.example:1",
                                     "tcp://login_3:65535", "tcp://[fe80::1%eth0]:8786"])
def test_addresses_dask_joins_pass(address: str, tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path / "ok.yaml", zdt_spec(tmp_path / "run", launcher={"plugin": "dask",
                                                                                  "address": address}))
    assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err
