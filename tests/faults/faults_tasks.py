"""Tasks that the tests hand to Dask workers started with subprocess_env (this directory on
their PYTHONPATH): the standard library and dnnp_hpo only, so a worker imports it alone."""

from __future__ import annotations

import sys
from pathlib import Path

from dnnp_hpo.process import run_command


def sleeping_training(workdir: str) -> None:
    """A training (a 60 s sleep) run in ``workdir`` as hpo-run runs one, through
    run_command; a second attempt first moves the first one's directory aside."""
    directory = Path(workdir)
    if directory.exists():
        attempts = len(list(directory.parent.glob(f"{directory.name}.attempt-*")))
        directory.rename(directory.parent / f"{directory.name}.attempt-{attempts + 1}")
    directory.mkdir(parents=True)
    run_command([sys.executable, "-c", "import time; time.sleep(60)"], directory,
                stdout=directory / "out", stderr=directory / "err")
