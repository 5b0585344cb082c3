"""Launcher plugin ``dask``: evaluations as Dask tasks, on a cluster of one of three kinds.

The keys of the ``launcher:`` block choose where the Dask scheduler comes from:

``{plugin: dask, workers: 2}`` (local, the default)
    start a ``distributed.LocalCluster`` on loopback (processes, one thread each, no
    dashboard unless asked) and shut it down at the end.  Each training gets the cores
    shared out as its OpenMP/MKL/OpenBLAS threads unless the environment sets them.
``{plugin: dask, scheduler_file: PATH, min_workers: 100}`` (the paper, section 2.2.5)
    join a scheduler that the batch script started with ``dask scheduler
    --scheduler-file PATH``; wait (at most ``wait_timeout`` seconds) for the file and
    for ``min_workers`` workers, and log how long they took to appear.
``{plugin: dask, address: tcp://host:8786}``
    join a running scheduler at that address (same waiting as above).

In every mode a worker that dies mid-evaluation has its task re-run on another worker
by the Dask scheduler (``distributed.scheduler.allowed-failures`` worker deaths per
task); once Dask gives up, ``future.result()`` raises and the study records the
evaluation as ``lost`` with the MAXINT fitness.  If the scheduler itself is lost (its
node gone, its job ended), the client cancels every future: the pool raises EngineLost
instead, ``hpo-run`` stops (exit 3) with those evaluations pending, and the same command
resumes the run on a new cluster.  ``retries`` re-runs a task that
raised, which the evaluation function never does for a failed training.

A joined scheduler and its workers are left running at the end (the batch script owns
them) unless ``shutdown: true``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.errors import EngineLost, LaunchFailed, SpecError, TaskGivenUp, described, shortened
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.notice import notice
from dnnp_hpo.paths import expand_path_text
from dnnp_hpo.run import RunContext
from dnnp_hpo.runlock import check_writable
from dnnp_hpo.spec import MAX_WORKERS, Invalid, at_least, at_most

from .background import STILL_RUNNING, answer, in_thread
from .dask_versions import read_versions_from_metadata
from .dask_worker_setup import DroppedLines
from .held_signals import stop_signals_held
from .training_threads import training_threads

DEFAULT_LOCAL_WORKERS = 2
#: seconds a joined cluster's scheduler and min_workers are waited for
DEFAULT_WAIT_S = 600.0
#: seconds between looks at the client while no evaluation finishes (is the scheduler there?)
ALIVE_POLL_S = 1.0
#: seconds after which a local cluster would hard-close a lost worker's nanny: never (a
#: nanny restarts its worker; _lost_workers_restarted)
NEVER_S = 10**9
#: seconds a local cluster gets to close in order before its workers are killed
CLOSE_TIMEOUT_S = 15.0
#: seconds its workers are killed for, at most, as nannies may keep starting new ones
KILL_FOR_S = 10.0
#: times one local worker's process may exit before it has ever joined the scheduler
#: before the start is given up (its nanny starts it again at once, for ever)
START_EXITS = 3
#: an address a Client can join: Dask's comms need a host (IPv6 in brackets, as Dask parses
#: it) and a port to connect to; without either, or with inproc:// (an address inside one
#: process, never a batch script's scheduler), Client() raised ValueError: a traceback
_ADDRESS = re.compile(r"^(tcp|tls|ucx)://(\[[^\]\s/]+\]|[^\s/:\[\]]+):([0-9]+)$")
#: TCP's ports, 0 not among them (it asks for a free one to listen on; nothing listens there)
_PORTS = range(1, 65536)


class _Task:
    """A Dask future as the Study sees it: ``done()`` and ``result()``.  A task whose
    workers all died under it (``KilledWorker``) raises TaskGivenUp with Dask's reason
    without the advice it ends with ("Inspecting worker logs is often a good next step
    ... see https://..."), which cut the recorded reason short at the CSV's 300
    characters, mid-sentence."""

    __slots__ = ("future", "pool")

    def __init__(self, future: Any, pool: DaskPool) -> None:
        self.future = future
        self.pool = pool

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Any:
        from distributed import KilledWorker

        while True:
            try:
                result = answer(self.future, ALIVE_POLL_S)
            except KilledWorker as exc:
                raise TaskGivenUp(f"KilledWorker: {str(exc).split(' Inspecting worker logs')[0]}") from None
            if result is not STILL_RUNNING:
                return result
            # Done when the Study looked, its result lost since: the worker holding it
            # died, and Dask computes it again once a worker is there.  With none left,
            # result() waited for ever (a test hung 10 minutes): the engine is lost after
            # launcher.wait_timeout, as when nothing is done (EngineLost, birth in flight).
            self.pool._check_alive()
            self.pool._check_workers()


class DaskPool:
    """A :class:`dnnp_hpo.hookspecs.Pool` over a ``distributed.Client``.

    Waiting uses one done-callback per future, registered at :meth:`submit`, and a
    condition it signals: ``distributed.as_completed`` would add a task per future to the
    client's event loop at each call, kept until that future ends, and ``nsga2-async``
    looks every few seconds while trainings run for hours (bench: 2,000 looks at 100
    trainings left 400,000 tasks and 1.4 GB in the driver).
    """

    def __init__(self, client: Any, retries: int, run: RunContext | None = None,
                 workerless_limit: float = DEFAULT_WAIT_S, limit_key: str | None = "launcher.wait_timeout") -> None:
        self.client = client
        self.retries = retries
        self.address = client.scheduler.address
        self._finished = threading.Condition()
        self._completions = 0  #: futures of this pool done so far, counted by their callbacks
        self.run = run
        #: seconds without any worker after which the engine counts as lost
        self.workerless_limit = workerless_limit
        #: the spec key that sets it, named in messages (None: a local cluster, which has none)
        self.limit_key = limit_key
        self._workerless_since: float | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        self._check_alive()
        # pure=False: two identical genomes are two trainings, not one cached result.
        future = self.client.submit(fn, *args, pure=False, retries=self.retries)
        future.add_done_callback(self._completed)
        return _Task(future, self)

    def _completed(self, _future: Any) -> None:
        with self._finished:
            self._completions += 1
            self._finished.notify_all()

    def as_completed(self, futures: Iterable[Any], timeout: float | None = None) -> Iterator[Any]:
        remaining = list(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        while remaining:
            with self._finished:
                seen = self._completions
            done = [f for f in remaining if f.done()]
            # After looking: the client marks itself reconnecting before it cancels every
            # future, so a scheduler still gone is named as such (a future cancelled by a
            # reconnect that already succeeded is the Study's to refuse).
            self._check_alive()
            self._check_workers()
            for future in done:
                remaining.remove(future)
                yield future
            if done:
                continue
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"none of {len(remaining)} evaluations finished within {timeout} s")
            with self._finished:  # woken by a callback, else every ALIVE_POLL_S to look at the client
                self._finished.wait_for(lambda seen=seen: self._completions != seen,
                                        timeout=ALIVE_POLL_S if left is None else min(left, ALIVE_POLL_S))

    def _check_alive(self) -> None:
        if self.client.status not in ("running", "newly-created"):
            raise EngineLost(f"lost the Dask scheduler at {self.address} (the client is {self.client.status})",
                             fix="start the cluster again")

    def _check_workers(self) -> None:
        """EngineLost once no worker has been connected for :attr:`workerless_limit` s.

        A scheduler whose workers are all gone (their nodes lost, killed by the system)
        is still there, and every evaluation would wait for a worker for ever: the batch
        job until its walltime.  Said when it happens, and given up after the limit.
        """
        # The identity the client refreshes by itself every 2 s: scheduler_info() would ask
        # the scheduler, and wait for ever on one that hangs without closing the connection.
        if getattr(self.client, "_scheduler_identity", {}).get("workers"):
            if self._workerless_since is not None and self.run is not None:
                notice(self.run, f"dask: workers are connected to {self.address} again")
            self._workerless_since = None
            return
        now = time.monotonic()
        if self._workerless_since is None:
            self._workerless_since = now
            if self.run is not None:
                notice(self.run, f"dask: no worker is connected to the scheduler at {self.address}; waiting "
                                 f"up to {self._limit()} for one")
        elif now - self._workerless_since > self.workerless_limit:
            raise EngineLost(f"no Dask worker has been connected to the scheduler at {self.address} for "
                             f"{self._limit()}", fix="start workers again")

    def _limit(self) -> str:
        return f"{self.workerless_limit:g} s" + (f" ({self.limit_key})" if self.limit_key else "")

    @property
    def size(self) -> int:
        """Evaluations the cluster runs at once: its threads (a worker started with
        ``--nthreads 2``, or ``threads_per_worker: 2``, runs two), as Parsl's slots.

        Read from the identity the client refreshes by itself every 2 s, as
        :meth:`_check_workers` reads it: ``nsga2-async`` asks after every result, and
        ``scheduler_info()`` would wait for ever on a scheduler that hangs (stopped, its
        node swapping) without closing the connection.  Asked only before the first
        refresh has arrived."""
        identity = getattr(self.client, "_scheduler_identity", None) or self.client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in identity.get("workers", {}).values())


# --------------------------------------------------------------------------------------
# Where the scheduler comes from: one small class per mode, chosen from the keys.
# --------------------------------------------------------------------------------------


@attrs.frozen
class LocalEngine:
    """A LocalCluster started here and stopped at the end."""

    workers: int
    threads_per_worker: int
    dashboard: bool
    local_directory: Path

    @contextmanager
    def client(self, run: RunContext) -> Iterator[Any]:
        from distributed import Client

        # Its client, scheduler and workers are all hpo-run's (the workers in their
        # preload): they read the versions one way.  A joined cluster's processes are the
        # user's, reporting Dask's way: so does hpo-run's client there.
        read_versions_from_metadata()
        cluster = None
        started = False
        with _quiet_about_dead_workers():
            try:
                try:
                    self.local_directory.mkdir(parents=True, exist_ok=True)
                except OSError as exc:  # what prepare's check cannot see (as root, /proc/x)
                    raise LaunchFailed(f"launcher.local_directory: cannot create {self.local_directory}: "
                                       f"{exc.strerror or exc}") from None
                starts = _Starts()
                with stop_signals_held(term_too=True):  # a stop meanwhile is acted on at the block's end
                    # The scheduler alone: LocalCluster(n_workers=n) waits inside for its workers,
                    # deaf to stop signals and for ever if they cannot start (their nannies start
                    # them again and again): a script running hpo-run without the __main__ guard,
                    # which each spawned worker runs again (helper-128).  The workers are spawned
                    # by the cluster's thread, started here: they inherit the held signals.
                    cluster = self._start(starts)
                    cluster.scale(self.workers)
                with _start_noise_dropped():
                    self._await_workers(run, cluster, starts)
                started = True
                if self.dashboard:  # on a free port: the one place the user learns which
                    notice(run, f"dask: dashboard at {cluster.dashboard_link}")
                with Client(cluster) as client, _lost_workers_restarted():
                    yield client
            finally:
                if cluster is not None:
                    # Held: a stop in the middle of close() left the cluster half-closed, and
                    # distributed's exit hook waited 10 s for it after hpo-run's last line
                    # (helper-84).  The close is bounded (CLOSE_TIMEOUT_S, then its workers killed).
                    # A start given up or stopped: distributed logs the cancelled starts of the
                    # workers as ERROR tracebacks, where the run's one line says it all.
                    with stop_signals_held(), contextlib.nullcontext() if started else _start_noise_dropped():
                        _close_local(run, cluster)
                        if not started:  # a worker whose nanny failed to start it is no longer the cluster's
                            _kill_local_workers()

    def _await_workers(self, run: RunContext, cluster: Any, starts: _Starts) -> None:
        """Wait until every worker has joined the scheduler, as LocalCluster(n_workers=n)
        did, but where a stop signal stops the run (a KeyboardInterrupt here: the caller
        closes the cluster), saying so if it is slow, and at most :data:`DEFAULT_WAIT_S`;
        LaunchFailed once the start is given up (:meth:`_Starts.given_up`)."""
        deadline = time.monotonic() + DEFAULT_WAIT_S
        with _said_if_slow(run, f"dask: waiting for the {self.workers} local worker(s) to start"):
            while len(cluster.scheduler_info.get("workers", {})) < self.workers:
                why = starts.given_up()
                if why:
                    raise LaunchFailed(
                        f"dask: the local workers cannot start ({why}; what they printed is above): check that "
                        "this Python environment imports dnnp_hpo and the run's plugins, that its DASK_* "
                        "settings are valid, and that a script running hpo-run does so under "
                        "if __name__ == \"__main__\": each worker process runs the script's top level again")
                if time.monotonic() > deadline:
                    raise LaunchFailed(f"dask: the local workers did not start within {DEFAULT_WAIT_S:g} s")
                time.sleep(0.05)

    def _start(self, starts: _Starts) -> Any:
        """The LocalCluster, with no worker yet; its nannies tell ``starts`` how the
        starts of their workers go."""
        from distributed import LocalCluster, Nanny
        from distributed.worker_memory import parse_memory_limit

        class NannyOfWorkerWithoutDashboard(Nanny):
            """A worker's own dashboard imports bokeh (where installed: the dashboard extra),
            about a second of CPU per worker at each start, and LocalCluster turns it on
            with any worker HTTP address, which is kept on loopback (below); hpo-run's
            dashboard is the scheduler's."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**kwargs, "dashboard": False})

            async def start_unsafe(self) -> Any:
                try:
                    return await super().start_unsafe()
                except Exception as exc:
                    starts.failed.append((self.name, exc, time.monotonic()))
                    raise

            async def _on_worker_exit(self, exitcode: int) -> None:
                if self.process is not None and self.process.worker_address is None:  # never joined
                    starts.exits.append((self.name, exitcode))
                if starts.given_up():
                    return  # no worker is started again: the start is given up (_await_workers)
                await super()._on_worker_exit(exitcode)

        return LocalCluster(
            worker_class=NannyOfWorkerWithoutDashboard,
            n_workers=0,
            # what LocalCluster gives each of n_workers (the machine's memory / n), which it
            # leaves to each worker without n_workers (the memory per core of its threads)
            memory_limit=parse_memory_limit("auto", 1, self.workers, logger=logging.getLogger("distributed")),
            threads_per_worker=self.threads_per_worker,
            processes=True,
            host="127.0.0.1",
            # distributed reads dashboard_address=None as its default ':8787' on every
            # interface for the scheduler's HTTP server: keep that server on loopback, on
            # a free port, and switch the dashboard itself off unless asked.
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": self.dashboard},
            # Each worker's own HTTP server (health, metrics) listened on every
            # interface by default: loopback as well.
            worker_dashboard_address="127.0.0.1:0",
            local_directory=str(self.local_directory),
            silence_logs=logging.ERROR,
            preload=["dnnp_hpo.plugins.launchers.dask_worker_setup"],  # Ctrl-C, SIGHUP: see there
            env=training_threads(self.workers * self.threads_per_worker),  # set in each worker process
        )


class _StartNoise(logging.Filter):
    """Drops the tracebacks distributed logs (and tornado, for the cluster's task that
    starts the workers) about workers whose start failed or was cancelled, while a local
    cluster starts and while one whose start was given up closes: the run's one line says
    it all.  On the handlers, where records of every ``distributed.*`` logger pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, asyncio.CancelledError)
                    or (isinstance(error, RuntimeError) and "failed to start" in str(error)))


@contextmanager
def _start_noise_dropped() -> Iterator[None]:
    noise = _StartNoise()
    handlers = [h for name in ("distributed", "tornado.application", "")
                for h in logging.getLogger(name).handlers]
    for handler in handlers:
        handler.addFilter(noise)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(noise)


@contextmanager
def _lost_workers_restarted() -> Iterator[None]:
    """Leave a dead local worker to its nanny, which starts it again.

    A LocalCluster also hard-closes the nanny of a worker that has not come back
    ``distributed.deploy.lost-worker-timeout`` (15 s) after it left, which is meant for a
    batch job that hangs.  A training that kills its worker (a crash in an in-process
    trainer) kills each of the 4 workers Dask tries its task on, so its nanny was often
    caught between two deaths: closed, never replaced, and after about 15 s of such
    trainings no worker was left and the run waited for one until it gave up (600 s).
    The cluster reads the timeout at each loss, so it is set for the cluster's life.
    """
    import dask

    with dask.config.set({"distributed.deploy.lost-worker-timeout": f"{NEVER_S}s"}):
        yield


@attrs.define
class _Starts:
    """How the local workers' starts went, as their nannies (in this process) saw them."""

    exits: list[tuple[Any, int]] = attrs.Factory(list)  #: (worker, exit code) of one never joined
    #: (worker, why, when) of a nanny's failed start
    failed: list[tuple[Any, BaseException, float]] = attrs.Factory(list)

    def given_up(self) -> str | None:
        """Why the start is given up (``worker N: why``), if it is: a nanny's start failed
        (a worker that raised as it initialised, such as on a bad DASK_* setting: no nanny
        starts it again; or whose process ended before it joined, whose exit status is
        waited for a moment, to be named), or one worker exited :data:`START_EXITS` times
        before joining."""
        times = collections.Counter(name for name, _ in self.exits)
        name = next((n for n, k in times.items() if k >= START_EXITS), None)
        if name is None and self.failed:
            name, error, when = self.failed[0]
            ended = isinstance(error, RuntimeError) and "failed to start" in str(error)  # distributed's words
            if not ended:
                return f"worker {name}: {shortened(described(error), 300)}"
            if name not in times:
                return None if time.monotonic() - when < 1.0 else f"worker {name}: its process ended at once"
        if name is None:
            return None
        return f"worker {name}: {_ended(next(code for n, code in reversed(self.exits) if n == name))}"


def _ended(exitcode: int) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
        return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _rounded_seconds(exc: BaseException) -> str:
    """distributed's "Timed out trying to connect to ... after 7.999944336999988 s", in
    tenths of a second, rounded (8.0 s: a wait_timeout of 8 is not reported as 7.9)."""
    return re.sub(r"\b(\d+\.\d{2,}) s\b", lambda m: f"{float(m.group(1)):.1f} s", str(exc))


@contextmanager
def _quiet_about_dead_workers() -> Iterator[None]:
    """Drops the ERROR lines the in-process scheduler logs when a worker dies under a
    task: "Couldn't gather keys: {...: 'queued'}" (the driver asked for a result whose
    worker had just died; the task is run again) and "Task ... marked as failed because 4
    workers died while trying to run it".  The evaluation is recorded ``lost`` with that
    reason and shown as such.  Held until the cluster is closed, where the client's close
    may release a key a gather still asks for ("{...: 'forgotten'}", seen once in CI)."""
    scheduler_log = logging.getLogger("distributed.scheduler")
    lines = DroppedLines("Couldn't gather keys", "marked as failed because")
    scheduler_log.addFilter(lines)
    try:
        yield
    finally:
        scheduler_log.removeFilter(lines)


def _close_local(run: RunContext, cluster: Any) -> None:
    """Close a LocalCluster; if it has not closed within :data:`CLOSE_TIMEOUT_S`, kill its
    worker processes.

    distributed 2024.6 can wait for ever to close a cluster whose nannies are still
    restarting workers that died (a training that took its worker down, as a crash in
    an in-process trainer does): the nannies wait for workers that never report.  A
    run whose every evaluation is recorded then never ended.
    """
    try:
        cluster.close(timeout=CLOSE_TIMEOUT_S)
        return
    except TimeoutError:
        pass
    notice(run, f"dask: the local cluster did not close within {CLOSE_TIMEOUT_S:g} s; killing its workers")
    _kill_local_workers()
    loop_runner = getattr(cluster, "_loop_runner", None)  # else distributed waits at exit again
    if loop_runner is not None:
        loop_runner.stop()


def _kill_local_workers(quiet_s: float = 1.0) -> None:
    """SIGKILL this process's Dask worker processes until none has appeared for
    ``quiet_s`` (a nanny's restart under way may start one more), :data:`KILL_FOR_S` at
    most.  Their trainings are stopped by the watchdog, as those of any dead worker
    (core/process.py)."""
    import psutil

    def workers() -> list[Any]:
        found = []
        for child in psutil.Process().children():
            try:
                argv = child.cmdline()
            except psutil.Error:
                continue  # gone, or a zombie its nanny has not reaped
            if argv and (argv[0].startswith("dask worker") or any("spawn_main" in a for a in argv)):
                found.append(child)
        return found

    quiet_since = started = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s and time.monotonic() - started < KILL_FOR_S:
        found = workers()
        for worker in found:
            with contextlib.suppress(psutil.Error):
                worker.kill()
        if found:
            quiet_since = time.monotonic()
        time.sleep(0.1)


@contextmanager
def _quiet_if_lost(client: Any) -> Iterator[None]:
    """Closing a client whose scheduler is gone cancels its attempt to reconnect, which
    distributed logs with a traceback: noise after hpo-run's own line saying so."""
    if client.status == "running":
        yield
        return
    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


#: seconds a joined cluster's scheduler may take to be found and to answer before hpo-run
#: says that it waits: a missing scheduler file or a dead scheduler was silence for the
#: whole wait_timeout (600 s by default), then exit 3 (helper-107)
SLOW_START_S = 5.0


@contextmanager
def _said_if_slow(run: RunContext, text: str) -> Iterator[None]:
    """Say ``text`` (:func:`notice`) if the block takes over SLOW_START_S; nothing if not."""
    timer = threading.Timer(SLOW_START_S, notice, (run, text))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()  # a notice already on its way is out before what follows the block


def read_scheduler_file(path: Path, deadline: float) -> str:
    """The scheduler address in a ``--scheduler-file``, waiting for the file to appear.

    LaunchFailed at once for an address no Dask scheduler writes (``foo://x:1``: Client()
    raised ValueError, a traceback and exit 4; helper-110), at the deadline for a file
    that never appeared or never held an address, saying which."""
    there = False
    while True:
        try:
            text = path.read_text(encoding="utf-8")
            there = True
            address = json.loads(text)["address"]
        except (OSError, ValueError, KeyError, TypeError):
            address = None  # not there yet, or not yet completely written
        if isinstance(address, str) and address:
            if _ADDRESS.match(address) is None:
                raise LaunchFailed(f"launcher.scheduler_file: {path} holds the address {shortened(address)}, "
                                   "which no Dask scheduler listens on (expected tcp://host:port, tls:// or "
                                   "ucx://): is it a scheduler file of `dask scheduler --scheduler-file`?")
            return address
        if time.monotonic() > deadline:
            what = ("holds no scheduler address (a JSON object with \"address\")" if there else "did not appear")
            raise LaunchFailed(f"launcher.scheduler_file: {path} {what} within launcher.wait_timeout; was "
                               "`dask scheduler --scheduler-file` started?")
        time.sleep(0.2)


#: seconds the workers of a joined cluster are given to take the order to stop a run's trainings
STOP_ORDER_S = 10.0
#: seconds the client may have lost its scheduler before that order is given up
LOST_SCHEDULER_S = 2.0


def _stop_trainings(run: RunContext, client: Any) -> None:
    """Have every worker of a joined cluster stop this run's trainings (process.stop_trainings):
    its workers outlive hpo-run, and closing the client cancels their tasks without
    stopping the trainings, which then held the workers to their end while a resume
    trained them again.  A SIGKILLed driver cannot do this: those trainings end and are
    harvested by the resume (docs/reliability.md)."""
    from distributed import Future

    from dnnp_hpo.process import stop_trainings

    def ask() -> Any:
        # The run's tasks first: Dask retries a task whose training was stopped (it
        # raised) and starts those queued behind it, each a training the client's close
        # then no longer stops (helper-67's review).
        tasks = [Future(key, client, inform=False) for key in list(client.futures)]
        if tasks:
            client.cancel(tasks, force=True)
        return client.run(stop_trainings, str(run.evals_dir), on_error="return")

    # Waited for at most STOP_ORDER_S: a scheduler that does not answer must not hold the
    # stop (a second Ctrl-C cuts the wait short).
    why: object = f"no answer within {STOP_ORDER_S:g} s"
    asked = in_thread(ask, "hpo-dask-stop-trainings")
    deadline = time.monotonic() + STOP_ORDER_S
    lost_since = None
    try:
        while (stopped := answer(asked, 0.2)) is STILL_RUNNING:
            # A scheduler that went down meanwhile (a job's end signals it with hpo-run)
            # never answers: waiting out STOP_ORDER_S held the job's clean-up past LSF's
            # 10 s before SIGKILL (helper-112).  Lost for LOST_SCHEDULER_S, not a
            # moment: a client reconnecting may still pass the order on (helper-113).
            now = time.monotonic()
            if client.status == "running":
                lost_since = None
            elif lost_since is None:
                lost_since = now
            if lost_since is not None and now - lost_since >= LOST_SCHEDULER_S:
                stopped, why = None, f"the scheduler's connection is {client.status}"
                break
            if now > deadline:
                stopped = None
                break
    except Exception as exc:  # noqa: BLE001 - said below; hpo-run stops either way
        stopped, why = None, exc
    if isinstance(stopped, dict):
        count = sum(n for n in stopped.values() if isinstance(n, int))
        if count:
            notice(run, f"dask: stopped {count} training(s) of this run on the cluster's workers (the resume "
                        "trains them again)")
        failed = {worker: n for worker, n in stopped.items() if not isinstance(n, int)}
        for worker, error in sorted(failed.items()):  # a worker without stop_trainings (older dnnp-hpo)
            notice(run, f"dask: worker {worker} could not stop this run's trainings ({type(error).__name__}: "
                        f"{error}): they go on unless their worker stops too; a resume harvests those that finished")
    else:
        # "they run to their end" was wrong where the workers stop with hpo-run (a batch
        # job's end signals them all: helper-107)
        notice(run, f"dask: could not stop this run's trainings on the cluster's workers ({why}): they go on "
                    "unless their workers stop too; a resume harvests those that finished")


#: Dask's TLS settings of a client, by the environment variable that sets each (the
#: batch scripts export them)
TLS_SETTINGS = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": "distributed.comm.tls.ca-file",
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": "distributed.comm.tls.client.cert",
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": "distributed.comm.tls.client.key"}


@attrs.frozen
class JoinedEngine:
    """A scheduler started by someone else (the batch script), found by file or address."""

    find_address: Callable[[float], str]  #: deadline (monotonic) -> scheduler address
    key: str  #: the launcher key that found it (scheduler_file, address), for messages
    where: str  #: how it was found, for messages
    min_workers: int
    wait_timeout: float
    shutdown: bool

    @contextmanager
    def client(self, run: RunContext) -> Iterator[Any]:
        from distributed.utils import silence_logging_cmgr

        # distributed's INFO lines on this client's side (a comm closed, with its
        # traceback, "Reconnecting...") are noise next to hpo-run's own line about a lost
        # scheduler; a LocalCluster silences them the same way (silence_logs).
        with silence_logging_cmgr(logging.WARNING), self._client(run) as client:
            yield client

    @contextmanager
    def _client(self, run: RunContext) -> Iterator[Any]:
        from distributed import Client

        started = time.monotonic()
        deadline = started + self.wait_timeout
        limit = f"launcher.wait_timeout, {self.wait_timeout:g} s"
        with _said_if_slow(run, f"dask: waiting for the scheduler's address in {self.where} (up to {limit}); was "
                                "`dask scheduler --scheduler-file` started?"):
            address = self.find_address(deadline)
        self._check_tls(address)
        try:
            with _said_if_slow(run, f"dask: no answer yet from the scheduler at {address} ({self.where}); trying "
                                    f"up to {limit}"):
                client = Client(address, timeout=max(1.0, deadline - time.monotonic()))
        except OSError as exc:
            raise LaunchFailed(f"launcher.{self.key}: cannot reach the Dask scheduler at {address} ({self.where}) "
                               f"within launcher.wait_timeout: {_rounded_seconds(exc)}") from None
        launched = False
        try:
            self._await_workers(run, client, address, started, deadline)
            launched = True
            yield client
        except BaseException as exc:
            if launched and not isinstance(exc, EngineLost):
                _stop_trainings(run, client)
            raise
        finally:
            # Not when the launch failed (min_workers not there in time): the same command
            # resumes on that cluster once its workers are, as exit 3 tells the user.
            if self.shutdown and launched:
                notice(run, f"dask: shutting down the scheduler at {address} and its workers")
                try:
                    client.shutdown()
                except Exception as exc:  # noqa: BLE001 - best effort at the end of a run
                    notice(run, f"dask: shutdown of {address} failed: {type(exc).__name__}: {exc}")
            with _quiet_if_lost(client):
                client.close()

    def _check_tls(self, address: str) -> None:
        """LaunchFailed for a TLS scheduler (the batch scripts') joined without the job's
        certificate in Dask's config: Client() raised "TypeError: TLS expects a
        'ssl_context' argument", a traceback and exit 4 (helper-97, from a second shell)."""
        import dask

        if not address.startswith("tls://"):
            return
        # the key may be left out (a certificate file that holds it too); not the other two
        missing = [variable for variable, key in list(TLS_SETTINGS.items())[:2] if not dask.config.get(key, None)]
        if missing:
            raise LaunchFailed(f"launcher.{self.key}: the Dask scheduler at {address} ({self.where}) takes TLS "
                               f"connections only, and this hpo-run has no certificate for it: set "
                               f"{', '.join(missing)} (and DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY) as the batch "
                               "script exports them, to the files in its WORKDIR/dask-tls (docs/hpc.md)")
        # A path that is wrong (a typo, or the dask-tls of a job that has ended) gave
        # "cannot reach the Dask scheduler ...: [Errno 2] No such file or directory", no path
        for key in TLS_SETTINGS.values():
            path = dask.config.get(key, None)
            if path and not os.access(path, os.R_OK):
                raise LaunchFailed(f"launcher.{self.key}: the Dask scheduler at {address} takes TLS connections, "
                                   f"and Dask's {key} is {path}, which cannot be read: "
                                   f"{'no such file' if not os.path.exists(path) else 'permission denied'} "
                                   "(the batch script's WORKDIR/dask-tls is removed when its job ends)")

    def _await_workers(self, run: RunContext, client: Any, address: str, started: float, deadline: float) -> None:
        try:
            self._await_workers_on(run, client, address, started, deadline)
        except OSError as exc:
            # The scheduler lost while waiting (killed, its node gone): distributed's
            # "Timed out trying to connect" is an OSError, not the TimeoutError of too few
            # workers, and escaped as a traceback and exit 4 (helper-118): exit 3, resumable.
            raise LaunchFailed(f"launcher.{self.key}: lost the Dask scheduler at {address} ({self.where}) before "
                               f"the run began: {type(exc).__name__}: {_rounded_seconds(exc)}") from None

    def _await_workers_on(self, run: RunContext, client: Any, address: str, started: float,
                          deadline: float) -> None:
        connected = time.monotonic()
        if self.min_workers:
            try:
                client.wait_for_workers(self.min_workers, timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                # Dask's own message has the unrounded seconds ("after 3.836298150999937")
                arrived = len(client.scheduler_info().get("workers", {}))
                raise LaunchFailed(
                    f"dask: only {arrived} of launcher.min_workers {self.min_workers} worker(s) arrived within "
                    f"launcher.wait_timeout {self.wait_timeout:g} s (scheduler {address})"
                ) from None
        ready = time.monotonic()
        info = client.scheduler_info()
        scheduler_age = time.time() - float(info.get("started", time.time()))
        notice(
            run,
            f"dask: {len(info.get('workers', {}))} worker(s) at {address} ({self.where}); "
            f"waited {ready - connected:.2f} s for min_workers={self.min_workers} "
            f"({ready - started:.2f} s since hpo-run looked for the scheduler, "
            f"{scheduler_age:.2f} s since the scheduler started)",
        )


# --------------------------------------------------------------------------------------
# The spec block
# --------------------------------------------------------------------------------------


def _dask_address(_instance, _attribute, value) -> None:
    if value is None:
        return
    match = _ADDRESS.match(value)
    if match is None:
        raise Invalid("address must look like tcp://host:port (or tls://, ucx://; an IPv6 host in brackets, "
                      f"tcp://[::1]:8786), got {shortened(value)}", "address")
    port = match.group(3)
    # len first: int() of a few thousand digits raises ValueError
    if len(port) > 5 or int(port) not in _PORTS:
        raise Invalid(f"address {shortened(value)}: expected a port from 1 to 65535 after the host (the one the "
                      "scheduler listens on, 8786 by default)", "address")


def _positive_seconds(_instance, attribute, value) -> None:
    if not value > 0:
        raise Invalid(f"{attribute.name} must be a positive number of seconds, got {value}", attribute.name)


def expand_path(text: str, key: str) -> Path:
    """``~`` and ``$VARIABLES`` expanded; relative paths are relative to the working directory
    (as for ``dask scheduler --scheduler-file``).  SpecError if a variable is not set."""
    return Path(expand_path_text(text, key)).absolute()


@attrs.frozen
class DaskLauncher:
    """Fields of the ``launcher:`` block for ``plugin: dask``."""

    #: local mode: worker processes of the LocalCluster (default 2)
    workers: int | None = attrs.field(default=None, validator=[at_least(1), at_most(MAX_WORKERS)])
    #: bounded as workers are: 2**64 passed the check and the LocalCluster then raised OverflowError
    threads_per_worker: int = attrs.field(default=1, validator=[at_least(1), at_most(MAX_WORKERS)])
    dashboard: bool = False
    local_directory: str | None = None  #: local mode scratch; default RUN_DIR/dask-scratch
    retries: int = attrs.field(default=2, validator=at_least(0))  #: re-runs of a task that raised
    #: join the scheduler that wrote this file (``dask scheduler --scheduler-file``)
    scheduler_file: str | None = None
    #: or join the scheduler at this address
    address: str | None = attrs.field(default=None, validator=_dask_address)
    min_workers: int = attrs.field(default=0, validator=[at_least(0), at_most(MAX_WORKERS)])  #: wait for them first
    wait_timeout: float = attrs.field(default=DEFAULT_WAIT_S, validator=_positive_seconds)
    shutdown: bool = False  #: stop a joined scheduler and its workers at the end

    def __attrs_post_init__(self) -> None:
        if self.scheduler_file is not None and self.address is not None:
            raise Invalid("give scheduler_file or address, not both")
        joined = self.scheduler_file is not None or self.address is not None
        if joined:
            for key in ("workers", "local_directory"):
                if getattr(self, key) is not None:
                    raise Invalid(f"{key} is for a local cluster; with scheduler_file or address the workers "
                                  "are started apart, by you or the batch script (`dask worker`)", key)
            # each key named alone: "dashboard and threads_per_worker" read as both given
            for key, default, flag in (("dashboard", False, "`dask scheduler --dashboard-address`"),
                                       ("threads_per_worker", 1, "`dask worker --nthreads`")):
                if getattr(self, key) != default:
                    raise Invalid(f"{key} is for a local cluster; with scheduler_file or address give {flag} where "
                                  "the scheduler and workers are started (by you or the batch script)", key)
        else:
            for key, default in (("min_workers", 0), ("shutdown", False), ("wait_timeout", DEFAULT_WAIT_S)):
                if getattr(self, key) != default:
                    raise Invalid(f"{key} is for a joined cluster (scheduler_file or address)", key)

    def prepare(self, run: RunContext) -> None:
        """Check paths; connect to nothing (the scheduler may not exist yet at --dry-run)."""
        block = run.raw_spec.get("launcher")
        for key in ("scheduler_file", "address", "local_directory"):
            written = block.get(key, 0) if isinstance(block, dict) else 0
            if written is None or written == "":
                # Read as left out: a cluster spec's `scheduler_file:` not yet filled in ran a
                # local cluster on the login node without a word (helper-110).
                what = ("leave the key out for a local cluster on this machine" if key != "local_directory"
                        else "leave the key out for RUN_DIR/dask-scratch")
                raise SpecError(f"{'null (an empty value)' if written is None else 'an empty string'}: give "
                                f"the {key.replace('_', ' ')}, or {what}", key)
        if self.scheduler_file is not None:
            path = expand_path(self.scheduler_file, "scheduler_file")
            if path.is_dir():
                raise SpecError(f"{path} is a directory, expected the scheduler's JSON file",
                                "scheduler_file")
        if self.local_directory is not None:
            check_writable(expand_path(self.local_directory, "local_directory"), "local_directory")
        if self.address is not None and self.address.startswith("ucx://") and importlib.util.find_spec("ucp") is None:
            # distributed imports it only when connecting: ModuleNotFoundError, a traceback
            raise SpecError("ucx:// needs UCX-Py (the ucp module), which is not installed here: install it, or "
                            "join the scheduler at its tcp:// address", "address")
        if self.dashboard:
            try:
                import bokeh  # noqa: F401 - distributed serves only "Dask needs bokeh" without it
            except ImportError:
                raise SpecError("Dask's dashboard needs bokeh, which is not installed here: "
                                "pip install 'dnnp-hpo[dashboard]' (or bokeh), or leave dashboard out",
                                "dashboard") from None

    def engine(self, run: RunContext) -> LocalEngine | JoinedEngine:
        """The object that gives the Client for this block's mode."""
        if self.scheduler_file is not None:
            path = expand_path(self.scheduler_file, "scheduler_file")
            return JoinedEngine(lambda deadline: read_scheduler_file(path, deadline), "scheduler_file",
                                f"scheduler file {path}", self.min_workers, self.wait_timeout, self.shutdown)
        if self.address is not None:
            address = self.address
            return JoinedEngine(lambda _deadline: address, "address", "given address", self.min_workers,
                                self.wait_timeout, self.shutdown)
        scratch = (expand_path(self.local_directory, "local_directory") if self.local_directory
                   else run.run_dir / "dask-scratch")
        return LocalEngine(self.workers or DEFAULT_LOCAL_WORKERS, self.threads_per_worker,
                           self.dashboard, scratch)

    def describe(self, run: RunContext) -> str:
        """What connect() would start or join, for --dry-run."""
        engine = self.engine(run)
        if isinstance(engine, LocalEngine):
            return (f"dask: a local cluster of {engine.workers} worker process(es) on this machine, "
                    f"{engine.threads_per_worker} thread(s) each; scratch in {engine.local_directory}")
        where = (f"whose address is in {expand_path(self.scheduler_file, 'scheduler_file')}"
                 if self.scheduler_file is not None else f"at {self.address}")
        waits = f"waiting up to {self.wait_timeout:g} s" + (f" for {self.min_workers} worker(s)" if self.min_workers
                                                            else "")
        return (f"dask: joins the scheduler {where}, {waits}"
                + ("; shuts it and its workers down at the end" if self.shutdown else ""))

    @contextmanager
    def connect(self, run: RunContext) -> Iterator[DaskPool]:
        engine = self.engine(run)
        with engine.client(run) as client:
            # wait_timeout is a joined cluster's key; a local one waits the default
            yield DaskPool(client, self.retries, run, self.wait_timeout,
                           "launcher.wait_timeout" if isinstance(engine, JoinedEngine) else None)


@hookimpl
def dnnp_hpo_launchers() -> dict[str, type]:
    return {"dask": DaskLauncher}
