"""The report on disk: ``summary.md`` and the CSV tables behind it."""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dnnp_hpo.evaluation import Evaluation, alike, failure_summary
from dnnp_hpo.front import beside_limit, said_limits

from .data import Analysis, RunData, Solution, runtime_unit, writing
from .tables import FailureCounts, Hypervolumes, Repeated, counted, volume_unit, with_unit

HEADER = "# dnnp-hpo report"  #: summary.md's first line: how --out knows an earlier report
MAX_MD_ROWS = 30  #: longer tables are cut in summary.md (the CSV files hold every row)


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: ""}[value]
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], limit: int | None = MAX_MD_ROWS) -> str:
    lines = ["| " + " | ".join(fmt(h) for h in header) + " |", "|" + "---|" * len(header)]
    shown = rows if limit is None else rows[:limit]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in shown]
    if limit is not None and len(rows) > limit:
        lines.append(f"\n({len(rows) - limit} more rows in the CSV file)")
    return "\n".join(lines)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    def cell(v: Any) -> Any:
        return repr(v) if isinstance(v, float) else ("" if v is None else v)

    with writing(path), open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[cell(v) for v in row] for row in rows])


def _runtime_head(analysis: Analysis, unit: str = "s") -> list[str]:
    """The runtime column after the objectives, unless it is one of them."""
    return [f"runtime ({unit})"] if analysis.runtime_apart else []


def _runtime_cell(analysis: Analysis, s: Solution, seconds: float = 1.0) -> list[float]:
    return [s.runtime / seconds] if analysis.runtime_apart else []


#: the solution tables' own columns, before and after the objectives' (and runtime's, and
#: the other recorded metrics'); the parameters' come last
SOLUTION_HEAD = ("run", "uuid", "generation")
SOLUTION_TAIL = ("on_front", "chemically_accurate")


def _recorded_head(analysis: Analysis) -> list[str]:
    """The other recorded metrics' columns; ``rcut (metric)`` where a metric's name is
    another column's (a parameter's, ``uuid``): a CSV reader by name took the last of two
    ``uuid`` columns, the metric (helper-95)."""
    taken = {*SOLUTION_HEAD, *SOLUTION_TAIL, *(o.label for o in analysis.objectives), *(p.name for p in analysis.parameters),
             *_runtime_head(analysis)}
    return [f"{name} (metric)" if name in taken else name for name in analysis.recorded]


def _recorded_cells(analysis: Analysis, s: Solution) -> list[float | str | None]:
    """The other metrics the trainer recorded for ``s``: None where it recorded none,
    "nan" for NaN (which a table would show blank, as if not recorded)."""
    values = [s.evaluation.metrics.get(name) for name in analysis.recorded]
    return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]


#: generations a "By reason" row lists before it refers to failures.csv (a 200-generation
#: run's row was 1,700 characters wide; helper-89)
REASON_GENERATIONS = 12


def _per_generation(counts: Mapping[int, int]) -> str:
    """``generation: count, ...`` of a reason's failures, the first :data:`REASON_GENERATIONS`."""
    listed = sorted(counts.items())
    said = ", ".join(f"{g}: {n}" for g, n in listed[:REASON_GENERATIONS])
    more = len(listed) - REASON_GENERATIONS
    return said + (f", ... ({counted(more, 'more generation')} in failures.csv)" if more > 0 else "")


def _alike_reasons(rows: Sequence[tuple[str, str, dict[int, int]]]) -> list[tuple[str, str, dict[int, int]]]:
    """The reasons of one status alike but for their numbers as one row, named by its
    commonest (failures.csv keeps each): six rows of "diverged at step N" hid the others
    under the table's cut (a review's)."""
    groups: dict[tuple[str, str], list[tuple[str, dict[int, int]]]] = {}
    for status, reason, counts in rows:  # commonest first
        groups.setdefault((status, alike(reason)), []).append((reason, counts))
    merged = []
    for (status, _), members in groups.items():
        counts: Counter[int] = Counter()
        for _, c in members:
            counts.update(c)
        more = f" (and {len(members) - 1} more alike but for their numbers)" if len(members) > 1 else ""
        merged.append((status, members[0][0] + more, dict(counts)))
    return sorted(merged, key=lambda row: -sum(row[2].values()))


