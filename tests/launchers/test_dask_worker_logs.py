"""A local Dask worker's log while hpo-run stops: "Failed to communicate with scheduler
during heartbeat." with its traceback came, now and then, after hpo-run's one line on
Ctrl-C (tests/core/test_interrupted.py caught it: the scheduler, in hpo-run's process,
had gone).  The worker preload drops that line and keeps every other."""

from __future__ import annotations

import logging

from dnnp_hpo.plugins.launchers.dask_launcher import _quiet_about_dead_workers
from dnnp_hpo.plugins.launchers.dask_worker_setup import quiet_when_the_scheduler_goes


def test_the_heartbeat_line_of_a_gone_scheduler_is_dropped_and_others_kept(caplog):
    logger = logging.getLogger("distributed.worker")
    before = list(logger.filters)
    try:
        quiet_when_the_scheduler_goes()
        with caplog.at_level(logging.ERROR, logger="distributed.worker"):
            try:
                raise OSError("Stream is closed")
            except OSError:
                logger.exception("Failed to communicate with scheduler during heartbeat.")
            logger.error("Compute Failed\nKey: run_trial-1")
    finally:
        logger.filters[:] = before
    assert [r.getMessage() for r in caplog.records] == ["Compute Failed\nKey: run_trial-1"]


def test_the_schedulers_lines_on_a_dead_worker_are_dropped_only_while_the_run_lasts(caplog):
    """The driver's in-process scheduler: "Couldn't gather keys" and "marked as failed
    because N workers died" go while the run lasts (the evaluation is recorded lost, and
    told so); other lines stay, and the filter goes with the run."""
    logger = logging.getLogger("distributed.scheduler")
    with caplog.at_level(logging.ERROR, logger="distributed.scheduler"):
        with _quiet_about_dead_workers():
            logger.error("Couldn't gather keys: {'run_trial-1': 'queued'}")
            logger.error("Task run_trial-2 marked as failed because 4 workers died while trying to run it")
            logger.error("Workers don't have promised key")
        logger.error("Couldn't gather keys: {'run_trial-3': 'queued'}")
    assert [r.getMessage() for r in caplog.records] == [
        "Workers don't have promised key", "Couldn't gather keys: {'run_trial-3': 'queued'}"]
