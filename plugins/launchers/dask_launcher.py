"""Launcher plugin ``dask``: evaluations as Dask tasks.

``launcher: {plugin: dask, workers: 2}`` starts a ``distributed.LocalCluster`` on
loopback (processes, one thread each, no dashboard unless asked) and shuts it down at
the end.  A worker that dies mid-evaluation has its task re-run elsewhere up to
``retries`` times; after that the evaluation is recorded as ``lost``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import Invalid


class DaskPool:
    """A :class:`dnnp_hpo.hookspecs.Pool` over a ``distributed.Client``."""

    def __init__(self, client: Any, retries: int) -> None:
        self.client = client
        self.retries = retries

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        # pure=False: two identical genomes are two trainings, not one cached result.
        return self.client.submit(fn, *args, pure=False, retries=self.retries)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        return iter(as_completed(list(futures)))

    @property
    def size(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))


def _at_least_one(_instance, attribute, value) -> None:
    if value < 1:
        raise Invalid(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class DaskLauncher:
    """Fields of the ``launcher:`` block for ``plugin: dask``."""

    workers: int = attrs.field(default=2, validator=_at_least_one)
    threads_per_worker: int = attrs.field(default=1, validator=_at_least_one)
    dashboard: bool = False
    retries: int = 2  #: re-runs of a task whose worker died

    def prepare(self, run: RunContext) -> None:
        if self.retries < 0:
            raise Invalid("retries must be 0 or more")

    @contextmanager
    def connect(self, run: RunContext) -> Iterator[DaskPool]:
        from distributed import Client, LocalCluster

        scratch = run.run_dir / "dask-scratch"
        cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=self.threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0" if self.dashboard else None,
            local_directory=str(scratch),
            silence_logs=logging.ERROR,
        )
        try:
            with Client(cluster) as client:
                yield DaskPool(client, self.retries)
        finally:
            cluster.close()


@hookimpl
def dnnp_hpo_launchers() -> dict[str, type]:
    return {"dask": DaskLauncher}
