"""The parts a ``parsl`` launcher block is composed of: providers and job launchers.

A block maps to ``HighThroughputExecutor(provider=PROVIDER(launcher=LAUNCHER))``; each
table below names the Parsl class behind a spec word and the spec keys it takes, so a
new scheduler or job launcher is one more row, not one more branch.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dnnp_hpo.errors import LaunchFailed


@attrs.frozen
class ProviderKind:
    """A Parsl execution provider as the spec names it."""

    name: str
    keys: tuple[str, ...]  #: optional spec keys passed to the provider as is (when set)
    default_launcher: str
    build: Callable[..., Any]  #: build(launcher=..., **keys) -> parsl provider
    default_address: str  #: where the workers reach the interchange unless the spec says
    commands: tuple[str, ...] = ()  #: the scheduler's commands Parsl runs: submit, status, cancel


def _local(**settings: Any) -> Any:
    from parsl.providers import LocalProvider

    return LocalProvider(**settings)


def _lsf(**settings: Any) -> Any:
    from parsl.providers import LSFProvider

    # bsub FILE (not bsub < FILE): the #BSUB lines of the script are read either way.
    return LSFProvider(**settings)


def _slurm(**settings: Any) -> Any:
    from parsl.providers import SlurmProvider

    return SlurmProvider(**settings)


_BLOCKS = ("nodes_per_block", "init_blocks", "min_blocks", "max_blocks", "worker_init", "cmd_timeout")
_BATCH = _BLOCKS + ("walltime", "scheduler_options")

PROVIDERS: Mapping[str, ProviderKind] = {
    "local": ProviderKind("local", _BLOCKS, "single_node", _local, "127.0.0.1"),
    "lsf": ProviderKind("lsf", _BATCH + ("project", "queue"), "jsrun", _lsf, "hostname",
                        ("bsub", "bjobs", "bkill")),
    "slurm": ProviderKind(
        "slurm", _BATCH + ("account", "partition", "qos", "constraint", "exclusive"), "srun", _slurm,
        "hostname", ("sbatch", "squeue", "scancel"),
    ),
}

#: every provider key any provider takes (the spec fields that are provider settings)
PROVIDER_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for p in PROVIDERS.values() for k in p.keys))

#: the same setting under each scheduler's own name: a hint when the wrong one is used
SYNONYMS: Mapping[str, str] = {
    "project": "account", "account": "project", "queue": "partition", "partition": "queue",
}


@attrs.frozen
class LauncherKind:
    """How a block's command is started on its nodes (Parsl's launchers)."""

    name: str
    build: Callable[[str], Any]  #: build(options) -> parsl launcher
    takes_options: bool


def _single_node(_options: str) -> Any:
    from parsl.launchers import SingleNodeLauncher

    return SingleNodeLauncher(debug=False)


def _simple(_options: str) -> Any:
    from parsl.launchers import SimpleLauncher

    return SimpleLauncher(debug=False)


def _jsrun(options: str) -> Any:
    from parsl.launchers import JsrunLauncher

    return JsrunLauncher(debug=False, overrides=options)


def _srun(options: str) -> Any:
    from parsl.launchers import SrunLauncher

    return SrunLauncher(debug=False, overrides=options)


LAUNCHERS: Mapping[str, LauncherKind] = {
    "single_node": LauncherKind("single_node", _single_node, False),
    "simple": LauncherKind("simple", _simple, False),
    "jsrun": LauncherKind("jsrun", _jsrun, True),
    "srun": LauncherKind("srun", _srun, True),
}


def check_commands(kind: ProviderKind) -> None:
    """LaunchFailed unless the scheduler's commands are on PATH here.

    Checked at launch, as the address is (a cluster's spec is valid on a laptop): without
    it Parsl's every block fails to submit, it gives the executor up, and the run would
    end with nothing trained.
    """
    missing = [command for command in kind.commands if shutil.which(command) is None]
    if missing:
        raise LaunchFailed(
            f"launcher.provider: provider {kind.name} runs {', '.join(kind.commands)}, and "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on PATH on {socket.gethostname()}: "
            "run hpo-run where the scheduler's commands are (a login or batch node), or use provider: local"
        )


def resolve_address(spec: str, remote: bool = True) -> str:
    """The address the workers use to reach the interchange (which binds to it).

    ``127.0.0.1`` or any literal address; ``hostname``: this host's name as resolved
    locally; ``interface:NAME``: the address of that network interface (``ib0``,
    ``hsn0``).  Never asks a service on the internet, unlike Parsl's own default.
    ``remote``: the workers run on other nodes (lsf, slurm), which loopback cannot reach.
    """
    from parsl.addresses import address_by_hostname, address_by_interface

    # Checked here, at launch, as LaunchFailed: which addresses a host has is a fact of
    # the host the driver runs on, not of the spec (a cluster's spec is valid on a
    # laptop); and an address the interchange cannot bind fails in its own process, with
    # a traceback there and a driver waiting for it forever.
    try:
        if spec == "hostname":
            address = address_by_hostname()
        elif spec.startswith("interface:"):
            address = address_by_interface(spec.partition(":")[2])
        else:
            address = spec
        _check_bindable(address)
    except OSError as exc:
        raise LaunchFailed(f"launcher.address: {spec!r} is not an address of this host "
                           f"({exc.strerror or exc}); its network interfaces: {_interfaces()}") from None
    if remote and spec == "hostname" and ipaddress.ip_address(address).is_loopback:
        # The default of the lsf and slurm providers: a login node whose /etc/hosts maps its
        # name to 127.0.1.1 (Debian's way) would have every block's workers fail to
        # register, one queue wait after another, with no word of the address.
        raise LaunchFailed(f"launcher.address: this host's name resolves to {address}, a loopback address "
                           "the compute nodes cannot reach; give launcher.address: interface:NAME (its "
                           f"network interfaces: {_interfaces()}) or this host's address on their network")
    return address


def _interfaces() -> str:
    """This host's network interface names, for a message."""
    return ", ".join(name for _, name in socket.if_nameindex())


def _check_bindable(address: str) -> None:
    """OSError unless a socket on this host can bind to ``address`` (any free port)."""
    family, kind, proto, _, sockaddr = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.bind(sockaddr)
