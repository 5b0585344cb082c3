"""The report's figures (paper, Figures 1-3, plus convergence and failures), with matplotlib.

Figures are made with ``matplotlib.figure.Figure`` directly (the Agg canvas, no pyplot
state), each saved as PNG and SVG.  Failed evaluations (fitness MAXINT) are never put on
an axis; each figure says how many it left out.  An axis is logarithmic when its
positive values span more than a decade (or the parameter is searched on a log scale).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: before anything else in matplotlib is used
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator

from dnnp_hpo.front import said_limits

from .data import Analysis, Solution, runtime_unit, writing
from .tables import FailureCounts, Hypervolumes, counted, volume_unit, with_unit

FORMATS = ("png", "svg")
NO_SUCCESS = "no successful evaluation"  #: what an empty panel says (every evaluation it would show failed)
GREY, BLUE, ORANGE, RED = "#9a9a9a", "#1f5fbf", "#ff7f0e", "#c0392b"


def save(fig: Figure, out: Path, stem: str) -> list[Path]:
    """``stem.png`` and ``stem.svg`` (text kept as text in the SVG: searchable, editable)."""
    FigureCanvasAgg(fig)
    paths = []
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for fmt in FORMATS:
            path = out / f"{stem}.{fmt}"
            with writing(path):
                fig.savefig(path, dpi=150, bbox_inches="tight")
            paths.append(path)
    return paths


def _caption(fig: Figure, text: str, y: float = -0.02, width: int = 110) -> None:
    """The caption under the figure, wrapped so it never widens the saved image."""
    fig.text(0.01, y, textwrap.fill(text, width), fontsize=8, ha="left", va="top")


def spans_decades(values: Sequence[float]) -> bool:
    """True when all values are positive and the largest is over 10 times the smallest."""
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10


class _MinorLabelsAtTwoAndFive(LogFormatterSciNotation):
    """Minor tick labels at 2 and 5 times a power of ten, on an axis that holds at most one
    power of ten (under two decades), none on a wider one.  Matplotlib's own choice there
    (2, 3, 4 and 6 times) overlapped at 3 and 4 times, and left a decade without a label;
    on wider axes the generations figure's small panels have no room for minor labels."""

    def __init__(self) -> None:
        super().__init__(labelOnlyBase=False, minor_thresholds=(1, math.inf))  # see matplotlib's set_locs

    def __call__(self, x: float, pos: int | None = None) -> str:
        mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9) if x > 0 else 0.0
        keep = any(math.isclose(mantissa, k, rel_tol=1e-6) for k in (2, 5))
        return super().__call__(x, pos) if keep else ""


def _scale(ax, values_x: Sequence[float], values_y: Sequence[float]) -> None:
    for set_scale, axis, values in ((ax.set_xscale, ax.xaxis, values_x), (ax.set_yscale, ax.yaxis, values_y)):
        if spans_decades(values):
            set_scale("log")
            axis.set_minor_formatter(_MinorLabelsAtTwoAndFive())


def _limits(analysis: Analysis, *names: str) -> str:
    """``name <= limit unit, ...``: the chemical-accuracy limits of ``names`` (default: all)."""
    chosen = {name: analysis.thresholds[name] for name in names or analysis.thresholds}
    return said_limits([(o.name, o.unit) for o in analysis.objectives], chosen)


def _thresholds(ax, analysis: Analysis, with_labels: bool = True) -> None:
    names = analysis.names
    for axis, index in (("x", 0), ("y", 1)):
        limit = analysis.thresholds.get(names[index])
        if limit is None:
            continue
        draw = ax.axvline if axis == "x" else ax.axhline
        draw(limit, color=RED, ls="--", lw=1,
             label=f"chemical accuracy ({_limits(analysis, names[index])})" if with_labels else None)


