"""What a local run exposes on the network: only loopback, and no dashboard unless asked."""

from __future__ import annotations

import os

import psutil
import pytest
from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo.driver import execute, prepare_run
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.registry import load_registry


def listening_sockets() -> list[str]:
    """``host:port`` of every TCP socket this process listens on (Linux /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table, width in (("/proc/self/net/tcp", 8), ("/proc/self/net/tcp6", 32)):
        try:
            with open(table) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                host, port = address.split(":")
                if width == 8:
                    host = ".".join(str(int(host[i:i + 2], 16)) for i in (6, 4, 2, 0))
                found.append(f"{host}:{int(port, 16)}")
    return found


def workers_listening() -> list[str]:
    """``host:port`` of every TCP socket the driver's child processes (the local Dask
    workers) listen on."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        found += [f"{c.laddr.ip}:{c.laddr.port}" for c in connections if c.status == psutil.CONN_LISTEN]
    return found


class SocketSpy:
    """An observer: what the driver and its workers listen on while evaluations come back."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.workers: set[str] = set()

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, run, evaluation):
        self.seen.update(listening_sockets())
        self.workers.update(workers_listening())


@pytest.mark.skipif(not os.path.exists("/proc/self/net/tcp"), reason="needs Linux /proc")
def test_local_dask_run_listens_on_loopback_only(tmp_path):
    spy = SocketSpy()
    registry = load_registry(extra_plugins=(spy,))
    path = write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", pop_size=2, generations=0))
    run, trainer = prepare_run(path, registry)
    execute(run, trainer, registry=registry)
    assert spy.seen, "the observer saw no evaluation"
    loopback = ("127.", "0000000000000000FFFF00000100007F")  # IPv4, and IPv4-mapped IPv6 as /proc shows it
    exposed = [s for s in spy.seen if not s.startswith(loopback)]
    assert exposed == [], f"listening beyond loopback: {exposed}"
    # each worker: its comm and its HTTP server (health, metrics), which took every interface
    assert len(spy.workers) >= 2, spy.workers
    exposed = [s for s in spy.workers if not s.startswith(("127.", "::ffff:127."))]
    assert exposed == [], f"workers listening beyond loopback: {exposed}"