def _objectives(analysis: Analysis, s: Solution) -> list[float | str]:
    return [beside_limit(v, analysis.thresholds.get(o.name)) for v, o in zip(s.fitness, analysis.objectives)]


def solution_header(analysis: Analysis) -> list[str]:
    return [*SOLUTION_HEAD, *[o.label for o in analysis.objectives], *_runtime_head(analysis),
            *_recorded_head(analysis), *SOLUTION_TAIL, *[p.name for p in analysis.parameters]]


def solution_row(analysis: Analysis, s: Solution, on_front: set[str]) -> list[Any]:
    params = s.evaluation.trial.params
    return [s.run, s.uuid, s.evaluation.trial.generation, *s.fitness, *_runtime_cell(analysis, s),
            *_recorded_cells(analysis, s), s.uuid in on_front, analysis.accurate(s),
            *[params.get(p.name) for p in analysis.parameters]]


def write(out: Path, analysis: Analysis, *, final: list[Solution], front: list[Solution],
          accurate: list[Solution], picks: list[tuple[str, Solution]], hv: Hypervolumes | None,
          failures: FailureCounts, again: list[Repeated], captions: dict[str, str],
          running: dict[str, str | None]) -> list[Path]:
    on_front = {s.uuid for s in front}
    header = solution_header(analysis)
    files = []
    for name, rows in (("final", final), ("front", front), ("accurate", accurate)):
        path = out / f"{name}.csv"
        write_csv(path, header, [solution_row(analysis, s, on_front) for s in rows])
        files.append(path)
    path = out / "selected.csv"
    write_csv(path, ["choice", *header], [[label, *solution_row(analysis, s, on_front)] for label, s in picks])
    files.append(path)
    path = out / "hypervolume.csv"
    unit = volume_unit([o.unit for o in analysis.objectives])
    write_csv(path, ["series", "generation", "hypervolume", *[f"reference {o.label}" for o in analysis.objectives],
                     "hypervolume unit"],
              [[series, g, v, *hv.reference, unit] for (series, g), v in sorted(hv.values.items())] if hv else [])
    files.append(path)
    path = out / "failures.csv"
    write_csv(path, ["generation", "status", "reason", "count"],
              sorted([g, st, reason, n] for st, reason, counts in failures.by_reason for g, n in counts.items()))
    files.append(path)
    path = out / "repeated.csv"
    names = [o.label for o in analysis.objectives]  # with its unit, as the other CSV files' headers
    # A statistic there is none of (the sd of one success, anything of none) is left
    # empty, as docs/outputs.md says, not written "nan".
    write_csv(path, [p.name for p in analysis.parameters] + ["trainings", "failed"]
              + [f"{stat} {n}" for n in names for stat in ("mean", "sd", "min", "max")] + ["accurate trainings"],
              [[r.params.get(p.name) for p in analysis.parameters] + [r.trainings, r.failed]
               + [None if math.isnan(v) else v for i in range(len(names))
                  for v in (r.mean[i], r.sd[i], r.low[i], r.high[i])]
               + [r.accurate] for r in again])
    files.append(path)
    path = out / "summary.md"
    text = _markdown(analysis, final, front, accurate, picks, hv, failures, captions, again, running)
    with writing(path):
        path.write_text(text, encoding="utf-8")
    files.append(path)
    return files


def _unfinished(run: RunData, running: dict[str, str | None]) -> str:
    """The "finished" cell of a run still in progress (or stopped): what the report leaves out."""
    left_out = [f"{counted(run.later, 'later evaluation')} left out"] if run.later else []
    if running.get(run.label):
        left_out.append(f"{running[run.label]}, not finished")
    return "no (report of the last recorded generation" + "".join(f"; {part}" for part in left_out) + ")"


