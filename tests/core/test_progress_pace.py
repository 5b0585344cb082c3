"""The live table's estimate to the end, from this session's pace: births a resume
harvested (trained while no driver ran, recorded at once) are done but no measure of it.

The progress observer is driven as the Study drives it, over a run prepared from a real
spec; its table is rendered as the terminal would show it."""

from __future__ import annotations

import io
import itertools
import re
import time

import attrs
from hpo_testutil import write_spec, zdt_spec
from rich.console import Console
from rich.live import Live

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.evaluation import OK, Evaluation, Trial
from dnnp_hpo.plugins.progress import REDRAW_S, Progress
from dnnp_hpo.registry import load_registry
from dnnp_hpo.study import HARVESTED


def _shown(progress: Progress) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(progress._table())
    return console.file.getvalue()


def _finished(run, birth: int, reason: str = "", fitness: tuple[float, float] = (0.5, 1.0),
              uuid: str = "") -> Evaluation:
    uuid = uuid or f"u{birth}"
    trial = Trial(uuid=uuid, birth_id=birth, generation=0, genome=(0.5,) * 4,
                  params={f"x{i}": 0.5 for i in range(4)}, seed=birth, workdir=run.evals_dir / uuid)
    now = time.time()
    return Evaluation(trial=trial, status=OK, reason=reason, fitness=fitness, metrics={}, start=now - 20,
                      stop=now, hostname="here", pid=1)


def _prepared(tmp_path):
    return prepare_run(write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1)),
                       load_registry())[0]


def test_harvested_births_are_done_but_set_no_pace(tmp_path) -> None:
    """Two births harvested at a resume's start, two trainings just sent: the table said
    "to go ~0:00:02" (helper-124), the pace of two births done in no time."""
    run = _prepared(tmp_path)
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


def test_a_record_the_resume_sets_aside_leaves_the_front_and_the_pace(tmp_path) -> None:
    """The front a resumed session starts from is the run's recorded one; a record the
    resumed search sets aside (bred differently: other workers, --force) is no longer the
    run's, and its birth trained again is (helper-126: the set-aside 0.001 stayed shown
    as the best until the next generation ended).  Nor is it done before this session:
    the first birth trained gives the pace."""
    run = _prepared(tmp_path)
    recorded = {0: _finished(run, 0, fitness=(0.001, 0.001)), 1: _finished(run, 1, fitness=(0.9, 0.9))}
    run = attrs.evolve(run, recorded=recorded)
    progress = Progress()
    progress.dnnp_hpo_run_started(run)
    try:
        assert "best f1: 0.001  best f2: 0.001" in _shown(progress)  # from the first moment
        again = _finished(run, 0, fitness=(0.5, 0.9), uuid="again")
        progress.dnnp_hpo_evaluation_interrupted(recorded[0].trial, again.trial)
        shown = _shown(progress)
        assert "front of 1" in shown and "best f1: 0.9  best f2: 0.9" in shown, shown
        time.sleep(0.2)
        progress.dnnp_hpo_evaluation_finished(again)
        shown = _shown(progress)
        assert "done 2" in shown and "best f1: 0.5  best f2: 0.9" in shown, shown
        assert "to go ~" in shown, shown  # one birth trained in this session: a pace
    finally:
        progress.dnnp_hpo_run_finished()


def test_a_burst_of_results_redraws_the_table_a_few_times_not_at_each(tmp_path) -> None:
    """Each event redrew the whole table at once: 3.5 of the driver's 6.7 ms per
    evaluation on a terminal (helper-129).  An event still shows at once, unless the
    table was redrawn less than REDRAW_S ago (then the Live's tick shows it)."""
    run = _prepared(tmp_path)
    progress = Progress()
    progress.dnnp_hpo_run_started(run)  # not a terminal here: no Live of its own
    redraws: list[float] = []

    class Counted(Live):
        def refresh(self) -> None:
            redraws.append(time.monotonic())
            super().refresh()

    terminal = Console(file=io.StringIO(), force_terminal=True, width=200)
    progress.live = Counted(get_renderable=progress._table, console=terminal, auto_refresh=False)
    progress.live.start()
    try:
        progress.dnnp_hpo_evaluation_finished(_finished(run, 0))
        assert len(redraws) == 1  # the first result shows at once
        start = time.monotonic()
        for birth in range(1, 500):
            progress.dnnp_hpo_evaluation_finished(_finished(run, birth))
        elapsed = time.monotonic() - start
        assert len(redraws) <= 2 + elapsed / REDRAW_S, (len(redraws), elapsed)
        assert all(b - a >= REDRAW_S for a, b in itertools.pairwise(redraws))
        time.sleep(REDRAW_S)
        before = len(redraws)
        progress.dnnp_hpo_evaluation_started(_finished(run, 500).trial)
        assert len(redraws) == before + 1  # a quiet table shows the next event at once
    finally:
        progress.dnnp_hpo_run_finished()