def _say_empty(ax, text: str, fontsize: float = 10) -> None:
    """``text`` in the middle of an axes that has nothing to show, so it does not pass for a plot."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=fontsize, zorder=6,
            bbox={"facecolor": "white", "lw": 0, "pad": 2})


def _axis_labels(ax, analysis: Analysis) -> None:
    ax.set_xlabel(analysis.objectives[0].label)
    ax.set_ylabel(analysis.objectives[1].label)


def plot_front(analysis: Analysis, final: Sequence[Solution], front: Sequence[Solution],
               out: Path) -> tuple[str, Figure]:
    """Figure 2: the final solutions and their exact Pareto front (first two objectives)."""
    shown = [s for s in final if s.valid]
    failed = len(final) - len(shown)
    fig = Figure(figsize=(7.5, 5.5))
    ax = fig.add_subplot()
    x = [s.fitness[0] for s in shown]
    y = [s.fitness[1] for s in shown]
    accurate = [bool(analysis.accurate(s)) for s in shown]
    # A legend entry only for what is drawn (a run whose final population all failed has none).
    ax.scatter([a for a, k in zip(x, accurate) if not k], [b for b, k in zip(y, accurate) if not k],
               s=18, color=GREY, label="final solutions" if not all(accurate) else None, zorder=2)
    if analysis.thresholds:
        ax.scatter([a for a, k in zip(x, accurate) if k], [b for b, k in zip(y, accurate) if k],
                   s=18, color=BLUE, label="chemically accurate" if any(accurate) else None, zorder=3)
    fx = [s.fitness[0] for s in front]
    fy = [s.fitness[1] for s in front]
    two = len(analysis.objectives) == 2
    # Open rings: a front member's own point (blue when chemically accurate) shows inside.
    ax.plot(fx, fy, "-o" if two else "o", color=ORANGE, ms=9, mfc="none", mew=1.5, lw=1.5, zorder=4,
            label=f"exact Pareto front ({len(front)})" if front else None)
    if not shown:
        _say_empty(ax, f"{NO_SUCCESS} in the final population")
    _thresholds(ax, analysis)
    _scale(ax, x, y)
    _axis_labels(ax, analysis)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        # Beside the axes: inside, "best" place or not, it hid a final solution in the
        # corner it took (a review's quickstart run, 1 of 8 points)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    runs = len(analysis.runs)
    ax.set_title(f"Pareto front of the last generation{'s of ' + str(runs) + ' runs' if runs > 1 else ''}")
    caption = (f"{counted(len(shown), 'final solution')} shown, {len(front)} on the exact front"
               f"{'' if two else ' (front over all objectives, projected on the first two)'}; "
               f"{failed} failed (MAXINT) not shown.")
    unseen = {o.name: analysis.thresholds[o.name] for o in analysis.objectives[2:] if o.name in analysis.thresholds}
    if unseen:
        # a grey point inside both drawn limits is one that fails a third (helper-92)
        caption += (" Chemically accurate (blue) also means "
                    f"{said_limits([(o.name, o.unit) for o in analysis.objectives], unseen)}, not drawn.")
    _caption(fig, caption, width=120)
    save(fig, out, "front")
    return caption, fig


#: the most panels of Figure 1: a panel per generation of a 150-generation run made an
#: image 18,000 pixels tall that took a minute to draw (each shared axis updates all the others)
MAX_PANELS = 12


def shown_generations(generations: Sequence[int], limit: int = MAX_PANELS) -> list[int]:
    """All of ``generations``, or ``limit`` of them evenly spaced, the first and the last
    among them."""
    if len(generations) <= limit:
        return list(generations)
    last = len(generations) - 1
    return [generations[i] for i in sorted({round(k * last / (limit - 1)) for k in range(limit)})]


def plot_generations(analysis: Analysis, out: Path) -> tuple[str, Figure]:
    """Figure 1: objective 1 vs objective 2 in each generation, one panel per generation
    (at most :data:`MAX_PANELS`, evenly spaced, for a long run).

    For a steady-state run (nsga2-async) a generation is a snapshot of the population, and a
    birth labelled with it may still be training when the snapshot is taken: such births
    are drawn apart (open orange triangles), never as thrown away, and only the births the
    snapshot had inserted and no longer holds are grey.
    """
    generations = shown_generations(analysis.generations)
    steady = analysis.steady_state
    panels = {g: analysis.panel(g) for g in generations}
    every = [s for ev, pop, _ in panels.values() for s in (*ev, *pop) if s.valid]
    cols = min(4, len(generations))
    rows = math.ceil(len(generations) / cols)
    fig = Figure(figsize=(3.6 * cols + 0.6, 3.2 * rows + 0.9))
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    total_failed = 0
    total_waiting = 0
    for ax in axes.flat[len(generations):]:
        ax.set_visible(False)
    for ax, g in zip(axes.flat, generations):
        evaluated, population, waiting = panels[g]
        kept = {s.uuid for s in population}
        others = [s for s in evaluated if s.valid and s.uuid not in kept and s.uuid not in waiting]
        later = [s for s in evaluated if s.valid and s.uuid in waiting]
        alive = [s for s in population if s.valid]
        failed = sum(1 for s in evaluated if not s.valid)
        total_failed += failed
        total_waiting += len(later)
        ax.scatter([s.fitness[0] for s in others], [s.fitness[1] for s in others], s=10, color=GREY,
                   alpha=0.7, label="evaluated, not selected")
        if steady:
            ax.scatter([s.fitness[0] for s in later], [s.fitness[1] for s in later], s=22, marker="^",
                       facecolors="none", edgecolors=ORANGE, linewidths=1.0,
                       label="born in it, still in flight at the snapshot (inserted later)")
        ax.scatter([s.fitness[0] for s in alive], [s.fitness[1] for s in alive], s=14, color=BLUE,
                   label="population after selection")
        if every:  # limits alone would zoom every panel onto them, empty, at 0.0038-0.0042
            _thresholds(ax, analysis, with_labels=False)
        if not (others or later or alive):
            _say_empty(ax, NO_SUCCESS, fontsize=8)
        # The counts go in the title, not over the plot, where they could hide the worst points.
        if steady:
            ax.set_title(f"{_snapshot_title(analysis, g)}\n{len(evaluated)} born, {len(waiting)} in flight, "
                         f"{failed} failed (not shown)", fontsize=9)
        else:
            ax.set_title(f"generation {g}\n{len(evaluated)} evaluated, {failed} failed (not shown)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    _scale(axes.flat[0], [s.fitness[0] for s in every], [s.fitness[1] for s in every])
    for column in range(cols):
        # The lowest panel of each column: in a last row partly filled, the one above an
        # empty slot, whose tick labels sharex hid as if a panel were under it.
        lowest = max(row for row in range(rows) if row * cols + column < len(generations))
        axes[lowest, column].tick_params(labelbottom=True)
        axes[lowest, column].set_xlabel(analysis.objectives[0].label)
    for ax in axes[:, 0]:
        ax.set_ylabel(analysis.objectives[1].label)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if analysis.thresholds and every:
        handles.append(Line2D([], [], color=RED, ls="--", lw=1))
        labels.append("chemical accuracy limit")
    if steady and cols <= 2:  # too narrow for the three entries side by side: one a line, room kept
        fig.legend(handles, labels, loc="upper center", ncol=1, fontsize=8, bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.85 / fig.get_figheight()))
    else:
        fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout(rect=(0, 0, 1, 0.94))
    runs = len(analysis.by_generation)  # a replicates run merged with searches is not drawn
    if steady:
        caption = (f"Each panel: the population recorded for that generation (blue; in a steady-state run a "
                   f"snapshot, and snapshot 0 can hold offspring of generation 1) and the evaluations born in that "
                   f"generation: grey if the population had taken them in and no longer holds them (thrown away "
                   f"by selection), open orange triangles if they were still in flight (training) when the "
                   f"snapshot was taken (inserted later: neither kept nor thrown away by it; {total_waiting} "
                   f"shown){', all ' + str(runs) + ' runs together' if runs > 1 else ''}. "
                   f"{analysis.snapshot_note()} A birth's generation is the one it was bred in; generation 1 "
                   f"also holds the offspring bred before snapshot 0. {counted(total_failed, 'failed evaluation')} "
                   f"(MAXINT) in all not shown.")
    else:
        # "born in that generation (grey)" read as if every birth were grey: generation 0's
        # are all kept, so its panel has none (a review's).
        caption = (f"Each panel: the population kept after selection (blue) and the evaluations born in that "
                   f"generation that selection threw away (grey)"
                   f"{', all ' + str(runs) + ' runs together' if runs > 1 else ''}; "
                   f"{counted(total_failed, 'failed evaluation')} (MAXINT) in all not shown.")
    if len(generations) < len(analysis.generations):
        caption += (f" {len(generations)} of the {len(analysis.generations)} generations are shown, evenly spaced "
                    f"({', '.join(map(str, generations))}); the failed count is theirs; pop.csv holds every "
                    "population.")
    _caption(fig, caption, y=0.0, width=int(40 * cols))
    save(fig, out, "generations")
    return caption, fig


def _snapshot_title(analysis: Analysis, generation: int) -> str:
    """A steady-state panel's first title line: after how many insertions it was taken."""
    snapshots = [r.snapshots[generation] for r in analysis.by_generation if generation in r.snapshots]
    counts = {s.inserted for s in snapshots}
    others = [r for r in analysis.by_generation if generation in r.populations and not r.steady_state]
    if len(counts) != 1 or others:  # merged with a generational run, or of other population sizes
        return f"generation {generation}"
    partial = ", partial" if any(s.partial for s in snapshots) else ""
    return f"generation {generation} (after {counts.pop()} evaluations{partial})"


