"""A local Dask worker's log while hpo-run stops: "Failed to communicate with scheduler
during heartbeat." with its traceback came, now and then, after hpo-run's one line on
Ctrl-C (tests/core/test_interrupted.py caught it: the scheduler, in hpo-run's process,
had gone).  The worker preload drops that line and keeps every other."""

from __future__ import annotations

import logging

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
