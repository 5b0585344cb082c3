"""``hpo-report``: section 3 of the seed paper (Figures 1-3, Tables 2-3) for any run(s).

:func:`build_report` loads one or more run directories (:mod:`.data`), computes the
tables (:mod:`.tables`, :mod:`.hypervolume`), draws the figures (:mod:`.plots`) and
writes ``summary.md`` with the CSV files (:mod:`.summary`).  docs/outputs.md describes
every file.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np

from dnnp_hpo.entry import stops_deferred
from dnnp_hpo.journal import FILENAME as JOURNAL_FILE

from . import plots, summary, tables
from .data import Analysis, ReportError, analyse, writing

__all__ = ["Report", "ReportError", "build_report"]


@attrs.frozen
class Report:
    out: Path
    files: list[Path]
    analysis: Analysis
    front: list
    accurate: list
    picks: list
    #: run label -> its evaluations sent out and not finished, in words (tables.running), for
    #: each unfinished run (None: none, or unknown)
    running: dict[str, str | None] = attrs.field(factory=dict)
    hypervolumes: tables.Hypervolumes | None = None


#: the files a report writes (figures in every format, the tables and summary.md): a
#: directory holding only these, with our summary.md, is an earlier report to write over
REPORT_FILES = frozenset(
    [f"{stem}.{fmt}" for stem in ("front", "generations", "parallel", "failures", "hypervolume")
     for fmt in plots.FORMATS]
    + [f"{table}.csv" for table in ("final", "front", "accurate", "selected", "hypervolume", "failures", "repeated")]
    + ["summary.md"])


#: files a desktop leaves in any folder it shows
OS_LITTER = frozenset({"Thumbs.db", "desktop.ini"})


def check_out(out: Path, runs: Sequence[Path] = ()) -> None:
    """ReportError unless ``out`` is new, empty, or an earlier report: ``--out`` on a folder
    of the user's overwrote its summary.md, and on a run directory wrote 18 files into it.
    In a run directory only its ``report``: a directory named ``journal.sqlite-wal`` made
    the run unreadable to hpo-run, hpo-report and sqlite3 (helper-120), and any other name
    there is one of the run's records to be, or a user's file beside them; and only of a
    run among ``runs`` (those reported): another run's report was replaced by this one,
    a folder named for one run describing another (helper-127)."""
    # Where it writes: through a symbolic link, and with any .. taken (runs/a/x/../report is
    # runs/a/report, and a link to a run's report/ is that report/; helper-130)
    try:
        where = out.resolve()
    except (OSError, RuntimeError):  # a link that loops ("Symlink loop"): _stage's mkdir says so
        where = out.absolute()
    parent = where.parent
    if (parent / JOURNAL_FILE).exists() and where.name != "report":
        raise ReportError(f"{out}: inside the run directory {parent}, where only its report/ is hpo-report's: give "
                          f"{parent / 'report'} (the default) or a directory elsewhere")
    if (parent / JOURNAL_FILE).exists() and runs and not any(_same(parent, run) for run in runs):
        raise ReportError(f"{out}: the report of the run in {parent}, which is not reported here: give the report "
                          "of a run reported (the default) or a directory elsewhere")
    if not out.is_dir():
        return  # new (made by build_report), or not a directory (mkdir says so)
    # Hidden files (.DS_Store, an editor's swap file, .ipynb_checkpoints) and the desktop's
    # own are anyone's: neither ours nor the user's work.
    entries = sorted(p.name for p in out.iterdir() if not p.name.startswith(".") and p.name not in OS_LITTER)
    foreign = [name for name in entries if name not in REPORT_FILES or not (out / name).is_file()]
    try:  # a report stopped half-way wrote its figures, not yet summary.md (written last)
        ours = (out / "summary.md").read_text(encoding="utf-8").startswith(summary.HEADER)
    except FileNotFoundError:
        ours = True
    except (OSError, UnicodeDecodeError):
        ours = False
    if foreign or not ours:
        what = f"holds {foreign[0]!r}, which" if foreign else "holds a summary.md that"
        raise ReportError(f"{out}: {what} no report of hpo-report writes: expected a new or empty "
                          "directory, or an earlier report to replace; choose another --out")


#: the largest hypervolume the report shows: its plot's axis needs room above it (volumes
#: of 1e308, below a float's largest, failed in matplotlib's ticks: a traceback and exit 4,
#: helper-120)
MAX_VOLUME = 1e300


def _check_box(values: np.ndarray, reference: Sequence[float]) -> None:
    """ReportError for a reference so far out that the hypervolume would overflow a float
    (--reference 1e308,1e308 gave numpy's RuntimeWarning and a table of inf), or come so
    near it that the hypervolume plot cannot be drawn (MAX_VOLUME)."""
    if len(values) == 0:
        return
    with np.errstate(over="ignore"):
        box = float(np.prod(np.abs(np.asarray(reference, dtype=float) - values.min(axis=0))))
    if not box <= MAX_VOLUME:  # inf too
        raise ReportError(f"--reference: the box from the best values to {', '.join(f'{v:g}' for v in reference)} "
                          f"has a volume larger than the report shows ({MAX_VOLUME:g}): give a reference nearer "
                          "to the front")


def build_report(run_dirs: Sequence[Path | str], out: Path | str, *,
                 reference: Sequence[float] | None = None,
                 accuracy: Mapping[str, float] | None = None) -> Report:
    """Write the report of ``run_dirs`` (merged) into ``out``; ReportError for bad input."""
    analysis = analyse(run_dirs, accuracy)
    if reference is not None and len(reference) != len(analysis.objectives):
        raise ReportError(f"--reference: expected {len(analysis.objectives)} values (one per objective: "
                          f"{', '.join(analysis.names)}), got {len(reference)}")
    if reference is not None:
        _check_box(analysis.finite_values(), reference)
    out = Path(out)
    check_out(out, [run.path for run in analysis.runs])
    stage = None
    try:
        with stops_deferred():  # made and noted at once: a stop between left it behind
            stage = _stage(out)
        report = _write(analysis, stage or out, reference)
    except BaseException as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, ReportError):  # named where the user looks
                raise ReportError(str(exc).replace(str(stage), str(out))) from None
        raise
    if stage is not None:
        with stops_deferred():  # the earlier report or the new one in place, never neither
            _put_in_place(stage, out)
    return attrs.evolve(report, out=out, files=[out / f.name for f in report.files])


def _same(a: Path, b: Path) -> bool:
    """Whether two paths are one directory (by its inode: through links and mounts too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _stage(out: Path) -> Path | None:
    """A new directory beside ``out`` to write the report in, put in its place once whole:
    a report stopped half-way (Ctrl-C, a full disk) over an earlier one left a folder of
    both, one run's figures beside the other's tables (helper-120).  None where the report
    is written in ``out`` itself: a symbolic link (kept as the user made it), or a
    directory whose parent cannot be written in (a read-only run with a writable report/)."""
    try:
        if out.exists() and not out.is_dir():
            raise FileExistsError
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_symlink():
            if not out.exists():  # "front.png: cannot write the report (No such file or directory)"
                target = os.path.normpath(out.parent / os.readlink(out))  # a relative one: from the link's folder
                raise ReportError(f"{out}: a symbolic link to {target}, which does not exist: make that "
                                  "directory or choose another --out")
            return None
        try:
            return _new_beside(out, "part")
        except OSError:
            if not out.is_dir():
                raise
            return None
    except OSError as exc:
        why = "it is a file" if isinstance(exc, FileExistsError) and out.is_file() else exc.strerror or exc
        raise ReportError(f"{out}: cannot create the report directory ({why}): choose another --out") from None


def _new_beside(out: Path, what: str) -> Path:
    """A new hidden directory beside ``out``, with the modes a directory made there gets
    (not tempfile's 0700: the report is read by the user's group too)."""
    while True:
        path = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.{what}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _put_in_place(stage: Path, out: Path) -> None:
    """Replace ``out`` (an earlier report, or nothing) by the whole report in ``stage``;
    what else ``out`` held (hidden files, a desktop's litter: check_out let them be) moves
    along into the new one."""
    if not out.exists():
        stage.rename(out)
        return
    for entry in out.iterdir():
        if entry.name not in REPORT_FILES:
            entry.rename(stage / entry.name)
    earlier = _new_beside(out, "old")
    out.rename(earlier / out.name)
    stage.rename(out)
    shutil.rmtree(earlier, ignore_errors=True)


def _write(analysis: Analysis, out: Path, reference: Sequence[float] | None) -> Report:
    """The report written into the directory ``out``."""
    final = analysis.final()
    front = tables.front(final)
    accurate = tables.accurate_solutions(analysis, final)
    picks = tables.selection(analysis, accurate)
    hv = tables.hypervolumes(analysis, reference)
    failures = tables.failures(analysis)
    again = tables.repeated(analysis)
    running = {r.label: tables.running(r) for r in analysis.runs if not r.finished}
    captions = {
        "front": plots.plot_front(analysis, final, front, out)[0],
        "generations": plots.plot_generations(analysis, out)[0],
        "parallel": plots.plot_parallel(analysis, final, front, out)[0],
        "failures": plots.plot_failures(failures, out)[0],
    }
    if hv is not None:
        captions["hypervolume"] = plots.plot_hypervolume(hv, out, [o.unit for o in analysis.objectives],
                                                         analysis.snapshot_note())[0]
    else:  # not this report's: a figure left in a reused --out by an earlier report would mislead
        for fmt in plots.FORMATS:
            with writing(out / f"hypervolume.{fmt}"):
                (out / f"hypervolume.{fmt}").unlink(missing_ok=True)
    files = [out / f"{stem}.{fmt}" for stem in captions for fmt in plots.FORMATS]
    files += summary.write(out, analysis, final=final, front=front, accurate=accurate, picks=picks, hv=hv,
                           failures=failures, again=again, captions=captions, running=running)
    return Report(out, files, analysis, front, accurate, picks, running, hv)
