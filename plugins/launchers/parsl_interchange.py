"""Parsl's interchange, as the HighThroughputExecutor starts it (``interchange_launch_cmd``),
in a session of its own.

The interchange is a child of hpo-run: in hpo-run's process group it received what is
sent to the whole group (Ctrl-C, SIGHUP from a dropped ssh session, ``kill -TERM -PGID``)
and died, after which Parsl's cleanup asked it for its managers and waited for the answer
for ever: hpo-run hung instead of stopping with one line.  In its own session only
Parsl's shutdown (SIGTERM, then SIGKILL) ends it.
"""

from __future__ import annotations

import os
import runpy

if __name__ == "__main__":
    os.setsid()
    runpy.run_module("parsl.executors.high_throughput.interchange", run_name="__main__", alter_sys=True)
