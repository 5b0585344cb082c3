"""The batch-node Dask set-up (configs/dask-batch-node.sh) on a SHARED launch node.

Summit's batch scripts run on a launch node shared with other users, whose jobs reach
127.0.0.1 as well; Dask's plain tcp has no authentication, so the script's Dask speaks
TLS with a throw-away certificate of the job's own.  The real scripts are run here as
test_cluster_configs.py runs them (NODES=2, the spec that ran on a laptop), and while
the run is on:

* the scheduler file's address is ``tls://127.0.0.1:PORT`` (PORT not Dask's 8786) and
  every worker listens on tls;
* the certificate and key are mode 0600 in a 0700 directory of WORKDIR;
* a plain tcp client, a client with no certificate and one with another CA's
  certificate cannot talk to the scheduler; a client with the job's certificate can;
* the run completes, and the certificate is removed at the end.

Also: DASK_SCHEDULER_ARGS without a --port keeps the free port.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from launchers_testutil import REPO, VENV_BIN, assert_every_evaluation_once, write_spec

SUMMIT = REPO / "configs" / "lsf" / "summit-dask.lsf"
FRONTIER = REPO / "configs" / "slurm" / "frontier-dask.sbatch"

#: run by a fresh interpreter: try one way of talking to the scheduler, print what happened
PROBE = r"""
import json, sys
from distributed import Client
from distributed.security import Security
address, how = sys.argv[1], sys.argv[2]
security = None
if how == "tls-without-client-certificate":  # a raw TLS client that trusts anything
    import socket, ssl
    host, port = address.removeprefix("tls://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw) as sock:
                sock.sendall(b"x" * 64)
                sock.recv(1)  # TLS 1.3: the server's refusal of the missing certificate arrives here
        print(json.dumps({"connected": True}))
    except (OSError, ssl.SSLError) as exc:
        print(json.dumps({"connected": False, "error": f"{type(exc).__name__}: {exc}"[:300]}))
    sys.exit(0)
if how == "tcp":
    address = address.replace("tls://", "tcp://")
elif how == "no-certificate":
    security = Security()
elif how.startswith("certificate:"):
    cert, key, ca = how.split(":", 1)[1].split(",")
    security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
try:
    with Client(address, security=security, timeout=5) as client:
        workers = len(client.scheduler_info()["workers"])
    print(json.dumps({"connected": True, "workers": workers}))
except Exception as exc:
    print(json.dumps({"connected": False, "error": f"{type(exc).__name__}: {exc}"[:300]}))
"""


def _clean_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("DASK_")}


def _batch_env(worker_env: dict, tmp_path: Path, spec: Path, workdir: Path) -> dict:
    return {**_clean_env(worker_env), "DNNP_HPO_DIR": str(REPO), "SPEC": str(spec), "VENV": str(VENV_BIN.parent),
            "WORKDIR": str(workdir), "DASK_SCRATCH": str(tmp_path / "scratch"), "NODES": "2"}


def _probe(address: str, how: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, address, how], env=_clean_env(env), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wait_for_address(proc: subprocess.Popen, scheduler_file: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the batch script ended before its scheduler was up"
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)
    raise AssertionError("no scheduler file")


def _listens(log: Path) -> list[str]:
    return [line.split(" at: ")[1].strip() for line in log.read_text().splitlines() if " at: " in line]


@pytest.mark.slow
@pytest.mark.parametrize("script", [SUMMIT, FRONTIER], ids=lambda p: p.name)
def test_batch_node_dask_is_tls_with_the_jobs_own_certificate(script: Path, tmp_path: Path, worker_env) -> None:
    spec = write_spec(tmp_path / "small.yaml", pop_size=4, generations=1,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:held_zdt1"},
                      launcher={"plugin": "dask", "workers": 2, "wait_timeout": 300})
    workdir = tmp_path / "job"
    hold = tmp_path / "hold"  # the evaluations wait while it exists: the run is on while probed
    hold.touch()
    env = {**_batch_env(worker_env, tmp_path, spec, workdir), "HPO_TEST_HOLD": str(hold)}
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=someone-else", "-keyout", str(foreign / "key.pem"),
                    "-out", str(foreign / "cert.pem")], capture_output=True, check=True, timeout=60)
    with open(tmp_path / "out.txt", "wb") as out, open(tmp_path / "err.txt", "wb") as err:
        proc = subprocess.Popen(["bash", str(script)], cwd=tmp_path, env=env, stdout=out, stderr=err,
                                start_new_session=True)
    try:
        address = _wait_for_address(proc, workdir / "scheduler.json")
        assert address.startswith("tls://127.0.0.1:") and not address.endswith(":8786"), address
        tls = workdir / "dask-tls"
        assert stat.S_IMODE(tls.stat().st_mode) == 0o700
        pems = sorted(tls.glob("*.pem"))
        assert [p.name for p in pems] == ["cert.pem", "key.pem"]
        for pem in pems:
            assert stat.S_IMODE(pem.stat().st_mode) == 0o600, pem
        # Another user's code on the launch node, without this job's certificate:
        refused = {how: _probe(address, how, env) for how in (
            "tcp", "no-certificate", "tls-without-client-certificate", f"certificate:{foreign / 'cert.pem'},{foreign / 'key.pem'},{foreign / 'cert.pem'}",
            f"certificate:{foreign / 'cert.pem'},{foreign / 'key.pem'},{tls / 'cert.pem'}")}
        assert not any(result["connected"] for result in refused.values()), refused
        # ... while the job's certificate is let in (so the refusals are the certificate's doing).
        mine = _probe(address, f"certificate:{tls / 'cert.pem'},{tls / 'key.pem'},{tls / 'cert.pem'}", env)
        assert mine["connected"], mine
        # The user's own hpo-run from a second shell, without the job's certificate: one
        # line, exit 3, naming what to set (it was "internal error: TypeError: TLS expects
        # a 'ssl_context' argument", a traceback and exit 4; helper-97)
        joined = write_spec(tmp_path / "joined.yaml", pop_size=2, generations=0, run_dir=tmp_path / "joined",
                            launcher={"plugin": "dask", "scheduler_file": str(workdir / "scheduler.json"),
                                      "min_workers": 1, "wait_timeout": 30})
        second = subprocess.run([str(VENV_BIN / "hpo-run"), str(joined)], cwd=tmp_path, env=_clean_env(env),
                                capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 3 and second.stderr.count("\n") == 1, second.stderr
        assert (f"launcher.scheduler_file: the Dask scheduler at {address} (scheduler file "
                in second.stderr and "takes TLS connections only" in second.stderr
                and "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in second.stderr), second.stderr
        # ... and with them pointing at a certificate that is not there (a typo, or a
        # job's that has ended): the path, not "[Errno 2] No such file or directory" alone
        gone = tmp_path / "ended-job" / "cert.pem"
        third = subprocess.run([str(VENV_BIN / "hpo-run"), str(joined)], cwd=tmp_path, capture_output=True, text=True,
                               env={**_clean_env(env), "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(gone),
                                    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(tls / "cert.pem"),
                                    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(tls / "key.pem")},
                               timeout=120, check=False)
        assert third.returncode == 3 and third.stderr.count("\n") == 1, third.stderr
        assert f"Dask's distributed.comm.tls.ca-file is {gone}, which cannot be read: no such file" in third.stderr
        assert proc.poll() is None, "the run was on while probed"
        hold.unlink()
        status = proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    stderr = (tmp_path / "err.txt").read_text()
    assert status == 0, stderr[-2000:]
    assert_every_evaluation_once(workdir / "run", 8)
    assert f"2 worker(s) at {address}" in (workdir / "run" / "launcher.log").read_text()
    for name in ("dask-worker-1.log", "dask-worker-2.log"):
        assert _listens(workdir / name)[0].startswith("tls://127.0.0.1:"), name
    assert not (workdir / "dask-tls").exists(), "the certificate goes with the job"
    leftovers = subprocess.run(["pgrep", "-f", "--", f"--scheduler-file {workdir}/scheduler.json"],
                               capture_output=True, text=True, check=False)
    assert leftovers.returncode == 1 and leftovers.stdout.strip() == "", "no Dask process left behind"


@pytest.mark.slow
def test_scheduler_args_without_a_port_keep_the_free_port(tmp_path: Path, worker_env) -> None:
    """DASK_SCHEDULER_ARGS replaced '--port 0' too: the scheduler took Dask's 8786, which
    another job's scheduler on a shared launch node may hold."""
    spec = write_spec(tmp_path / "small.yaml", pop_size=2, generations=1,
                      launcher={"plugin": "dask", "workers": 2, "wait_timeout": 300})
    workdir = tmp_path / "job"
    env = {**_batch_env(worker_env, tmp_path, spec, workdir),
           "DASK_SCHEDULER_ARGS": "--host 127.0.0.1 --dashboard-address 127.0.0.1:0"}
    done = subprocess.run(["bash", str(SUMMIT)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180, start_new_session=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (scheduler, _http) = _listens(workdir / "dask-scheduler.log")
    assert scheduler.startswith(("tls://127.0.0.1:", "tcp://127.0.0.1:")), scheduler
    assert not scheduler.endswith(":8786"), scheduler
