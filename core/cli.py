"""``hpo-run``: run a hyperparameter search described by one YAML spec."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dnnp_hpo import __version__
from dnnp_hpo.constraints import violated
from dnnp_hpo.driver import check_data, dry_run_trials, execute, prepare_run
from dnnp_hpo.entry import OutputLost, output_dropped
from dnnp_hpo.errors import LaunchFailed, PluginError, SpecError
from dnnp_hpo.evaluation import Evaluation, Member, failure_summary
from dnnp_hpo.front import (
    accuracy_limits,
    beside_limit,
    chemically_accurate,
    limits_text,
    pareto_front,
)
from dnnp_hpo.hookspecs import Trainer
from dnnp_hpo.notice import notice
from dnnp_hpo.registry import KINDS, Registry, kind_name, load_registry
from dnnp_hpo.resume import check_run_dir, journal_holdings
from dnnp_hpo.run import RunContext
from dnnp_hpo.runlock import RunLock, check_free
from dnnp_hpo.terminal import trials_tables

EXIT_NOTHING_SUCCEEDED = 1  #: the search ran to its end and no evaluation succeeded
EXIT_BAD_INPUT = 2
EXIT_LAUNCH_FAILED = 3


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes as one line and exit 2, like every other bad input; ``--version``
    for every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=f"%(prog)s (dnnp-hpo {__version__})",
                          help="show the version of dnnp-hpo and exit")

    def error(self, message: str) -> None:  # one line, not usage plus error
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="hpo-run", description=__doc__)
    parser.add_argument("spec", nargs="?", type=_spec_path, help="experiment spec (YAML)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything, print the decoded first generation, run nothing")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a spec value (value read as YAML; a number in the path indexes a list); repeatable")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in run_dir (the same command without it resumes too)")
    parser.add_argument("--force", action="store_true",
                        help="resume even though the spec differs from the one the run started with")
    parser.add_argument("--list-plugins", action="store_true",
                        help="list registered trainers, launchers, optimizers and parameter types (alone: no spec, no other option)")
    return parser


#: Width of hpo-run's output where no terminal sets one: wide enough for a table's natural width
LOG_WIDTH = 500


def output_console() -> Console:
    """The console hpo-run prints on.

    In a batch job's log or a pipe rich would assume 80 columns and fold every value of
    a wide table over several lines; there is no screen to fit, so print at the
    table's natural width instead (COLUMNS, when set, still wins).
    """
    # markup=False, emoji=False: what is printed holds the user's text (a run_dir, a choice, an objective
    # name), in which rich read "[/x]" as a closing tag: a MarkupError, exit 4, at the end
    # of a finished run.
    console = Console(markup=False, emoji=False)  # nor ':smile:' as an emoji
    # The stream itself, not rich's is_terminal, which FORCE_COLOR (set by many CI and
    # batch set-ups) makes true: a log then got the front cut into two 80-column tables.
    if not console.file.isatty() and "COLUMNS" not in os.environ:
        console = Console(width=LOG_WIDTH, markup=False, emoji=False)
    return console


def list_plugins(registry: Registry, console: Console) -> None:
    table = Table(title="dnnp-hpo plugins")
    for column in ("kind", "name", "distribution"):
        table.add_column(column)
    for kind in KINDS:
        for name, registered in sorted(registry.components[kind].items()):
            table.add_row(kind_name(kind), name, registered.distribution)
    console.print(table)


def front_tables(run: RunContext, evaluations: Sequence[Evaluation], console: Console) -> list[Table]:
    """The final Pareto front: hyperparameters, objectives (with units), the other recorded
    metrics, accuracy; in two tables where one does not fit the console
    (:func:`.terminal.trials_tables`)."""
    objectives = run.experiment.objectives
    named = [(o.name, o.unit) for o in objectives]
    # the spec's limits, else the paper's for the objectives' units: as hpo-report judges
    thresholds = accuracy_limits(named, run.experiment.report.chemical_accuracy)
    # Units and second words on a line of their own: the table has a column per
    # hyperparameter, and narrower headers let it fit a terminal more often.
    extra = [f"{o.name}\n({o.unit})" if o.unit else o.name for o in objectives]
    has_runtime = any("runtime" in e.metrics for e in evaluations) and "runtime" not in run.objective_names
    if has_runtime:
        extra.append("runtime\n(s)")
    front = pareto_front(evaluations)
    # the other metrics the trainer recorded (DeePMD's sel_shortfall: a model whose
    # neighbour lists were cut), as hpo-report's tables have them; blank where none
    recorded = sorted({k for e in front for k in e.metrics} - {*run.objective_names, "runtime"})
    extra += [f"{name} (metric)" if name in run.space.names else name for name in recorded]
    if thresholds:
        extra.append("chemically\naccurate")
    rows = []
    for i, e in enumerate(front, 1):
        # as many digits as put a value on its side of its limit: 0.0040004 read "0.004"
        # beside "no" (summary.md had this already)
        row: list[object] = [i, *e.trial.params.values(),
                             *(beside_limit(v, thresholds.get(name)) for v, name in zip(e.fitness, run.objective_names))]
        if has_runtime:
            row.append(e.metrics.get("runtime", float("nan")))
        row += [e.metrics.get(name, "") for name in recorded]
        if thresholds:
            row.append("yes" if chemically_accurate(e, run.objective_names, thresholds) else "no")
        rows.append(row)
    caption = f"chemically accurate: {limits_text(named, thresholds)}" if thresholds else None
    return trials_tables(console, "Pareto front of the final population", run.space.names, rows, extra=extra,
                         extra_title="results", caption=caption)


@contextlib.contextmanager
def _warnings_held_until_valid() -> Iterator[None]:
    """What the checks write on stderr (their warnings), held until every check has passed:
    a refused spec is one line, its warnings wait for the corrected one (the paper spec's
    two data-path warnings came before any error, three lines; helper-110).  Anything but
    a refusal lets them out first: they may tell what went wrong."""
    held = _HeldStderr(sys.stderr)
    try:
        with contextlib.redirect_stderr(held):
            yield
    except SpecError:
        raise
    except BaseException:
        sys.stderr.write(held.getvalue())
        raise
    finally:
        _unbind_logging(held, sys.stderr)
    sys.stderr.write(held.getvalue())


class _HeldStderr(io.StringIO):
    """The hold's buffer, which is stderr in all but where text goes: a trainer module at
    import may ask stderr for its file descriptor (faulthandler.enable()), its encoding,
    its binary buffer or to be reconfigured, and a plain StringIO stopped hpo-run there
    (helper-113, helper-114).  What goes through those is not held."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "errors", None) or "strict"

    @property
    def buffer(self) -> Any:
        return self._stream.buffer

    def reconfigure(self, **settings: Any) -> None:
        reconfigure = getattr(self._stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(**settings)


def _unbind_logging(held: io.StringIO, stream: Any) -> None:
    """A logging handler made while stderr was held (a function trainer's module calling
    logging.basicConfig() at import) writes to ``stream`` instead: it had kept the hold's
    buffer, and every later log line of the run was lost (helper-112)."""
    import logging

    # The registry's values, not getLogger(name): that turns a PlaceHolder into a Logger,
    # which a library's setLoggerClass() would then not make (helper-113).
    loggers = [logging.root, *(logger for logger in list(logging.root.manager.loggerDict.values())
                               if isinstance(logger, logging.Logger))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and handler.stream is held:
                handler.setStream(stream)


def given_path(expected: str) -> Callable[[str], Path]:
    """An argument's type: a path, not an empty one.  Path("") is ".": `hpo-run "$SPEC"`
    with SPEC unset said ".: cannot read it: a directory, not a file" (helper-110), and
    `hpo-report --out "$DIR"` looked at the current directory (helper-120)."""
    def path(text: str) -> Path:
        if not text:
            raise argparse.ArgumentTypeError(f"an empty path: give {expected}")
        return Path(text)
    return path


_spec_path = given_path("the experiment spec (YAML)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    others = [what for what, given in (("a spec", args.spec is not None), ("--dry-run", args.dry_run),
                                       ("--set", args.overrides), ("--resume", args.resume), ("--force", args.force))
              if given]
    if args.list_plugins and others:
        # They were ignored and the listing exited 0: `hpo-run --list-plugins spec.yaml` read as
        # a spec checked and passed.
        parser.error(f"--list-plugins takes no spec and no other option (got {', '.join(others)}): it lists the "
                     "plugins and checks nothing; run it alone")
    console = output_console()
    try:
        registry = load_registry()
    except PluginError as exc:
        print(f"hpo-run: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.list_plugins:
        list_plugins(registry, console)
        return 0
    if args.spec is None:
        print("hpo-run: give an experiment spec (YAML), or --list-plugins", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with _warnings_held_until_valid():
            run, trainer = prepare_run(args.spec, registry, args.overrides, dry_run=args.dry_run)
            # The run directory is checked as the run would check it: a dry run that passes
            # is a run that starts.
            run = check_run_dir(run, resume=args.resume, force=args.force)  # writes nothing
            if args.dry_run and not run.finished:
                check_free(run.run_dir, str(run.spec_path))  # writes nothing either
            elif not run.finished:
                check_data(run)
        if args.dry_run:
            trials = dry_run_trials(run, trainer)
            constraints = run.experiment.constraints
            broken = {t.birth_id: violated(constraints, t.params) for t in trials}
            # Which candidates the constraints set aside (recorded infeasible, never trained):
            # shown unmarked, with one of them rendered as "the first candidate", the table
            # read as if all would train.
            rows = [[t.birth_id, *t.params.values(), *(["; ".join(broken[t.birth_id]) or "-"] if constraints else [])]
                    for t in trials]
            # A run there may have trained it already (the count ends the output): "not
            # evaluated" read as if nothing had been (helper-100).  Not "as the run drew
            # it": a --force with another seed draws another generation 0 here.
            title = "Generation 0 (decoded)" if run.resumed else "Generation 0 (decoded, not evaluated)"
            console.print(*trials_tables(console, title, run.space.names, rows,
                                         extra=["breaks"] if constraints else [], extra_title="constraints"))
            infeasible = sum(1 for t in trials if broken[t.birth_id])
            if infeasible:
                console.print(f"{infeasible} of {len(trials)} break a constraint: recorded infeasible (MAXINT "
                              "fitness), not trained")
            for label, component in (("Optimizer", run.experiment.optimizer), ("Launcher", run.experiment.launcher)):
                describe = getattr(component, "describe", None)  # optional in their contracts
                if describe is not None and not run.finished:  # a finished run is only read
                    # before the input, which scripts read up to "The spec is valid"
                    console.print(f"{label}: {describe(run)}", highlight=False)
            shown = next((t for t in trials if not broken[t.birth_id]), trials[0])
            rendered = trainer.render(shown)
            if rendered is not None:
                console.print("Input of the first candidate:" if shown is trials[0]
                              else f"Input of the first feasible candidate (#{shown.birth_id}):")
                console.print(rendered, highlight=False, soft_wrap=True)
            what = ("the run there is finished: it would only print its front" if run.finished
                    else "the finished run there would be extended" if run.extends
                    else "the run would resume there" if run.resumed else "the run would write there")
            if run.resumed and not run.finished:
                held = journal_holdings(run.run_dir)
                what += (f" ({held.finished} evaluation{'s' * (held.finished != 1)} recorded, which "
                         f"{'are' if held.finished != 1 else 'is'} not trained again)")
            console.print(f"The spec is valid; {run.run_dir}: {what}")
            return 0
        with contextlib.ExitStack() as held:
            if not run.finished:  # a finished run is only read
                held.enter_context(RunLock(run.run_dir, str(run.spec_path)))
                # Again, now that no other driver can start it: one may have since we looked.
                run = check_run_dir(run, resume=args.resume, force=args.force)
            try:
                population = run_search(run, trainer, registry, console)
            except OutputLost as lost:
                if not run.finished:  # as when the run's records cannot be written
                    lost.status = EXIT_LAUNCH_FAILED
                    lost.after = ": the run stopped; once it can write, the same command resumes it"
                raise
    except SpecError as exc:
        print(f"hpo-run: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LaunchFailed as exc:
        # Also beside the run's records: a batch job's stderr may be long gone when a user
        # looks at the run directory to see why it stopped.
        notice(run, f"{exc.headline}: {exc}")
        return EXIT_LAUNCH_FAILED
    failures = sum(1 for m in population if not m.evaluation.ok)
    try:
        console.print(*front_tables(run, [m.evaluation for m in population], console))
        console.print(f"Run directory: {run.run_dir} ({failures} failed in the final population)")
    except OutputLost as lost:  # the run is whole: its status is still the run's
        output_dropped()
        with contextlib.suppress(OSError):
            print(f"hpo-run: warning: cannot write to stdout ({lost.error.strerror or lost.error}): the front "
                  f"table is lost; hpo-report {run.run_dir} shows the front", file=sys.stderr)
    if population and failures == len(population):
        # A success would have stayed in the population (it dominates every failure's
        # MAXINT fitness): nothing succeeded, so there is no result.  Say so in the status
        # too, for the script that runs hpo-report next.
        summary = failure_summary([m.evaluation for m in population])
        print(f"hpo-run: no evaluation succeeded (final population: {summary}); see "
              f"{run.run_dir / 'individuals.csv'}, fix the setup and run again in a new run_dir",
              file=sys.stderr)
        return EXIT_NOTHING_SUCCEEDED
    return 0


def run_search(run: RunContext, trainer: Trainer, registry: Registry, console: Console) -> list[Member]:
    """Say what is about to happen, then run (or resume, or only read) the search."""
    if run.finished:
        console.print(f"The run in {run.run_dir} is finished; the front of its final population:")
    elif run.resumed:
        console.print(f"Extending the finished run in {run.run_dir} with the larger budget" if run.extends
                      else f"Resuming the run in {run.run_dir}")
        if run.moved:
            console.print(f"  where it runs changed ({', '.join(run.moved)}), not what it searches")
    return execute(run, trainer, registry)


def entry_point() -> None:
    """The console script of installs made before core/entry.py (2026-12-05), whose
    ``bin/hpo-run`` still imports this: ``pip install -e .`` again makes the new one."""
    from dnnp_hpo.entry import hpo_run

    hpo_run()