def _distinct_labels(ticks: Sequence[float]) -> list[str]:
    """Tick labels with 3 significant digits, more where the ticks would read alike (a
    parameter the search converged on spans a sliver of its range)."""
    for digits in range(3, 13):
        labels = [f"{t:.{digits}g}" for t in ticks]
        if len(set(labels)) == len(labels):
            break
    return labels


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _column(values: list, categories: Sequence | None, log: bool):
    """Normalise one column to [0, 1]: (positions, tick positions, tick labels)."""
    numeric = categories is None and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None)
    if not numeric:
        values = [_hashable(v) for v in values]  # a plugin's parameter type may decode to a list
        cats = [_hashable(c) for c in categories or []]
        for v in values:
            if v is not None and v not in cats:
                cats.append(v)
        cats = cats or ["-"]
        step = 1 / (len(cats) - 1) if len(cats) > 1 else 0
        where = {c: (i * step if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
        return ([where[v] if v is not None else math.nan for v in values],
                [where[c] for c in cats], [str(c) for c in cats])
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    log = log and bool(finite) and min(finite) > 0
    tf = (lambda v: math.log10(v)) if log else (lambda v: v)
    if not finite:
        return [math.nan] * len(values), [], []
    lo, hi = tf(min(finite)), tf(max(finite))
    width = hi - lo
    pos = [((tf(float(v)) - lo) / width if width else 0.5)
           if v is not None and math.isfinite(float(v)) else math.nan for v in values]
    ticks = [lo + width * f for f in (0, 0.25, 0.5, 0.75, 1)] if width else [lo]
    labels = _distinct_labels([10 ** t if log else t for t in ticks])
    return pos, ([(t - lo) / width for t in ticks] if width else [0.5]), labels


def plot_parallel(analysis: Analysis, final: Sequence[Solution], front: Sequence[Solution],
                  out: Path) -> tuple[str, Figure]:
    """Figure 3: hyperparameters, runtime, objectives and front membership of every final solution."""
    shown = [s for s in final if s.valid]
    failed = len(final) - len(shown)
    on_front = {s.uuid for s in front}
    runtimes = [s.runtime for s in shown]
    unit, seconds = runtime_unit(final)
    columns: list[tuple[str, list, Sequence | None, bool]] = []
    for p in analysis.parameters:
        columns.append((p.name, [s.evaluation.trial.params.get(p.name) for s in shown], p.choices, p.log))
    if analysis.runtime_apart:  # else it is an objective's column below
        columns.append((f"runtime ({unit})", [r / seconds if math.isfinite(r) else None for r in runtimes], None,
                        spans_decades(runtimes)))
    for i, o in enumerate(analysis.objectives):
        values = [s.fitness[i] for s in shown]
        columns.append((o.label, values, None, spans_decades(values)))
    columns.append(("on Pareto front", ["yes" if s.uuid in on_front else "no" for s in shown], ["no", "yes"], False))

    normalised = [_column(values, cats, log) for _, values, cats, log in columns]
    fig = Figure(figsize=(max(8.0, 1.25 * len(columns) + 1), 5.8))
    ax = fig.add_subplot()
    xs = list(range(len(columns)))
    if analysis.thresholds:
        highlight = [bool(analysis.accurate(s)) for s in shown]
        hl_label, rest_label = "chemically accurate", "not chemically accurate"
    else:
        highlight = [s.uuid in on_front for s in shown]
        hl_label, rest_label = "on the Pareto front", "not on the front"
    order = sorted(range(len(shown)), key=lambda k: highlight[k])  # highlighted lines on top
    for k in order:
        ys = [col[0][k] for col in normalised]
        if highlight[k]:
            ax.plot(xs, ys, color=BLUE, lw=1.6, alpha=0.85, zorder=3)
        else:
            ax.plot(xs, ys, color=GREY, lw=1.0, alpha=0.45, zorder=2)
    for x, (name, _, _, log), (_, ticks, labels) in zip(xs, columns, normalised):
        ax.axvline(x, color="black", lw=0.8, zorder=1)
        for t, label in zip(ticks, labels):
            ax.text(x - 0.04, t, label, ha="right", va="center", fontsize=7, zorder=5,
                    bbox={"facecolor": "white", "alpha": 0.6, "lw": 0, "pad": 0.5})
    ax.set_xticks(xs, [f"{name}\n(log)" if log and not name.startswith("on ") else name
                       for name, _, _, log in columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.6, len(columns) - 0.7)
    ax.set_ylim(-0.05, 1.05)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    n_hl = sum(highlight)
    if shown:
        ax.legend([Line2D([], [], color=BLUE, lw=1.6), Line2D([], [], color=GREY, lw=1.0)],
                  [f"{hl_label} ({n_hl})", f"{rest_label} ({len(shown) - n_hl})"],
                  loc="upper center", bbox_to_anchor=(0.5, 1.1), ncol=2, fontsize=8)
    else:
        _say_empty(ax, f"{NO_SUCCESS} in the final population")
    limits = _limits(analysis)
    caption = (f"{counted(len(shown), 'final solution')} of the last generation"
               f"{'s of ' + str(len(analysis.runs)) + ' runs' if len(analysis.runs) > 1 else ''}"
               f"{'; chemically accurate: ' + limits if limits else ''}; {failed} failed (MAXINT) not shown. "
               "Each axis runs from its lowest to its highest value.")
    fig.subplots_adjust(bottom=0.24)
    _caption(fig, caption, y=0.03, width=int(14 * len(columns) + 20))
    save(fig, out, "parallel")
    return caption, fig


def plot_hypervolume(hv: Hypervolumes, out: Path, units: Sequence[str] = (), note: str = "") -> tuple[str, Figure]:
    """Convergence: the hypervolume of each generation's population, per run; ``note`` (what a
    generation is in a steady-state run: Analysis.snapshot_note) ends the caption; ``units``
    are the objectives' (none given: none shown)."""
    units = tuple(units) or ("",) * len(hv.reference)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for series in hv.series:
        points = sorted((g, v) for (s, g), v in hv.values.items() if s == series)
        if points:
            ax.plot([g for g, _ in points], [v for _, v in points], "-o", ms=4,
                    lw=2.2 if series == "all runs" else 1.2, label=series)
    ax.set_xlabel("generation")
    unit = volume_unit(units)
    ax.set_ylabel("hypervolume of the population" + (f" ({unit})" if unit else ""))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if hv.values:
        ax.legend(fontsize=8)
    else:
        _say_empty(ax, hv.note or "nothing to show")
    ref = ", ".join(with_unit(v, u, ".4g") for v, u in zip(hv.reference, units))
    ax.set_title(f"Hypervolume per generation (reference point {ref})", fontsize=10)
    caption = f"Reference point: {ref} ({hv.reference_source}); failed evaluations (MAXINT) add nothing."
    for said in (hv.warning, hv.note if hv.values else ""):  # with no values the note is written over the plot
        if said:
            caption += f" {said[0].upper()}{said[1:]}."
    if note:
        caption += " " + note
    _caption(fig, caption, width=110)
    save(fig, out, "hypervolume")
    return caption, fig


def _wider_than_a_bar(fig: Figure, ax: Any, labels: Sequence[Any]) -> bool:
    """Whether a label is wider than the space between two generations' bars."""
    if len(labels) < 2:
        return False
    renderer = FigureCanvasAgg(fig).get_renderer()
    slot = abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])
    return max(label.get_window_extent(renderer).width for label in labels) > slot


def plot_failures(fc: FailureCounts, out: Path) -> tuple[str, Figure]:
    """Failed evaluations per generation, stacked by status."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    bottom = [0] * len(fc.generations)
    colors = {"failed": RED, "timeout": "#8e44ad", "error": "#e67e22", "infeasible": "#7f8c8d",
              "lost": "#2c3e50", "invalid": "#16a085"}
    for status in fc.statuses:
        counts = [fc.by_status.get((g, status), 0) for g in fc.generations]
        ax.bar(fc.generations, counts, bottom=bottom, label=status, color=colors.get(status))
        bottom = [b + c for b, c in zip(bottom, counts)]
    labels = [ax.text(g, b, f"{b}/{fc.evaluated.get(g, 0)}", ha="center", va="bottom", fontsize=7)
              for g, b in zip(fc.generations, bottom)]
    ax.set_xlabel("generation (in which the candidate was born)")
    ax.set_ylabel("failed evaluations (count)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if fc.generations:  # with no bar to place them, the labels of the end generations fell off the axes
        ax.set_xlim(min(fc.generations) - 0.6, max(fc.generations) + 0.6)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no tick at 0.5
    ax.set_ylim(0, max([*bottom, 1]) * 1.15)
    if fc.statuses:
        # Beside the axes: inside, it covered bars whenever every generation failed alike.
        ax.legend(fontsize=8, title="status", title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no failed evaluations", transform=ax.transAxes, ha="center")
    total = sum(bottom)
    caption = f"{counted(total, 'failed evaluation')} of {sum(fc.evaluated.values())}."
    if _wider_than_a_bar(fig, ax, labels):
        # Some 30 generations on: the labels ran into each other ("12/10010/100") and
        # into a black band along the axis (helper-89).
        for label in labels:
            label.remove()
        ax.set_title("Failures per generation", fontsize=10)
        caption += " Too many generations to label each bar: summary.md counts each generation's failures."
    else:
        ax.set_title("Failures per generation (label: failed / evaluated)", fontsize=10)
    save(fig, out, "failures")
    return caption, fig
