"""Observer plugin: live progress of a run on the terminal.

On a terminal (rich): generation k of n, evaluations done / running / failed in this
generation (steady state: births done of the budget, and done / failed since the last
snapshot), elapsed time and an estimate to the end, and the best value of each
objective on the current non-dominated front.  When stdout is not a terminal (a batch
job's log, also with FORCE_COLOR set) or is a dumb one (TERM=dumb), plain lines instead:
one per generation and one per failed evaluation.
"""

from __future__ import annotations

import atexit
import math
import sys
import time
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from dnnp_hpo.evaluation import INFEASIBLE, Evaluation, Member, Trial, failure_summary
from dnnp_hpo.front import format_value, pareto_front
from dnnp_hpo.hookspecs import Generational, hookimpl
from dnnp_hpo.run import RunContext
from dnnp_hpo.study import HARVESTED

#: seconds: an event redraws the table at once unless it was redrawn less than this ago
#: (the Live redraws it twice a second anyway)
REDRAW_S = 0.1


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts events and shows them; one instance serves one run at a time."""

    def __init__(self) -> None:
        self.live: Live | None = None
        self.redrawn = -math.inf  #: when an event last redrew the table (time.monotonic)

    @hookimpl
    def dnnp_hpo_run_started(self, run: RunContext) -> None:
        self.run = run
        self.start = time.monotonic()
        optimizer = run.experiment.optimizer
        self.planned = optimizer.planned_evaluations()
        # Any other optimizer (steady state: no generation barrier) counts births against
        # the budget instead; its "generations" are snapshots.
        self.steady_state = not isinstance(optimizer, Generational)
        if not self.steady_state:
            self.pop_size, self.generations = max(1, optimizer.pop_size), optimizer.generations + 1
        # Births, not events: a resumed run counts what its journal already holds (so
        # "done" is the run's), and a birth the resumed search sets aside and trains
        # again counts once.  The estimate to the end comes from this session's pace.
        self.births: set[int] = set(run.recorded)
        # The evaluations a line counts (a generation's, or a steady-state run's since the
        # last snapshot), birth -> whether it failed, include those recorded before a
        # resume: the line of a generation resumed halfway said "0 failed in this
        # generation" where the first session had counted 3 (a plugin author's walk).
        # A record the resumed search sets aside leaves them (evaluation_interrupted).
        self.recorded: dict[int, dict[int, bool]] = {}
        for birth, e in run.recorded.items():
            self.recorded.setdefault(e.trial.generation, {})[birth] = not e.ok
        self.running = self.generation = 0
        if self.steady_state:
            # inserted in the order recorded, a snapshot every pop_size: the last ones since
            size = getattr(optimizer, "pop_size", 0)
            since = list(run.recorded.items())[len(run.recorded) - len(run.recorded) % size:] if size else []
            self._count({birth: not e.ok for birth, e in since})
        else:
            self._start_generation(0)
        # This session's evaluations while none of the run's has succeeded (for the warning
        # below): the journal's earlier ones never pass through here.
        self.unsuccessful: list[Evaluation] | None = (
            None if any(e.ok for e in run.recorded.values()) else [])
        # The run's front so far: from this session's results alone, a resumed run showed a
        # worse front than it had until its next generation ended (helper-124: 0.0302
        # eV/atom where the run had 0.0123), hours with long trainings.  A record the
        # resumed search sets aside leaves it (evaluation_interrupted).
        self.front: list[Evaluation] = pareto_front(list(run.recorded.values()))
        self.set_aside: set[int] = set()  #: births whose record the resumed search set aside
        # Births done before this session (set-aside ones leave) and births a resume
        # harvested (trained while no driver ran): done, and no measure of this session's
        # pace, which read "to go ~0:00:02" with two trainings just started.
        self.before = len(run.recorded)
        self.harvested = 0
        self.console = Console(emoji=False)
        # rich's is_terminal is also true with FORCE_COLOR set (a batch log then got the
        # table redrawn twice a second, cursor codes and all, and no plain line), and on a
        # dumb terminal, where Live draws nothing: ask the stream itself.
        if self.console.file.isatty() and not self.console.is_dumb_terminal:
            # Built afresh at each redraw (twice a second), not only at each event: the clock
            # stood still between results, at "elapsed 0:00:00" until the first training
            # of the paper's (minutes to 80 min) returned, which looks like a hang.
            self.live = Live(get_renderable=self._table, console=self.console, refresh_per_second=2,
                             transient=True)
            self.live.start()
            # An interrupted run (Ctrl-C) never reaches run_finished: give the terminal its
            # cursor back on the way out all the same.
            atexit.register(self.dnnp_hpo_run_finished)

    @property
    def done(self) -> int:
        return len(self.births)

    def _count(self, counted: dict[int, bool]) -> None:
        """Count ``counted`` (birth -> failed) in the line from now on.  The driver's thread
        alone touches the mapping; the Live's refresh thread reads the two numbers."""
        self.counted = counted
        self.done_in_generation, self.failed_in_generation = len(counted), sum(counted.values())

    def _counted_in(self, birth: int, failed: bool) -> None:
        """``birth`` finished, ``failed`` or not; a birth trained again counts once."""
        before = self.counted.get(birth)
        self.counted[birth] = failed
        self.done_in_generation += before is None
        self.failed_in_generation += failed - bool(before)

    def _counted_out(self, birth: int) -> None:
        """``birth``'s record was set aside: no longer counted."""
        if birth in self.counted:
            failed = self.counted.pop(birth)
            self.done_in_generation -= 1
            self.failed_in_generation -= failed

    def _what_is_done(self, generation: int) -> str:
        """The start of the plain line printed at the end of ``generation`` (a snapshot)."""
        failed = self.failed_in_generation
        if not self.steady_state:
            return (f"generation {generation} of {self.generations - 1} done: {self.done}/{self.planned} "
                    f"evaluations, {failed} failed in this generation")
        if not getattr(self.run.experiment.optimizer, "pop_size", 0):
            # One generation and no pop_size (replicates): no snapshots to speak of
            # (helper-111 read "(snapshot 0), 0 failed since the last snapshot").
            return f"births {self.done} of {self.planned}, {failed} failed"
        return f"births {self.done} of {self.planned} (snapshot {generation}), {failed} failed since the last snapshot"

    def _table(self) -> Table:
        """The table as it stands; built by the Live's refresh thread at each redraw."""
        table = Table.grid(padding=(0, 2))
        elapsed = time.monotonic() - self.start
        here = self.done - self.before - self.harvested
        eta = elapsed / here * max(0, self.planned - self.done) if here > 0 else float("nan")
        table.add_row(
            f"[bold]births {self.done} of {self.planned}" if self.steady_state
            else f"[bold]generation {self.generation} of {self.generations - 1}",
            f"done {self.done_in_generation}",
            f"running {self.running}",
            f"failed {self.failed_in_generation}",
            f"elapsed {_duration(elapsed)}",
            f"to go ~{_duration(eta)}" if math.isfinite(eta) else "to go ?",
        )
        front = self.front  # once: the hooks replace it meanwhile, in the driver's thread
        if front:
            table.add_row(f"front of {len(front)}", *[escape(best) for best in self._best(": ", front)])
        return table

    def _best(self, sep: str, front: Sequence[Evaluation]) -> list[str]:
        """The best value of each objective on ``front``, in its unit: ``best NAME{sep}VALUE UNIT``."""
        out = []
        for i, objective in enumerate(self.run.experiment.objectives):
            value = format_value(min(e.fitness[i] for e in front))
            out.append(f"best {objective.name}{sep}{value} {objective.unit}".rstrip())
        return out

    def _refresh(self) -> None:
        """Redraw now, so that an event shows at once rather than at the next tick, unless
        the table was redrawn less than :data:`REDRAW_S` ago: then the Live's own tick
        shows it.  Redrawing at every event cost 3.5 of the driver's 6.7 ms per evaluation
        on a terminal (helper-129), the most of any part, with short trainings."""
        now = time.monotonic()
        if self.live is not None and now - self.redrawn >= REDRAW_S:
            self.redrawn = now
            self.live.refresh()

    def _count_in(self, trial: Trial) -> None:
        """Generational: a generation's counts start with its first evaluation, started or
        not (an infeasible candidate is finished without starting).  A steady-state run
        breeds generation g + 1 while generation g still returns: its counts run from one
        snapshot to the next instead (reset in generation_finished)."""
        if trial.generation != self.generation and not self.steady_state:
            self._start_generation(trial.generation)

    def _start_generation(self, generation: int) -> None:
        """Generational: counts from ``generation``'s evaluations the journal held at the
        start (none but in a resumed run)."""
        self.generation = generation
        self._count(dict(self.recorded.get(generation, {})))

    @hookimpl
    def dnnp_hpo_evaluation_started(self, trial: Trial) -> None:
        self._count_in(trial)
        self.running += 1
        self._refresh()

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, evaluation: Evaluation) -> None:
        self._count_in(evaluation.trial)
        self._counted_in(evaluation.trial.birth_id, not evaluation.ok)
        if evaluation.reason.endswith(HARVESTED) and evaluation.trial.birth_id not in self.births:
            self.harvested += 1
        self.births.add(evaluation.trial.birth_id)
        if evaluation.status != INFEASIBLE:  # never started, so never counted running
            self.running = max(0, self.running - 1)
        if not evaluation.ok and self.live is None:
            print(f"birth {evaluation.trial.birth_id} (generation {evaluation.trial.generation}) "
                  f"{evaluation.status}: {evaluation.reason}", flush=True)
        self.front = pareto_front([*self.front, evaluation]) if evaluation.ok else self.front
        if self.unsuccessful is not None:
            self.unsuccessful = None if evaluation.ok else [*self.unsuccessful, evaluation]
        self._refresh()

    @hookimpl
    def dnnp_hpo_generation_finished(self, generation: int, population: Sequence[Member]) -> None:
        self.front = pareto_front([m.evaluation for m in population])
        if not self.steady_state:
            if generation != self.generation:  # each of its evaluations recorded before a resume
                self._start_generation(generation)
            # The generations to come are pop_size each; the ones done are what they were: a
            # resume with --force that changed pop_size bred the earlier ones at another size
            # (until the first generation of such a resume ends, the total is the new size's).
            self.planned = self.done + (self.generations - 1 - generation) * self.pop_size
        if self.unsuccessful and self.done < self.planned:
            # Every training failing is most often a mistake in the setup (a data path, the
            # command, a metric's column), which no search recovers from.  The run goes on,
            # as the paper's failure policy says, but the user should know now, not hours on.
            # Not after the last generation: nothing goes on, and hpo-run's last line says it.
            print(f"hpo-run: warning: no evaluation has succeeded yet ({failure_summary(self.unsuccessful)}); "
                  "the search goes on, but if the setup is wrong stop it (Ctrl-C), fix the spec and "
                  "start again in a new run_dir", file=sys.stderr, flush=True)
            self.unsuccessful = None  # once
        if self.live is None:
            best = ", ".join(self._best(" ", self.front)) if self.front else "no successful evaluation yet"
            what = self._what_is_done(generation)
            print(f"{what}, elapsed {_duration(time.monotonic() - self.start)}; front of {len(self.front)}: {best}",
                  file=sys.stdout, flush=True)
        if self.steady_state:
            self._count({})
        self._refresh()

    @hookimpl
    def dnnp_hpo_evaluation_interrupted(self, trial: Trial, rerun: Trial) -> None:
        """A record the resumed search sets aside (bred differently, --force) is no longer
        done nor counted: its birth is trained again as ``rerun`` and counted then."""
        record = self.run.recorded.get(trial.birth_id)
        if record is None or record.trial.uuid != trial.uuid:  # running at the stop: never counted
            return
        self.births.discard(trial.birth_id)
        self.before -= 1
        self.recorded.get(record.trial.generation, {}).pop(trial.birth_id, None)
        self._counted_out(trial.birth_id)
        self.set_aside.add(trial.birth_id)
        if any(e is record for e in self.front):  # no longer the run's: what it hid shows again
            # (this session's results that it hid are not kept: evaluations are not held
            # here, the driver's memory stays flat, and set-asides come at a resume's start)
            kept = [e for b, e in self.run.recorded.items() if b not in self.set_aside]
            self.front = pareto_front([*(e for e in self.front if e is not record), *kept])
        self._refresh()

    @hookimpl
    def dnnp_hpo_run_finished(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
            atexit.unregister(self.dnnp_hpo_run_finished)


#: the instance the entry point registers
observer = Progress()
