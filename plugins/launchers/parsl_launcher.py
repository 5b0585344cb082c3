"""Launcher plugin ``parsl``: evaluations as Parsl apps on a HighThroughputExecutor.

The block is a composition, ``HighThroughputExecutor(provider=PROVIDER(launcher=LAUNCHER))``,
with Parsl's own key names::

    launcher:
      plugin: parsl
      provider: lsf            # local | lsf | slurm
      launcher: jsrun          # single_node | simple | jsrun | srun (default: by provider)
      launcher_options: ""     # passed to jsrun / srun as Parsl's `overrides`
      nodes_per_block: 2
      max_blocks: 1
      walltime: "02:00:00"
      project: ABC123          # lsf: project, queue; slurm: account, partition, qos, constraint,
      queue: batch             #   exclusive, gpus_per_node
      worker_init: "source /path/to/venv/bin/activate"
      scheduler_options: ""
      workers_per_node: 6      # evaluations at once per node (default: 1, or one per accelerator)
      available_accelerators: 6  # or [ "0", "1", ...]: each worker gets one (CUDA_VISIBLE_DEVICES...)
      cpu_affinity: block      # none | block | alternating | block-reverse | list:0-6:7-13:...
      drain_period: 5400       # seconds after its start a pool takes no new evaluation: the
                               #   walltime minus the longest training and a few minutes
      address: hostname        # where workers reach the interchange: an IP, hostname, interface:ib0

Parsl's usage tracking is off (``usage_tracking=0``) and the interchange binds to the
given address only (``127.0.0.1`` for ``provider: local``), so nothing is sent off the
machine unless workers on other nodes must reach it.  An app that fails (its worker
lost, its block gone) is re-run ``retries`` times by Parsl; after that
``future.result()`` raises and the study records the evaluation as ``lost``.  Once Parsl
gives the executor up (``block_failures`` blocks in a row failed: a broken
``worker_init``, a scheduler refusing the jobs), every later app would fail at once, so
the pool raises EngineLost instead: ``hpo-run`` stops (exit 3) with the evaluations in
flight still pending in the journal, and the same command resumes once the cause is fixed;
its line carries the blocks' reasons (a scheduler's refusal in its own words) and names
Parsl's log.  So does a dead interchange (killed by a login node's reaper), which Parsl
never notices: the pool looks at its process while it waits, asks it nothing without a
bound, and closes without Parsl's cleanup, which would wait for it, cancelling the blocks
through the provider.  Parsl's own logs and submit scripts go to ``RUN_DIR/parsl``.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.errors import EngineLost, SpecError
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.notice import notice
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import MAX_WORKERS, Invalid, at_least, at_most, one_of

from .background import STILL_RUNNING, answer, in_thread
from .held_signals import stop_signals_held
from .parsl_parts import (
    LAUNCHERS,
    PROVIDER_KEYS,
    PROVIDERS,
    SYNONYMS,
    accelerators,
    check_commands,
    check_cpu_affinity,
    check_launcher,
    listed_cpus,
    listed_workers,
    resolve_address,
)
from .training_threads import training_threads

EXECUTOR_LABEL = "hpo_htex"
#: every Parsl provider's default max_blocks (LocalProvider, LSFProvider, SlurmProvider)
PARSL_MAX_BLOCKS = 1
_WALLTIME = re.compile(r"^\d+:[0-5]\d:[0-5]\d$")


class ParslPool:
    """A :class:`dnnp_hpo.hookspecs.Pool` over a Parsl DataFlowKernel and one HTEX."""

    def __init__(self, dfk: Any, executor: Any, worker_init: str | None = None) -> None:
        self.dfk = dfk
        self.executor = executor
        self.worker_init = worker_init  #: the spec's, named when blocks fail before their workers register
        self._apps: dict[Callable[..., Any], Any] = {}
        self._asked: concurrent.futures.Future[Any] | None = None  #: the question to the interchange pending
        self._size = 0  #: the workers counted at the last answer

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        from parsl.app.python import PythonApp

        self._check_alive()
        app = self._apps.get(fn)
        if app is None:
            app = self._apps[fn] = PythonApp(fn, data_flow_kernel=self.dfk, executors=[EXECUTOR_LABEL])
        # Held: a Ctrl-C raised inside Parsl's submission was taken by Parsl as the task's
        # failure, and the run went on to its end (exit 0; seen once in CI).
        with stop_signals_held():
            return app(*args)

    def as_completed(self, futures: Iterable[Any], timeout: float | None = None) -> Iterator[Any]:
        """As :func:`concurrent.futures.as_completed`, looking at the interchange every
        :data:`LOOK_S`: Parsl fails no task when its interchange dies, and a wait for one
        was a wait for ever."""
        pending = set(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            self._check_alive()
            wait = LOOK_S if deadline is None else max(0.0, min(LOOK_S, deadline - time.monotonic()))
            done, pending = concurrent.futures.wait(pending, timeout=wait,
                                                    return_when=concurrent.futures.FIRST_COMPLETED)
            if not done and deadline is not None and time.monotonic() >= deadline:
                # as concurrent.futures: only when none finished in time (those done are yielded)
                raise concurrent.futures.TimeoutError(f"{len(pending)} futures unfinished")
            for future in done:
                self._check_alive()  # before a future failed by the executor's end is taken as lost
                yield future

    def _check_alive(self) -> None:
        if self.executor.bad_state_is_set:
            cause = _failed_blocks(self.executor, self.worker_init) or " ".join(
                str(self.executor.executor_exception).split())
            log = Path(self.dfk.run_dir) / "parsl.log"
            raise EngineLost(f"Parsl gave the executor up ({_shortened(cause, 600)}; Parsl's log: {log})",
                             fix="fix the cause")
        ended = interchange_ended(self.executor)
        if ended is not None:
            # Parsl itself never notices (no task fails, bad_state_is_set stays False), and
            # every question to the interchange waited for ever, Parsl's cleanup's too.
            log = Path(self.executor.logdir) / "interchange.log"
            raise EngineLost(f"{ended}: no evaluation can reach its workers, which were stopped "
                             f"(its log: {log})")

    @property
    def size(self) -> int:
        """The workers connected now (the last count while the interchange is slow to answer)."""
        # Asked in a thread of its own, waited for here with the stop signals free: a stop
        # signal raised in the middle of a question left Parsl's command channel mid-request
        # (the cleanup then failed: ZMQError, exit 4, the blocks left running), and a dead
        # interchange never answers (held, the signals then waited for ever).
        self._check_alive()
        if self._asked is None or self._asked.done():
            self._asked = in_thread(self.executor.connected_managers, "hpo-parsl-managers")
        deadline = time.monotonic() + ANSWER_S
        while True:
            try:
                managers = answer(self._asked, LOOK_S)
            except Exception:  # noqa: BLE001 - a display figure; the interchange may be busy
                return self._size
            if managers is not STILL_RUNNING:
                self._size = sum(int(m.get("worker_count", 0)) for m in managers)
                return self._size
            self._check_alive()
            if time.monotonic() > deadline:
                return self._size  # asked again next time, once this question is answered


#: the launchers that start provider local's worker pool on this machine (jsrun and srun,
#: from inside an allocation, start it on compute nodes)
ON_THIS_MACHINE = ("single_node", "simple")
#: seconds between looks at the interchange while hpo-run waits (for a result, an answer,
#: Parsl's cleanup)
LOOK_S = 0.5
#: seconds the worker count is waited for before the last one is taken
ANSWER_S = 30.0


def interchange_ended(executor: Any) -> str | None:
    """``Parsl's interchange (pid N) exited (how)`` once the executor's interchange process
    has ended (killed by a login node's reaper, the OOM killer, a crash), else None."""
    proc = getattr(executor, "interchange_proc", None)
    if proc is None or proc.poll() is None:
        return None
    code = proc.returncode
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit status {code}"
    return f"Parsl's interchange (pid {proc.pid}) exited ({how})"


def _close(dfk: Any, executor: Any, first: threading.Thread | None) -> None:
    """Parsl's cleanup (the blocks cancelled, the interchange stopped), in a thread waited
    for while the interchange lives; without what waits for it once it has died."""
    while first is not None and first.is_alive() and interchange_ended(executor) is None:
        first.join(LOOK_S)  # a block still being submitted is then one the cleanup cancels
    if interchange_ended(executor) is None:
        cleanup = in_thread(dfk.cleanup, "hpo-parsl-cleanup")
        stopping = getattr(executor, "_result_queue_thread_exit", None)  # set by Parsl's shutdown
        while True:
            if answer(cleanup, LOOK_S) is not STILL_RUNNING:
                return
            # Its own shutdown stops the interchange and then ends in a bounded time; dead
            # before that, the cleanup waits on it for ever.
            if interchange_ended(executor) is not None and not (stopping is not None and stopping.is_set()):
                break
    _close_without_interchange(dfk, executor)


def _close_without_interchange(dfk: Any, executor: Any) -> None:
    """What Parsl's cleanup does that does not need the interchange, which has died.

    Its cleanup joins the job status poller, stuck asking the dead interchange for its
    blocks, and then asks it for its managers: it waited for ever.  The poller is told to
    stop (its thread is a daemon: one stuck is left); the blocks are cancelled through the
    provider itself (their worker pools would wait for the interchange until their
    heartbeat threshold, and on a cluster hold their nodes until the walltime); the task
    launch thread is stopped, and a send of it that waits for the interchange is ended by
    closing the channel's context (it is joined at the interpreter's exit).
    """
    import atexit

    from parsl.jobs.states import TERMINAL_STATES
    from parsl.utils import Timer

    log = logging.getLogger("parsl.dataflow.dflow")
    log.warning("%s; cleaning up without it", interchange_ended(executor))
    try:
        Timer.close(dfk.job_status_poller, timeout=LOOK_S)  # not JobStatusPoller.close: it scales in
        status = dict(executor.status_facade)
        jobs = [job for block, job in dict(executor.blocks_to_job_id).items()
                if block not in status or status[block].state not in TERMINAL_STATES]
        if jobs:
            log.info("Cancelling blocks' jobs %s through the provider", jobs)
            executor.provider.cancel(jobs)
    except Exception:  # a scheduler refusing bkill: said in parsl.log; hpo-run still stops
        log.exception("cancelling the blocks failed")
    stopping = getattr(executor, "_result_queue_thread_exit", None)
    if stopping is not None:
        stopping.set()  # the result thread ends within its poll period
    dfk.cleanup_called = True
    dfk._task_launch_pool.shutdown(wait=False, cancel_futures=True)
    for pipe in ("outgoing_q", "command_client"):
        context = getattr(getattr(executor, pipe, None), "zmq_context", None)
        if context is not None:  # a call blocked in one of its sockets raises ETERM
            threading.Thread(target=context.term, name=f"hpo-parsl-{pipe}-term", daemon=True).start()
    atexit.unregister(dfk.atexit_cleanup)
    unregister = getattr(dfk, "_logging_unregister_callback", None)
    if unregister is not None:
        unregister()


def _first_poll_now(poller: Any) -> threading.Thread:
    """Submit the first blocks now, not a strategy period (5 s) later; the thread doing it.

    Parsl's job status poller strategizes once when it starts, before the DataFlowKernel
    adds its executors, and next one ``strategy_period`` later: only then were the
    ``init_blocks`` submitted, and every run waited 5 s for its first worker.  The
    strategy is run once more now, alone: the blocks' status is first asked at the
    timer's next period, as before (asked here too, the provider's own interval put the
    next ask two periods on, and a failed first block was seen 10 s after it was
    submitted).  In a thread of its own, as the timer's polls: in hpo-run's main thread,
    under the held stop signals, a slow ``sbatch`` held start-up and a Ctrl-C with it.
    A lock keeps it from running at the same time as the timer's poll; the caller joins
    the thread before Parsl's cleanup, which cancels the blocks it submitted.
    """
    lock = threading.Lock()
    poll = poller.callback

    def locked(*args: Any) -> None:
        with lock:
            poll(*args)

    def first() -> None:
        try:
            with lock:
                poller._strategy.strategize(poller._executors)
        except Exception:  # as the timer's poll: logged in parsl.log, and the next period tries again
            logging.getLogger("parsl.jobs.job_status_poller").exception("the first strategy run failed")

    poller.callback = locked  # the timer thread calls poller.callback each period
    thread = threading.Thread(target=first, name="hpo-first-strategy", daemon=True)
    thread.start()
    return thread


def _shortened(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_BLOCK_NUMBER = re.compile(r"^Failed to start block \d+: ")
#: a block's submit script as a shell names it in the block's stderr
_BLOCK_SCRIPT = re.compile(r"""[^\s'"]*block-\d+[^\s/'"]*\.sh\b""")  # a quote around it stays
#: Parsl's pointer in a MISSING block's message, replaced by the directory it means
_SUBMIT_SCRIPTS = re.compile(r"\.?\s*Check the stdout/stderr logs in the submit_scripts directory for more debug information\.?")


def _failed_blocks(executor: Any, worker_init: str | None = None) -> str:
    """The failed blocks' reasons, each said once with the blocks it ended (Parsl's own
    summary repeats one reason per block, and a cut kept none of the scheduler's words).

    A block whose workers never registered: Parsl only points at "the submit_scripts
    directory"; this names it, and the spec's ``worker_init``, which each block's script
    runs before Parsl's workers start (a failing module load or activate ends it there).
    """
    from parsl.jobs.states import JobState

    reasons: dict[str, list[str]] = {}
    unregistered = False
    script_dir = getattr(executor.provider, "script_dir", None)
    for block, status in sorted(dict(executor.status_facade).items(), key=lambda item: int(item[0])):
        if status.state not in (JobState.FAILED, JobState.MISSING):
            continue
        message = status.message or status.state.name.lower()
        if script_dir and _SUBMIT_SCRIPTS.search(message):  # else Parsl's pointer stays, the one there is
            unregistered = True
            message = _SUBMIT_SCRIPTS.sub("", message)
        parts = [_BLOCK_NUMBER.sub("failed to start: ", message)]
        if status.exit_code is not None:
            parts.append(f"exit code {status.exit_code}")
        for name, text in (("stderr", status.stderr_summary), ("stdout", status.stdout_summary)):
            if text and text.strip():
                # the shell names the block's own script (parsl.hpo_htex.block-1.<time>.sh):
                # named so, one reason of every block read as a reason per block (helper-106)
                parts.append(f"{name}: {_BLOCK_SCRIPT.sub('the block script', text.strip())}")
        reasons.setdefault(" ".join(", ".join(parts).split()), []).append(block)
    said = "; ".join(f"block{'s' if len(blocks) > 1 else ''} {', '.join(blocks)}: {reason}"
                     for reason, blocks in reasons.items())
    if said and unregistered:
        # First: the reasons may be long (each block's stderr) and the line is cut at its end.
        first = f"each block's output is in {script_dir}"
        said = f"{first}{', and its script runs launcher.worker_init first' if worker_init else ''}; {said}"
    return said


def _walltime(_instance, _attribute, value) -> None:
    if value is not None and not _WALLTIME.match(value):
        raise Invalid(f"walltime must be HH:MM:SS, got {value!r}", "walltime")
    # LSF takes whole minutes (Parsl writes "-W 0" for 00:00:30), and Slurm reads a time
    # of 0 as no limit at all.
    if value is not None and _minutes(value) < 1:
        raise Invalid(f"walltime must be at least a minute (00:01:00), got {value!r}", "walltime")


def _minutes(walltime: str) -> float:
    hours, minutes, seconds = (int(part) for part in walltime.split(":"))
    return hours * 60 + minutes + seconds / 60


def _header_lines(_instance, _attribute, value) -> None:
    # Parsl writes them into the block script's header as they are; a line that is not a
    # directive ends the header for sbatch and bsub, and every directive after it
    # (account, partition, exclusive) was dropped without a word.
    for line in (value or "").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            raise Invalid(f"scheduler_options are lines of the block script's header, each a directive such as "
                          f"'#SBATCH --gpus-per-node=4' or '#BSUB -alloc_flags smt4'; got {line.strip()!r}",
                          "scheduler_options")


def _walltime_text(minutes: float) -> str:
    """``HH:MM:SS`` of at least ``minutes``: a walltime to suggest."""
    seconds = math.ceil(minutes * 60)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _address(_instance, _attribute, value) -> None:
    # Malformed on any host (an empty interface name too); whether the host has that
    # address is checked at launch (parsl_parts.resolve_address), where it is known.
    if value is not None and (not value.strip() or " " in value or "://" in value
                              or value.strip() == "interface:"):
        raise Invalid(f"address must be an IP address, 'hostname' or 'interface:NAME', got {value!r}",
                      "address")


@attrs.frozen
class ParslLauncher:
    """Fields of the ``launcher:`` block for ``plugin: parsl``."""

    provider: str = attrs.field(default="local", validator=one_of(PROVIDERS))
    launcher: str | None = attrs.field(default=None, validator=one_of(LAUNCHERS))
    launcher_options: str = ""
    # provider settings (Parsl's names); None: Parsl's default
    nodes_per_block: int | None = attrs.field(default=None, validator=at_least(1))
    init_blocks: int | None = attrs.field(default=None, validator=at_least(0))
    min_blocks: int | None = attrs.field(default=None, validator=at_least(0))
    max_blocks: int | None = attrs.field(default=None, validator=at_least(1))
    walltime: str | None = attrs.field(default=None, validator=_walltime)
    worker_init: str | None = None
    scheduler_options: str | None = attrs.field(default=None, validator=_header_lines)
    cmd_timeout: int | None = attrs.field(default=None, validator=at_least(1))
    project: str | None = None
    queue: str | None = None
    account: str | None = None
    partition: str | None = None
    qos: str | None = None
    constraint: str | None = None
    exclusive: bool | None = None
    gpus_per_node: int | None = attrs.field(default=None, validator=[at_least(1), at_most(MAX_WORKERS)])
    # executor settings
    #: evaluations at once per node; None: one per accelerator, else 1
    workers_per_node: int | None = attrs.field(default=None, validator=[at_least(1), at_most(MAX_WORKERS)])
    cores_per_worker: float = 1.0
    #: Parsl pins each worker to one of these (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES,
    #: ZE_AFFINITY_MASK): a count (ids 0..N-1) or a list of ids
    available_accelerators: Any = attrs.field(default=(), converter=accelerators)
    cpu_affinity: str = "none"  #: Parsl's: none, block, alternating, block-reverse, list:...
    #: seconds after its start a worker pool takes no new evaluation, finishes those it
    #: has and exits (Parsl's drain_period); None: never
    drain_period: int | None = attrs.field(default=None, validator=at_least(1))
    address: str | None = attrs.field(default=None, validator=_address)
    heartbeat_threshold: int = attrs.field(default=120, validator=at_least(1))
    heartbeat_period: int = attrs.field(default=30, validator=at_least(1))
    retries: int = attrs.field(default=2, validator=at_least(0))  #: Parsl re-runs of a failed app
    #: give the executor up only after this many blocks in a row failed (a lost node is
    #: replaced by a new block; a broken worker_init does not loop forever)
    block_failures: int = attrs.field(default=3, validator=at_least(1))

    def __attrs_post_init__(self) -> None:
        kind = PROVIDERS[self.provider]
        for key in PROVIDER_KEYS:
            if getattr(self, key) is not None and key not in kind.keys:
                hint = SYNONYMS.get(key)
                also = f" (provider {self.provider} calls it {hint})" if hint in kind.keys else ""
                raise Invalid(f"{key} is not a setting of provider {self.provider}{also}; "
                              f"it takes: {', '.join(kind.keys)}", key)
        check_launcher(self.provider, self.launcher_name)
        if self.launcher_options and not LAUNCHERS[self.launcher_name].takes_options:
            raise Invalid(f"launcher_options are for jsrun or srun, not launcher {self.launcher_name}",
                          "launcher_options")
        if not self.cores_per_worker > 0:
            raise Invalid(f"cores_per_worker must be positive, got {self.cores_per_worker}", "cores_per_worker")
        # Parsl submits init_blocks whatever max_blocks says, its default max_blocks (1, every
        # provider's) too: init_blocks: 2 alone submitted two blocks (helper-97)
        top = self.blocks_at_most
        for low in ("min_blocks", "init_blocks"):
            if getattr(self, low) is not None and getattr(self, low) > top:
                said = f"max_blocks ({top})" if self.max_blocks is not None else f"max_blocks ({top}, the default)"
                raise Invalid(f"{low} ({getattr(self, low)}) is more than {said}", low)
        accelerators = len(self.available_accelerators)
        if accelerators and self.workers_per_node is not None and self.workers_per_node != accelerators:
            # Parsl starts min(workers_per_node, accelerators) workers: GPUs idle, or
            # workers_per_node silently not met.
            raise Invalid(f"workers_per_node ({self.workers_per_node}) must be the number of "
                          f"available_accelerators ({accelerators}): Parsl starts one worker per accelerator at "
                          "most, and a worker per accelerator leaves none idle; leave workers_per_node out, or "
                          "list fewer accelerators (an id may name several devices: ['0,1', '2,3'])",
                          "workers_per_node")
        check_cpu_affinity(self.cpu_affinity, self.workers)
        walltime = self.block_walltime
        if self.drain_period is not None and walltime is not None and self.drain_period >= _minutes(walltime) * 60:
            raise Invalid(f"drain_period ({self.drain_period} s) must be less than the walltime "
                          f"({walltime}, {round(_minutes(walltime) * 60)} s): a pool would never drain before "
                          "its block ends; give the walltime minus the trainer's timeout", "drain_period")
        if self.heartbeat_threshold <= self.heartbeat_period:
            # A manager that beats every period is taken as lost after threshold seconds
            # of silence: below one period every evaluation is lost (ManagerLost).
            raise Invalid(f"heartbeat_threshold ({self.heartbeat_threshold} s) must be more than "
                          f"heartbeat_period ({self.heartbeat_period} s)", "heartbeat_threshold")

    def _local_workers(self) -> tuple[int, int]:
        """(workers Parsl starts on this machine, its cores): min(workers a node, its cores /
        cores_per_worker), as process_worker_pool counts them (PARSL_CORES, else every
        core).  A cluster's node (a batch provider's, or jsrun's or srun's from an
        allocation) is not this machine: only there is the count known."""
        cores = _parsl_cores() or os.cpu_count() or 1
        return min(self.workers, math.floor(cores / self.cores_per_worker)), cores

    def _check_local_workers(self) -> None:
        """SpecError if no worker would start here: a pool of 0 workers registers, nothing
        is evaluated, and the run waited for ever without a word (helper-81)."""
        started, cores = self._local_workers()
        if not started:
            raise SpecError(f"cores_per_worker {self.cores_per_worker:g} is more than the {cores} cores of this "
                            "machine, where provider local starts the workers: Parsl would start none and the run "
                            f"wait for ever; give at most {cores}", "cores_per_worker")

    def _check_local_affinity(self) -> None:
        """SpecError unless the CPU lists are as many as the workers Parsl starts on this
        machine (:meth:`_local_workers`): each worker raised at its start otherwise, and
        the run waited for ever with nothing evaluated."""
        started, cores = self._local_workers()
        ranks = listed_workers(self.cpu_affinity)
        if started != ranks:
            raise SpecError(f"cpu_affinity lists the CPUs of {ranks} worker(s), and on this machine Parsl starts "
                            f"{started}: at most {cores} cores / cores_per_worker {self.cores_per_worker:g}, at most "
                            f"{self.workers} (workers_per_node); every worker would fail at its start and nothing be "
                            "evaluated: give one list per worker started, or a cores_per_worker of at most "
                            f"{cores / ranks:g}", "cpu_affinity")
        usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        # at most len(usable) + 1 CPUs looked at per range, however long it is
        outside = [next(cpu for cpu in cpus if cpu not in usable) for cpus in listed_cpus(self.cpu_affinity)
                   if usable and (len(cpus) > len(usable) or any(cpu not in usable for cpu in cpus))]
        if outside:
            # sched_setaffinity refuses a CPU the process may not run on: the worker given
            # one died at its start, and the run waited for ever (helper-106, list:2:3 on 2)
            raise SpecError(f"cpu_affinity lists CPU {outside[0]}, which is not one of the CPUs hpo-run may run on "
                            f"here ({_cpu_ranges(usable)}): the worker given it would fail at its start and the run "
                            "wait for ever; list only those", "cpu_affinity")

    def _check_local_spread(self) -> None:
        """SpecError if Parsl's block, block-reverse or alternating cpu_affinity would give
        a worker started here no CPU (more workers than CPUs: cores_per_worker below 1):
        process_worker_pool asserts each worker at least one, and every worker failed."""
        started, _ = self._local_workers()
        usable = len(os.sched_getaffinity(0))
        if started > usable:
            raise SpecError(f"cpu_affinity {self.cpu_affinity} gives each worker at least one CPU, and on this machine "
                            f"Parsl starts {started} workers on {usable} CPUs: every worker would fail at its start "
                            "and nothing be evaluated: give cpu_affinity none, or a cores_per_worker of at least 1",
                            "cpu_affinity")

    @property
    def block_walltime(self) -> str | None:
        """How long a block lasts: the walltime, else Parsl's LSF and Slurm providers' own
        default, 00:10:00; None where blocks have none (local)."""
        return self.walltime or ("00:10:00" if "walltime" in PROVIDERS[self.provider].keys else None)

    def describe(self, run: RunContext) -> str:
        """What connect() would submit, for --dry-run: Parsl's defaults filled in."""
        kind = PROVIDERS[self.provider]
        blocks = (f"blocks of {self.nodes_per_block or 1} node(s): "
                  f"{self.init_blocks if self.init_blocks is not None else 1} at first, "
                  f"between {self.min_blocks or 0} and {self.blocks_at_most}")
        walltime = self.block_walltime
        here = self.on_this_machine
        # Parsl starts min(workers a node, its cores / cores_per_worker): known here only
        workers = (f"{self._local_workers()[0]} worker(s)" if here else f"up to {self.workers} worker(s) per node")
        where = ("on this machine" if here else f"submitted with {kind.commands[0]}" if kind.commands
                 else f"on the allocation's nodes, started with {self.launcher_name}")
        return (f"parsl: HighThroughputExecutor on provider {self.provider} with launcher {self.launcher_name}; "
                f"{blocks}{f', walltime {walltime}' if walltime else ''}; {workers}; {where}")

    @property
    def blocks_at_most(self) -> int:
        """max_blocks, else Parsl's default."""
        return self.max_blocks if self.max_blocks is not None else PARSL_MAX_BLOCKS

    @property
    def launcher_name(self) -> str:
        return self.launcher or PROVIDERS[self.provider].default_launcher

    @property
    def on_this_machine(self) -> bool:
        """Whether Parsl starts the workers here (``provider: local`` without jsrun or srun)."""
        return self.provider == "local" and self.launcher_name in ON_THIS_MACHINE

    @property
    def workers(self) -> int:
        """The most workers a node runs: workers_per_node, else one per accelerator, else 1."""
        return self.workers_per_node or len(self.available_accelerators) or 1

    def prepare(self, run: RunContext) -> None:
        """The fields are checked; building the provider would already call the scheduler.
        Warns of blocks shorter than a training may last (not an error: most trainings
        may end well before their limit)."""
        if self.on_this_machine:
            self._check_local_workers()
            if self.cpu_affinity.lower() != "none" and not hasattr(os, "sched_getaffinity"):
                # process_worker_pool asks it for every cpu_affinity but none: each worker died
                raise SpecError(f"cpu_affinity {self.cpu_affinity} pins workers to CPUs, which this system cannot "
                                "do (no sched_setaffinity: macOS): give cpu_affinity none", "cpu_affinity")
            if self.cpu_affinity.lower().startswith("list:"):
                self._check_local_affinity()
            elif self.cpu_affinity.lower() != "none":
                self._check_local_spread()
        walltime, limit = self.block_walltime, getattr(run.experiment.trainer, "timeout_minutes", None)
        if walltime is not None and isinstance(limit, (int, float)) and _minutes(walltime) < limit:
            given = "" if self.walltime else " (Parsl's default: no walltime is given)"
            print(f"hpo-run: warning: {run.spec_path}: launcher.walltime: blocks last {walltime}{given}, less than "
                  f"trainer.timeout_minutes ({limit:g}): a training still running when its block ends is "
                  f"killed with it; give a walltime of {_walltime_text(limit)} or more", file=sys.stderr)

    def build_provider(self) -> Any:
        kind = PROVIDERS[self.provider]
        settings = {key: getattr(self, key) for key in kind.keys if getattr(self, key) is not None}
        # Parsl starts the worker pool as `process_worker_pool.py` from PATH: put this
        # environment's scripts first, then run the user's worker_init (which may
        # activate another environment and so take precedence).
        here = Path(sys.executable).parent
        exports = {"PATH": shlex.quote(str(here)) + ':"$PATH"'}
        exports.update((name, shlex.quote(count)) for name, count in self._threads().items())
        settings["worker_init"] = "".join(f"export {name}={value}\n" for name, value in exports.items()) + (
            self.worker_init or "")
        return kind.build(launcher=LAUNCHERS[self.launcher_name].build(self.launcher_options), **settings)

    def _threads(self) -> dict[str, str]:
        """The thread counts each training gets where Parsl runs them on this machine
        (``provider: local``), as on a local Dask cluster: the cores shared out among
        the workers Parsl starts.  Left alone: a cluster's node, whose cores are not
        known here (a jsrun or srun prefix gives each training its own), and a
        ``list:`` cpu_affinity, whose workers have CPU counts of their own (Parsl sets
        OMP_NUM_THREADS to it, TensorFlow counts the worker's CPUs).  With another
        cpu_affinity Parsl sets OMP_NUM_THREADS over these, to its share of the CPUs the
        worker pool may run on (the same share unless PARSL_CORES says otherwise)."""
        if not self.on_this_machine or self.cpu_affinity.lower().startswith("list:"):
            return {}
        # the cores Parsl is told it has (PARSL_CORES), as it counts its workers, else those
        # this process may run on (a job's share, where os.cpu_count() is the node's)
        return training_threads(self._local_workers()[0], _parsl_cores())

    def build_config(self, run: RunContext) -> Any:
        """The whole Parsl Config: one HTEX on the composed provider, tracking off."""
        from parsl.config import Config
        from parsl.executors import HighThroughputExecutor
        from parsl.jobs.error_handlers import windowed_error_handler

        check_commands(PROVIDERS[self.provider])
        address = resolve_address(self.address or PROVIDERS[self.provider].default_address,
                                  remote=self.provider != "local")
        executor = HighThroughputExecutor(
            label=EXECUTOR_LABEL,
            provider=self.build_provider(),
            address=address,  # the interchange binds to it; never Parsl's internet lookup
            loopback_address="127.0.0.1",
            interchange_launch_cmd=[sys.executable, "-m", "dnnp_hpo.plugins.launchers.parsl_interchange",
                                    str(os.getpid())],
            max_workers_per_node=self.workers,
            cores_per_worker=self.cores_per_worker,
            available_accelerators=list(self.available_accelerators),
            cpu_affinity=self.cpu_affinity.lower(),
            drain_period=self.drain_period,
            heartbeat_threshold=self.heartbeat_threshold,
            heartbeat_period=self.heartbeat_period,
            # Parsl's default fails every task once all of init_blocks (1) blocks failed:
            # one lost node would end the search.
            block_error_handler=functools.partial(windowed_error_handler, threshold=self.block_failures),
        )
        return Config(
            executors=[executor],
            run_dir=str(run.run_dir / "parsl"),
            retries=self.retries,
            usage_tracking=0,  # no usage reports leave the machine
            strategy="simple",
            max_idletime=30.0,
        )

    @contextmanager
    def connect(self, run: RunContext) -> Iterator[ParslPool]:
        from parsl.dataflow.dflow import DataFlowKernel

        config = self.build_config(run)
        executor = config.executors[0]
        dfk = first = None
        try:
            # A stop signal while Parsl starts or cleans up waits for the end of it: one in
            # the middle left the interchange running, or the blocks uncancelled.
            with stop_signals_held():
                dfk = DataFlowKernel(config)
                # started here: the thread, and the worker pools it starts, keep the
                # terminal's signals blocked, as Parsl's timer thread does
                first = _first_poll_now(dfk.job_status_poller)
            notice(run, f"parsl: HighThroughputExecutor on provider {self.provider} with launcher "
                        f"{self.launcher_name}; workers connect to {executor.address}; logs in {config.run_dir}")
            yield ParslPool(dfk, executor, self.worker_init)
        finally:
            if dfk is not None:
                with stop_signals_held():
                    _close(dfk, executor, first)


def _parsl_cores() -> int | None:
    """The cores process_worker_pool is told the node has (``PARSL_CORES``), None where it
    is not set; SpecError for a value it could not take (it would fail at its start)."""
    told = os.environ.get("PARSL_CORES")
    if not told:
        return None
    try:
        cores = int(told)
    except ValueError:
        cores = 0
    if cores < 1:
        raise SpecError(f"the environment's PARSL_CORES is {told!r}: Parsl reads it as the number of cores of a "
                        "node, a whole number of at least 1; unset it or give one")
    return cores


def _cpu_ranges(cpus: list[int]) -> str:
    """``0-3,8`` for CPUs 0, 1, 2, 3 and 8."""
    runs: list[list[int]] = []
    for cpu in cpus:
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


@hookimpl
def dnnp_hpo_launchers() -> dict[str, type]:
    return {"parsl": ParslLauncher}
