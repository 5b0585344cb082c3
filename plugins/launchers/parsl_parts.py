"""The parts a ``parsl`` launcher block is composed of: providers and job launchers.

A block maps to ``HighThroughputExecutor(provider=PROVIDER(launcher=LAUNCHER))``; each
table below names the Parsl class behind a spec word and the spec keys it takes, so a
new scheduler or job launcher is one more row, not one more branch.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dnnp_hpo.errors import LaunchFailed
from dnnp_hpo.spec import MAX_WORKERS, Invalid


@attrs.frozen
class ProviderKind:
    """A Parsl execution provider as the spec names it."""

    name: str
    keys: tuple[str, ...]  #: optional spec keys passed to the provider as is (when set)
    default_launcher: str
    build: Callable[..., Any]  #: build(launcher=..., **keys) -> parsl provider
    default_address: str  #: where the workers reach the interchange unless the spec says
    commands: tuple[str, ...] = ()  #: the scheduler's commands Parsl runs: submit, status, cancel


class SchedulerRefused(Exception):
    """The scheduler's submit command refused a block: its exit status and its own words.

    Parsl words this itself in the block's failure ("Failed to start block 0: ..."), which is
    what ``hpo-run`` shows once Parsl gives the executor up.
    """

    def __init__(self, command: str, retcode: Any, stdout: str | None, stderr: str | None) -> None:
        said = " ".join((stderr or "").split()) or " ".join((stdout or "").split())
        words = f": {said}" if said else " and said nothing"
        super().__init__(f"{command} refused the job (exit status {retcode}){words}")


def _local(**settings: Any) -> Any:
    from parsl.providers import LocalProvider

    return LocalProvider(**settings)


def _lsf(**settings: Any) -> Any:
    from parsl.providers import LSFProvider
    from parsl.providers.cluster_provider import ClusterProvider

    class _Answers(ClusterProvider):
        """Keeps the last answer of each command: LSFProvider.submit logs bsub's refusal
        (in RUN_DIR/parsl/.../parsl.log) and returns None, which Parsl reports only as
        'did not return a job ID'."""

        def execute_wait(self, cmd: str, timeout: Any = None) -> Any:
            answer = super().execute_wait(cmd, timeout)
            self._answers = {**getattr(self, "_answers", {}), cmd.split()[0]: answer}
            return answer

    class Provider(LSFProvider, _Answers):  # LSFProvider's super().execute_wait is _Answers'
        def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.lsf") -> Any:
            job_id = super().submit(command, tasks_per_node, job_name)
            if job_id is None:
                retcode, stdout, stderr = getattr(self, "_answers", {}).get("bsub", ("?", "", ""))
                raise SchedulerRefused("bsub", retcode, stdout, stderr)
            return job_id

    # bsub FILE (not bsub < FILE): the #BSUB lines of the script are read either way.
    return Provider(**settings)


def _slurm(**settings: Any) -> Any:
    from parsl.providers import SlurmProvider
    from parsl.providers.errors import SubmitException

    class Provider(SlurmProvider):
        def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.slurm") -> Any:
            try:
                return super().submit(command, tasks_per_node, job_name)
            except SubmitException as exc:  # its words: the job's name, then sbatch's, one long line
                raise SchedulerRefused("sbatch", exc.retcode, exc.stdout, exc.stderr) from None

    return Provider(**settings)


_BLOCKS = ("nodes_per_block", "init_blocks", "min_blocks", "max_blocks", "worker_init", "cmd_timeout")
_BATCH = _BLOCKS + ("walltime", "scheduler_options")

PROVIDERS: Mapping[str, ProviderKind] = {
    "local": ProviderKind("local", _BLOCKS, "single_node", _local, "127.0.0.1"),
    "lsf": ProviderKind("lsf", _BATCH + ("project", "queue"), "jsrun", _lsf, "hostname",
                        ("bsub", "bjobs", "bkill")),
    "slurm": ProviderKind(
        "slurm", _BATCH + ("account", "partition", "qos", "constraint", "exclusive", "gpus_per_node"), "srun",
        _slurm, "hostname", ("sbatch", "squeue", "scancel"),
    ),
}

#: every provider key any provider takes (the spec fields that are provider settings)
PROVIDER_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for p in PROVIDERS.values() for k in p.keys))

#: the same setting under each scheduler's own name: a hint when the wrong one is used
SYNONYMS: Mapping[str, str] = {
    "project": "account", "account": "project", "queue": "partition", "partition": "queue",
}

#: Parsl's ways of binding a worker to CPUs (besides ``list:...``), process_worker_pool's own list
CPU_AFFINITIES = ("none", "block", "alternating", "block-reverse")
_CPU_LIST = re.compile(r"^list(:\d+(-\d+)?(,\d+(-\d+)?)*)+$")
#: an accelerator id as Parsl passes it, unquoted, on the worker pool's command line:
#: ``0``, ``0,1`` (two devices for one worker), ``GPU-<uuid>``, ``MIG-<uuid>``
_DEVICE = re.compile(r"^[A-Za-z0-9_.:,/-]+$")


def accelerators(value: Any) -> tuple[str, ...]:
    """attrs converter of ``available_accelerators``: a count, or a list of device ids."""
    if value is None or value == ():  # the default (YAML gives no tuples: an empty list is refused)
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_WORKERS:
            raise Invalid(f"available_accelerators must be a count from 1 to {MAX_WORKERS:,} or a list of "
                          f"device ids, got {value}", "available_accelerators")
        return tuple(str(i) for i in range(value))
    if isinstance(value, (list, tuple)) and value and len(value) <= MAX_WORKERS:
        ids = tuple(str(v) for v in value if isinstance(v, (str, int)) and not isinstance(v, bool))
        if len(ids) == len(value) and all(_DEVICE.match(i) for i in ids):
            return ids
    raise Invalid("available_accelerators must be a count (6) or a list of device ids such as "
                  f"['0', '1'] or ['0,1', '2,3'] (letters, digits and . _ : , / -), got {value!r}",
                  "available_accelerators")


def listed_workers(value: str) -> int:
    """How many workers a ``list:CPUS:CPUS...`` cpu_affinity gives CPUs to."""
    return value.count(":")


def listed_cpus(value: str) -> list[range]:
    """The CPUs a ``list:CPUS:CPUS...`` cpu_affinity names, range by range (``0-2,5``:
    range(0, 3), range(5, 6)), in order: not one by one, ``0-9999999999`` being a range too."""
    ranges = []
    for part in re.split(r"[:,]", value.lower().removeprefix("list:")):
        low, _, high = part.partition("-")
        ranges.append(range(int(low), int(high or low) + 1))
    return ranges


def check_cpu_affinity(value: str, workers: int) -> None:
    """Invalid unless process_worker_pool takes ``value`` for ``workers`` workers a node."""
    if value.lower() in CPU_AFFINITIES:
        return
    if not _CPU_LIST.match(value.lower()):
        raise Invalid(f"cpu_affinity must be one of {', '.join(CPU_AFFINITIES)} or list:CPUS:CPUS... "
                      f"(one CPUS per worker, e.g. list:0-6:7-13), got {value!r}", "cpu_affinity")
    backwards = next((cpus for cpus in listed_cpus(value) if not cpus), None)
    if backwards is not None:  # range(1, 1) of "1-0": sched_setaffinity(0, []) failed each worker given it
        raise Invalid(f"cpu_affinity's CPU range {backwards.start}-{backwards.stop - 1} runs backwards: write the "
                      "lower CPU first (0-6, not 6-0)", "cpu_affinity")
    ranks = listed_workers(value)
    if ranks != workers:  # each worker raises at start otherwise, and every block is lost
        raise Invalid(f"cpu_affinity lists the CPUs of {ranks} worker(s), and a node runs {workers}: "
                      "give one list of CPUs per worker", "cpu_affinity")


@attrs.frozen
class LauncherKind:
    """How a block's command is started on its nodes (Parsl's launchers)."""

    name: str
    build: Callable[[str], Any]  #: build(options) -> parsl launcher
    takes_options: bool
    #: the only batch provider whose jobs have this launcher (None: any).  ``provider:
    #: local`` takes every launcher: hpo-run may run inside an allocation (a batch script).
    scheduler: str | None = None
    why: str = ""  #: what it is, for a message


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
    "jsrun": LauncherKind("jsrun", _jsrun, True, "lsf", "IBM's job step launcher of LSF machines (JSM)"),
    "srun": LauncherKind("srun", _srun, True, "slurm", "Slurm's job step launcher"),
}


def check_launcher(provider: str, launcher: str) -> None:
    """Invalid if a ``provider`` job can never run ``launcher`` (srun in an LSF job)."""
    kind = LAUNCHERS[launcher]
    if kind.scheduler is not None and provider not in (kind.scheduler, "local"):
        fitting = [name for name, other in LAUNCHERS.items() if other.scheduler in (None, provider)]
        raise Invalid(f"launcher {launcher} is {kind.why} and cannot start worker pools in the jobs of "
                      f"provider {provider}, which takes launcher {', '.join(fitting[:-1])} or {fitting[-1]}",
                      "launcher")


def check_commands(kind: ProviderKind) -> None:
    """LaunchFailed unless the scheduler's commands are on PATH here.

    Checked at launch, as the address is (a cluster's spec is valid on a laptop): without
    it Parsl's every block fails to submit, it gives the executor up, and the run would
    end with nothing trained.
    """
    missing = [command for command in kind.commands if shutil.which(command) is None]
    if missing:
        which = ("none of them is" if len(missing) == len(kind.commands) > 1
                 else f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not")
        raise LaunchFailed(
            f"launcher.provider: provider {kind.name} runs {', '.join(kind.commands)}, and {which} on PATH "
            f"on {socket.gethostname()}: run hpo-run where the scheduler's commands are (a login or batch "
            "node), or use provider: local"
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
