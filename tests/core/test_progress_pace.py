"""The live table's estimate to the end, from this session's pace: births a resume
harvested (trained while no driver ran, recorded at once) are done but no measure of it.

The progress observer is driven as the Study drives it, over a run prepared from a real
spec; its table is rendered as the terminal would show it."""

from __future__ import annotations

import io
import re
import time

from hpo_testutil import write_spec, zdt_spec
from rich.console import Console

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.evaluation import OK, Evaluation, Trial
from dnnp_hpo.plugins.progress import Progress
from dnnp_hpo.registry import load_registry
from dnnp_hpo.study import HARVESTED


def _shown(progress: Progress) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(progress._table())
    return console.file.getvalue()


def _finished(run, birth: int, reason: str = "") -> Evaluation:
    trial = Trial(uuid=f"u{birth}", birth_id=birth, generation=0, genome=(0.5,) * 4,
                  params={f"x{i}": 0.5 for i in range(4)}, seed=birth, workdir=run.evals_dir / f"u{birth}")
    now = time.time()
    return Evaluation(trial=trial, status=OK, reason=reason, fitness=(0.5, 1.0), metrics={}, start=now - 20,
                      stop=now, hostname="here", pid=1)


def test_harvested_births_are_done_but_set_no_pace(tmp_path) -> None:
    """Two births harvested at a resume's start, two trainings just sent: the table said
    "to go ~0:00:02" (helper-124), the pace of two births done in no time."""
    run, _ = prepare_run(write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1)),
                         load_registry())
    progress = Progress()
    progress.dnnp_hpo_run_started(run)
    try:
        for birth in (0, 1):
            progress.dnnp_hpo_evaluation_finished(_finished(run, birth, HARVESTED))
        shown = _shown(progress)
        assert "done 2" in shown and "to go ?" in shown, shown
        time.sleep(0.2)
        progress.dnnp_hpo_evaluation_finished(_finished(run, 2))  # trained in this session
        shown = _shown(progress)
        # one birth in at least 0.2 s, 5 to go: a second or more, where the two harvested
        # ones made it a third of that
        to_go = re.search(r"to go ~(\d+):(\d\d):(\d\d)", shown)
        assert "done 3" in shown and to_go, shown
        assert int(to_go[1]) * 3600 + int(to_go[2]) * 60 + int(to_go[3]) >= 1, shown
    finally:
        progress.dnnp_hpo_run_finished()