def _no_success(evaluations: Sequence[Evaluation]) -> str:
    """What to say first when every evaluation failed: the rest of the report is empty.  The
    commonest reason in hpo-run's words (failure_summary), so that both name the same one."""
    return (f"**No evaluation succeeded** ({failure_summary(evaluations)}), so the report has no front, no "
            "chemically accurate solution and nothing to plot but the failures. Why each failed: [Failures per "
            "generation](#failures-per-generation) below and failures.csv; most often a mistake in the setup, "
            "such as a data path, the training command or a metric's column.")


def _spread(r: Repeated, j: int) -> str:
    """Objective ``j`` of a candidate trained again: mean ± sd [min, max] of its successes."""
    ok = r.trainings - r.failed
    if not ok:
        return "all failed"
    if ok == 1:  # no spread to give: an sd left blank read as a missing number
        return f"{fmt(r.mean[j])} (one success)"
    return f"{fmt(r.mean[j])} ± {fmt(r.sd[j])} [{fmt(r.low[j])}, {fmt(r.high[j])}]"


def _markdown(analysis: Analysis, final: list[Solution], front: list[Solution], accurate: list[Solution],
              picks: list[tuple[str, Solution]], hv: Hypervolumes | None, failures: FailureCounts,
              captions: dict[str, str], again: list[Repeated], running: dict[str, str | None]) -> str:
    on_front = {s.uuid for s in front}
    unit, seconds = runtime_unit(final)  # one unit for every table here and Figure 3
    objectives = analysis.objectives
    several = len(analysis.runs) > 1
    md: list[str] = [HEADER, ""]
    md.append("Reproduces section 3 of Coletti et al. (2023) for "
              + (f"{len(analysis.runs)} merged runs (their last generations aggregated)." if several
                 else "one run.") + " docs/outputs.md explains every part.")
    if not len(analysis.finite_values()):
        md += ["", _no_success([s.evaluation for s in analysis.all_evaluations()])]
    md += ["", "## Runs", ""]
    rows = []
    for r in analysis.runs:
        failed = sum(1 for e in r.evaluations if not Solution(r.label, e, 0.0).valid)
        rows.append([r.label, str(r.path), r.spec.get("name", ""), r.spec.get("seed", ""), r.last_generation,
                     len(r.evaluations), failed, r.interrupted, "yes" if r.finished else _unfinished(r, running)])
    md.append(md_table(["run", "directory", "name", "seed", "last generation", "evaluations", "failed",
                        "interrupted, re-run", "finished"], rows, None))
    data = [[r.label, d.path, f"`{d.sha256[:16]}`" if d.sha256 else "(nothing there)"]
            for r in analysis.runs for d in r.data if d is not None]
    if data:
        md += ["", ("Training data (SHA-256 of each data path's content when the run started, as a resume "
                    "compares it; its first 16 hex digits):"), "",
               md_table(["run", "data path", "SHA-256"], data, None)]
    for note in analysis.notes:
        md += ["", f"Note: {note}."]
    steady = analysis.snapshot_note()
    if steady:
        md += ["", (f"{steady} A birth's generation (the `generation` column of the tables, the failures per "
               "generation) is the one it was bred in: offspring bred between snapshots g - 1 and g carry g, and "
               "those bred before snapshot 0 carry 1. Births overlap snapshots: one born in generation g may "
               "still be in flight when snapshot g is taken and join a later population, and snapshot 0 can "
               "hold offspring of generation 1 (Figure 1 shows the in-flight ones apart).")]

    md += ["", "## Figures", ""]
    for stem, title in (("front", "Pareto front of the final solutions (paper, Figure 2)"),
                        ("generations", "Objectives per generation (paper, Figure 1)"),
                        ("parallel", "Parallel coordinates of the final solutions (paper, Figure 3)"),
                        ("hypervolume", "Hypervolume per generation (convergence)"),
                        ("failures", "Failures per generation")):
        if stem not in captions:
            continue
        md += [f"### {title}", "", f"![{title}]({stem}.png)", "",
               f"{captions.get(stem, '')} Vector version: [{stem}.svg]({stem}.svg).", ""]

    labels = [o.label for o in objectives]
    failed_final = sum(1 for s in final if not s.valid)
    md += ["## Pareto front of the last generation" + ("s" if several else "") + " (paper, Table 2)", "",
           (f"The exact non-dominated set of the {counted(len(final), 'final solution')} "
            f"({counted(failed_final, 'failed one')} excluded; each training once, judged on its own): "
            f"{counted(len(front), 'solution')}, "
            f"sorted by {objectives[0].name}. All columns: front.csv; every final solution: final.csv."), ""]
    md.append(md_table(["#", *labels, *_runtime_head(analysis, unit), *_recorded_head(analysis), "chemically accurate",
                        "run", "uuid"],
                       [[i, *_objectives(analysis, s), *_runtime_cell(analysis, s, seconds),
                         *_recorded_cells(analysis, s), analysis.accurate(s), s.run, s.uuid]
                        for i, s in enumerate(front, 1)], None))

    md += ["", "## Chemical accuracy", ""]
    if analysis.thresholds:
        limits = said_limits([(o.name, o.unit) for o in objectives], analysis.thresholds)
        md.append(f"Limits: {limits} (from {analysis.threshold_source}). {len(accurate)} of the final solutions "
                  f"(each training once) {'is' if len(accurate) == 1 else 'are'} chemically accurate, "
                  + (f"{sum(1 for s in accurate if s.uuid in on_front)} of them on the exact front. All of them: "
                     "accurate.csv." if accurate else "so accurate.csv holds its header only."))
        if accurate:
            md += ["", md_table(["#", *labels, *_runtime_head(analysis, unit), *_recorded_head(analysis), "on front",
                                 "run", "uuid"],
                                [[i, *_objectives(analysis, s), *_runtime_cell(analysis, s, seconds),
                                  *_recorded_cells(analysis, s), s.uuid in on_front, s.run, s.uuid]
                                 for i, s in enumerate(accurate, 1)])]
    else:
        md.append(f"No limits: {analysis.threshold_source}.")

    md += ["", "## Selected solutions (paper, Table 3)", ""]
    if picks:
        md.append("Among the chemically accurate final solutions: the lowest value of each objective, and the "
                  "shortest runtime (ties go to the lower objectives). Also in selected.csv.")
        header = ["", *[f"{i}: {label}" for i, (label, _) in enumerate(picks, 1)]]
        rows = [[p.name, *[s.evaluation.trial.params.get(p.name) for _, s in picks]] for p in analysis.parameters]
        if analysis.runtime_apart:
            rows.append([f"runtime ({unit})", *[s.runtime / seconds for _, s in picks]])
        shown = [_objectives(analysis, s) for _, s in picks]  # once per pick, not once per objective
        rows += [[o.label, *[values[i] for values in shown]] for i, o in enumerate(objectives)]
        recorded = [_recorded_cells(analysis, s) for _, s in picks]  # where a reader picks: sel_shortfall too
        rows += [[name, *[values[i] for values in recorded]] for i, name in enumerate(_recorded_head(analysis))]
        rows += [["on Pareto front", *[s.uuid in on_front for _, s in picks]],
                 ["run", *[s.run for _, s in picks]], ["uuid", *[s.uuid for _, s in picks]]]
        md += ["", md_table(header, rows, None)]
    else:
        md.append("None: " + ("no final solution is chemically accurate." if analysis.thresholds
                              else "there are no chemical-accuracy limits."))

    md += ["", "## Candidates trained more than once", ""]
    if again:
        md.append("One training is one measurement: the spread of a candidate's trainings (each with its own "
                  "seed) says how far to trust any single one, such as a front point or its chemical-accuracy "
                  "flag. Mean and sample standard deviation over the successful trainings, then the range. "
                  "Also in repeated.csv.")
        md += ["", md_table(["#", *[p.name for p in analysis.parameters], "trainings", "failed",
                             *[f"{o.label}: mean ± sd [min, max]" for o in objectives], "accurate trainings"],
                            [[i, *[r.params.get(p.name) for p in analysis.parameters], r.trainings, r.failed,
                              *[_spread(r, j) for j in range(len(objectives))],
                              "" if r.accurate is None else f"{r.accurate} of {r.trainings - r.failed}"]
                             for i, r in enumerate(again, 1)])]
    elif any(r.replicates for r in analysis.runs):
        # A replicates run of seeds: 1 alone: its trainings' first ones are in the source
        # run, and the advice to run replicates read as if this were not one (helper-94).
        md.append("None: every candidate was trained once here (a `replicates` run of one seed). Report it "
                  "together with its source run (`hpo-report SOURCE_RUN_DIR THIS_RUN_DIR --out DIR`) to set each "
                  "training beside the search's own.")
    else:
        md.append("None: every candidate was trained once. To see how much one training can be trusted, "
                  "train the ones you pick again with other seeds: optimizer `replicates` "
                  "(docs/optimizer.md).")

    md += ["", "## Hypervolume per generation", ""]
    if hv is None:
        md.append("Not computed: no successful evaluation.")
    else:
        reference = ", ".join(f"{o.name} = {with_unit(v, o.unit, '.6g')}" for o, v in zip(objectives, hv.reference))
        md.append(f"Of each generation's population (failed members add nothing), against the reference point "
                  f"({reference}): "
                  f"{hv.reference_source}. It grows as a run's population moves towards the front and "
                  "levels off when the run converges (it can dip slightly when the first front outgrows "
                  "the population and NSGA-II drops its most crowded members). "
                  "Also in hypervolume.csv.")
        if hv.warning:
            md += ["", f"**Note: {hv.warning}.** {hv.advice}"]
        if hv.note:
            md += ["", hv.note + "."]
        if steady:
            md += ["", steady]
        if hv.values:
            gens = sorted({g for _, g in hv.values})
            partial: dict[int, list[str]] = {}  # generation -> the runs whose last snapshot it is, partial
            for r in analysis.runs:
                for g in (g for g, snap in r.snapshots.items() if snap.partial):
                    partial.setdefault(g, []).append(r.label)

            def label(g: int) -> str | int:
                if g not in partial:
                    return g
                return f"{g} (partial snapshot{' of ' + ', '.join(partial[g]) if several else ''})"

            unit = volume_unit([o.unit for o in objectives])
            md += ["", md_table(["generation", *[f"{s} ({unit})" if unit else s for s in hv.series]],
                                [[label(g), *[hv.values.get((s, g), math.nan) for s in hv.series]]
                                 for g in gens], None)]

    md += ["", "## Failures per generation", ""]
    md.append("Evaluations by the generation they were born in; every failure has fitness MAXINT "
              "(2147483647) in every objective and is left out of all figures. Also in failures.csv.")
    rows = []
    for g in failures.generations:
        n_failed = sum(failures.by_status.get((g, st), 0) for st in failures.statuses)
        rows.append([g, failures.evaluated.get(g, 0), failures.evaluated.get(g, 0) - n_failed,
                     *[failures.by_status.get((g, st), 0) for st in failures.statuses]])
    md += ["", md_table(["generation", "evaluated", "ok", *failures.statuses], rows, None)]
    if failures.by_reason:
        md += ["", "By reason:", "",
               md_table(["status", "reason", "total", "per generation"],
                        [[st, reason, sum(c.values()), _per_generation(c)]
                         for st, reason, c in _alike_reasons(failures.by_reason)])]
    interrupted = sum(r.interrupted for r in analysis.runs)
    if interrupted:
        were = "was" if interrupted == 1 else "were"
        # Both causes: sent out, not necessarily training (a generation is sent at once and
        # waits for workers: a review read "running" for 6 with 2 trainings at the stop),
        # or finished but bred otherwise by a --force resume
        md += ["", (f"{counted(interrupted, 'evaluation')} {were} set aside on resume and re-run under a new uuid "
                    "(status interrupted in the journal; not counted above): sent out and not finished when a "
                    "driver stopped (training, or waiting for a worker), or no longer the birth a --force resume "
                    "bred.")]
    return "\n".join(md) + "\n"
