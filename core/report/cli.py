"""``hpo-report RUN_DIR [RUN_DIR ...]``: figures and tables of section 3 of Coletti et al. (2023)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from dnnp_hpo.cli import EXIT_BAD_INPUT, OneLineParser, given_path
from dnnp_hpo.errors import printable

from . import Report, ReportError, build_report
from .data import RunData
from .tables import counted

#: --help's first lines: plain text (the module docstring is reStructuredText)
DESCRIPTION = ("The figures and tables of section 3 of Coletti et al. (2023), the NSGA-II study of DeePMD "
               "hyperparameters, for one run, or "
               "several merged; docs/outputs.md describes every file.")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="hpo-report", description=DESCRIPTION)
    parser.add_argument("run_dirs", nargs="+", type=given_path("a run directory"), metavar="RUN_DIR",
                        help="run directories (each holds journal.sqlite); several are merged")
    parser.add_argument("--out", type=given_path("the report directory"),
                        help="report directory (default: RUN_DIR/report; required with several runs)")
    parser.add_argument("--reference", metavar="V1,V2,...",
                        help="hypervolume reference point, one value per objective "
                             "(default: the worst values of successful evaluations plus 10%% of their range); "
                             "a first value below zero needs '=': --reference=-1,-1")
    parser.add_argument("--accuracy", action="append", default=[], metavar="OBJECTIVE=LIMIT",
                        help="chemical-accuracy limit of an objective, instead of the spec's "
                             "report.chemical_accuracy for it (the others keep theirs); repeatable")
    return parser


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ReportError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ReportError(f"{what}: {text!r} is not a finite number")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        reference = None
        if args.reference is not None:
            reference = [_number(v.strip(), "--reference") for v in args.reference.split(",")]
        accuracy = {}
        for item in args.accuracy:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise ReportError(f"--accuracy {item!r}: expected OBJECTIVE=LIMIT")
            if name.strip() in accuracy:  # the last one silently won
                raise ReportError(f"--accuracy {name.strip()} is given twice: expected one limit per objective")
            accuracy[name.strip()] = _number(value.strip(), f"--accuracy {name.strip()}")
        if args.out is None and len(args.run_dirs) > 1:
            raise ReportError("several run directories are merged into one report: say where with --out DIR")
        out = args.out if args.out is not None else args.run_dirs[0] / "report"
        report = build_report(args.run_dirs, out, reference=reference, accuracy=accuracy or None)
    except ReportError as exc:
        print(f"hpo-report: {printable(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if report.hypervolumes is not None and report.hypervolumes.warning:
        print(f"hpo-report: warning: {printable(report.hypervolumes.warning)}", file=sys.stderr)
    print(printable(_closing_line(report)))
    return 0


def _closing_line(report: Report) -> str:
    """What the report found, in one line, and where to read it."""
    a = report.analysis
    if not len(a.finite_values()):
        evaluated = len(a.all_evaluations())
        found = (f"no evaluation succeeded ({'the one' if evaluated == 1 else f'all {evaluated}'} failed: the "
                 "reasons are under Failures in summary.md and in failures.csv)")
    else:
        accurate = (f"{len(report.accurate)} chemically accurate" if a.thresholds
                    else "no chemical-accuracy limits")
        found = f"{counted(len(report.front), 'solution')} on the front, {accurate}"
    unfinished = [_in_progress(r, report.running.get(r.label), len(a.runs) > 1) for r in a.runs if not r.finished]
    return (f"Report of {counted(len(a.runs), 'run')} in {report.out}: {found}; {''.join(f'{u}; ' for u in unfinished)}"
            f"read {report.out / 'summary.md'}")


def _in_progress(run: RunData, running: str | None, several: bool) -> str:
    """That ``run`` is not finished, so the report is of its last recorded generation."""
    what = f"{run.label} is" if several else "the run is"
    return f"{what} not finished (reported up to generation {run.last_generation}{f', {running}' if running else ''})"

