"""Parsl's interchange, as the HighThroughputExecutor starts it (``interchange_launch_cmd``),
in a session of its own, ending with the hpo-run that started it.

The interchange is a child of hpo-run: in hpo-run's process group it received what is
sent to the whole group (Ctrl-C, SIGHUP from a dropped ssh session, ``kill -TERM -PGID``)
and died, after which Parsl's cleanup asked it for its managers and waited for the answer
for ever: hpo-run hung instead of stopping with one line.  In its own session only
Parsl's shutdown (SIGTERM, then SIGKILL) ends it, or the end of hpo-run: a driver killed
with ``kill -9`` (or by the OOM killer) left it running for good, and its worker pools
with it, beating their hearts to it (on a cluster, blocks held their nodes to the
walltime; helper-118).  Once it is gone, the pools exit within ``heartbeat_threshold``.
hpo-run gives its pid as the one argument: the parent this process has once it runs
would be init already if hpo-run died while Python started (helper-119).
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time

#: seconds between looks at whether hpo-run is still this process's parent
PARENT_LOOK_S = 1.0


def _end_with(parent: int) -> None:
    """End this process once ``parent`` has died (this process then has a new parent:
    init, or a subreaper), or at once if it is not its parent.  Not PR_SET_PDEATHSIG,
    which fires when the thread that started the process ends, not the process."""
    while os.getppid() == parent:
        time.sleep(PARENT_LOOK_S)
    os._exit(1)  # nobody is left to ask for a clean shutdown


if __name__ == "__main__":
    os.setsid()
    driver = int(sys.argv.pop(1)) if len(sys.argv) > 1 else os.getppid()
    threading.Thread(target=_end_with, args=(driver,), name="hpo-end-with-hpo-run", daemon=True).start()
    runpy.run_module("parsl.executors.high_throughput.interchange", run_name="__main__", alter_sys=True)
