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
        run.run_dir.mkdir(parents=True, exist_ok=True)
        with open(run.run_dir / LOG_NAME, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
    except OSError:  # the log is a convenience: never stop a run for it
        pass
