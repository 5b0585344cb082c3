"""What the launchers tell the user: one line on stderr and in RUN_DIR/launcher.log
(the launchers' notices, and why an engine could not be started or was lost).

Batch jobs keep stderr in the job's output file; launcher.log keeps the same lines next
to the run's records (how long the workers took to appear, where the engine is).
"""

from __future__ import annotations

import sys
import time

from dnnp_hpo.run import RunContext

LOG_NAME = "launcher.log"


def notice(run: RunContext, message: str) -> None:
    """Print ``message`` to stderr and append it, time-stamped, to launcher.log."""
    print(f"hpo-run: {message}", file=sys.stderr, flush=True)
    try:
        # Not made here: a run directory the run lock took away again (its first write
        # refused) held only launcher.log, "not a dnnp-hpo run" to the resume exit 3 asks for.
        with open(run.run_dir / LOG_NAME, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
    except OSError:  # the log is a convenience: never stop a run for it
        pass
