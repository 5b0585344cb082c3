"""hpo-report on hand-made journals whose front, accurate set and Table 3 are known.

The expected values are worked out by hand in report_journals.py's docstrings.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from report_journals import SPEC, failed, ok, run_a, run_b, stopped_a, write_run

from dnnp_hpo.front import beside_limit
from dnnp_hpo.journal import Journal
from dnnp_hpo.report import plots, tables
from dnnp_hpo.report.cli import main
from dnnp_hpo.report.data import analyse


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def made_a(tmp_path_factory) -> tuple[Path, str]:
    """run_a's report (``--reference 1,1``) and hpo-report's closing line, made once."""
    run = run_a(tmp_path_factory.mktemp("handmade") / "runA")
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main([str(run), "--reference", "1,1"]) == 0
    return run / "report", said.getvalue()


@pytest.fixture(scope="module")
def report_a(made_a) -> Path:
    return made_a[0]


def test_front_is_the_hand_computed_one(report_a):
    front = rows(report_a / "front.csv")
    assert [r["uuid"] for r in front] == ["h", "f", "e", "d"]
    assert [float(r["energy_rmse (eV/atom)"]) for r in front] == [0.0004, 0.0005, 0.0016, 0.002]
    assert [r["chemically_accurate"] for r in front] == ["False", "True", "True", "True"]
    final = rows(report_a / "final.csv")
    assert sorted(r["uuid"] for r in final) == sorted("defghjki")
    assert {r["uuid"] for r in final if r["on_front"] == "True"} == set("hfed")


def test_chemically_accurate_set_uses_default_limits_inclusively(report_a):
    accurate = {r["uuid"] for r in rows(report_a / "accurate.csv")}
    assert accurate == set("defgjk")  # k sits exactly on both limits; h is over on force
    summary = (report_a / "summary.md").read_text()
    assert "Limits: energy_rmse <= 0.004 eV/atom, force_rmse <= 0.04 eV/A (" in summary  # as hpo-run says them
    assert "defaults for these units" in summary


def test_table3_picks_and_runtime_fallback(report_a):
    picks = {r["choice"]: r for r in rows(report_a / "selected.csv")}
    assert {k: v["uuid"] for k, v in picks.items()} == {
        "lowest energy_rmse": "f", "lowest force_rmse": "d", "lowest runtime": "j"}
    assert float(picks["lowest runtime"]["runtime (s)"]) == 3990.0  # stop - start: no runtime metric
    assert float(picks["lowest force_rmse"]["runtime (s)"]) == 4500.0  # the metric, not stop - start
    assert picks["lowest runtime"]["on_front"] == "False"
    assert picks["lowest force_rmse"]["rcut"] == "11.3"


def test_hypervolume_per_generation_by_hand(report_a):
    hv = {int(r["generation"]): float(r["hypervolume"]) for r in rows(report_a / "hypervolume.csv")}
    # generation 0: d dominates a and b; one rectangle to (1, 1)
    assert hv[0] == pytest.approx((1 - 0.002) * (1 - 0.030))
    # generation 1: the staircase of h, f, e, d (by energy); g, j, k are dominated
    assert hv[1] == pytest.approx((1 - 0.0004) * (1 - 0.0409) + (1 - 0.0005) * (0.0409 - 0.0374)
                                  + (1 - 0.0016) * (0.0374 - 0.0357) + (1 - 0.002) * (0.0357 - 0.030))


def test_default_reference_from_worst_finite_values(tmp_path):
    hv = tables.hypervolumes(analyse([run_a(tmp_path / "runA")]))
    # worst finite values over all evaluations: l (0.020, 0.5); ranges 0.0196 and 0.47
    assert hv.reference == pytest.approx((0.020 + 0.00196, 0.5 + 0.047))
    assert hv.values[("runA", 0)] == pytest.approx((hv.reference[0] - 0.002) * (hv.reference[1] - 0.030))


def test_failures_counted_by_generation_and_reason(report_a):
    failures = rows(report_a / "failures.csv")
    assert [(r["generation"], r["status"], r["count"]) for r in failures] == [
        ("0", "timeout", "1"), ("1", "error", "1")]
    summary = (report_a / "summary.md").read_text()
    assert "| generation | evaluated | ok | timeout | error |" in summary
    assert "| 0 | 4 | 3 | 1 | 0 |" in summary
    assert "| 1 | 8 | 7 | 0 | 1 |" in summary
    assert "ValueError: boom" in summary


def test_evaluations_set_aside_at_a_resume_are_not_said_to_have_been_training(tmp_path):
    """A review's run stopped with 2 trainings running and 6 more sent to Dask, waiting for a
    worker: the summary said all 8 "were running when a driver stopped"."""
    run = run_a(tmp_path / "runA")
    with Journal.of(run) as journal:
        for birth in (20, 21, 22):
            waiting = ok(f"w{birth}", 2, birth, 0.001, 0.01, runtime=None).trial
            journal.started(waiting)
            journal.mark_interrupted(waiting.uuid, f"birth {birth} re-run as x{birth}")
    assert main([str(run)]) == 0
    summary = (run / "report" / "summary.md").read_text()
    assert ("3 evaluations were set aside on resume and re-run under a new uuid (status interrupted in the "
            "journal; not counted above): sent out and not finished when a driver stopped (training, or waiting "
            "for a worker), or no longer the birth a --force resume bred.") in summary, summary
    assert "running when" not in summary


def test_a_stopped_run_is_reported_up_to_its_last_recorded_generation(tmp_path):
    """A review's stopped run: the failures table had a row for offspring no recorded
    population judged, and they moved the default reference point."""
    run = stopped_a(tmp_path / "runA")
    assert main([str(run)]) == 0
    hv = tables.hypervolumes(analyse([run]))
    assert hv.reference == pytest.approx((0.0108, 0.217))
    failures = rows(run / "report" / "failures.csv")
    assert [(r["generation"], r["status"], r["count"]) for r in failures] == [("0", "timeout", "1")]
    summary = (run / "report" / "summary.md").read_text()
    assert "| 1 | 8 |" not in summary
    assert "| 0 | 4 | 1 | 0 | no (report of the last recorded generation; 8 later evaluations left out) |" in summary


def test_evaluations_in_flight_say_whether_their_driver_runs(tmp_path, capsys):
    """"running or left in flight by a stopped driver" either way (helper-127): the run
    directory's lock tells a live driver's trainings from those a killed one left."""
    from report_journals import _trial

    from dnnp_hpo.journal import Journal
    from dnnp_hpo.runlock import RunLock

    run = stopped_a(tmp_path / "runA")
    with Journal.of(run) as journal:
        journal.started(_trial("x", 2, 20, 8.0, "tanh"))
    assert main([str(run), "--out", str(tmp_path / "stopped")]) == 0
    assert "1 evaluation left in flight by a stopped driver)" in capsys.readouterr().out
    assert "1 evaluation left in flight by a stopped driver, not finished" in (
        tmp_path / "stopped" / "summary.md").read_text()
    with RunLock(run, "spec.yaml"):  # as a live driver holds it
        assert main([str(run), "--out", str(tmp_path / "live")]) == 0
    assert "1 evaluation running (its driver is running))" in capsys.readouterr().out
    assert "1 evaluation running (its driver is running), not finished" in (tmp_path / "live" / "summary.md").read_text()


def test_figures_of_a_run_whose_every_evaluation_failed_say_so(tmp_path):
    """A review's all-failed run: front.png had legend entries for points it did not draw,
    and the failures chart ticked its counts at 0.5, 1.5, 2.5."""
    bad = [failed(name, 0, birth, "failed", "dp exited with status 1") for birth, name in enumerate("abc")]
    analysis = analyse([write_run(tmp_path / "run", {0: bad}, {0: ["a", "b", "c"]})])
    final = analysis.final()
    _, fig = plots.plot_front(analysis, final, tables.front(final), tmp_path)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert not [label for label in labels if not label.startswith("chemical accuracy")], labels
    assert [t.get_text() for t in ax.texts] == ["no successful evaluation in the final population"]
    _, fig = plots.plot_failures(tables.failures(analysis), tmp_path)
    ticks = fig.axes[0].get_yticks()
    assert len(ticks) > 1 and all(t == int(t) for t in ticks), ticks


def test_front_legend_covers_no_solution(tmp_path):
    """A review's quickstart report: the legend, inside the axes at matplotlib's "best"
    place, hid a final solution in the upper-right corner.  Here a solution sits in each
    corner and in the middle of each side: none is under the legend."""
    corners = [(e, f) for e in (0.002, 0.008, 0.014) for f in (0.03, 0.13, 0.24)]
    final = [ok(f"s{i}", 0, i, e, f, runtime=1.0) for i, (e, f) in enumerate(corners)]
    analysis = analyse([write_run(tmp_path / "run", {0: final}, {0: [e.trial.uuid for e in final]})])
    solutions = analysis.final()
    _, fig = plots.plot_front(analysis, solutions, tables.front(solutions), tmp_path)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    points = ax.transData.transform([s.fitness[:2] for s in solutions])
    assert len(points) == 9
    assert not [tuple(p) for p in points if legend.x0 - 5 <= p[0] <= legend.x1 + 5
                and legend.y0 - 5 <= p[1] <= legend.y1 + 5]


def test_failures_legend_covers_no_bar(tmp_path):
    # Every generation failed alike, three statuses: the legend inside the axes sat on a bar.
    generations = tuple(range(6))
    counts = {(g, status): n for g in generations for status, n in (("failed", 3), ("timeout", 2), ("error", 1))}
    fc = tables.FailureCounts(generations, dict.fromkeys(generations, 6), counts, ("failed", "timeout", "error"), [])
    _, fig = plots.plot_failures(fc, tmp_path)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in ax.patches]
    assert len(bars) == 18
    assert not [bar for bar in bars if bar.overlaps(legend)]
    assert [t.get_text() for t in ax.texts] == ["6/6"] * 6, "six labels fit above six bars"


@pytest.mark.parametrize("generations", [50, 201])
def test_failures_unlabelled_when_the_labels_would_run_together(tmp_path, generations):
    """A label per bar ran into its neighbours from some 30 generations on ("12/10010/100"),
    and 201 "0/100" made a black band along the axis (helper-89)."""
    counts = {(g, "failed"): 10 + g % 7 for g in range(generations)}
    fc = tables.FailureCounts(tuple(range(generations)), dict.fromkeys(range(generations), 100), counts,
                              ("failed",), [])
    caption, fig = plots.plot_failures(fc, tmp_path)
    ax = fig.axes[0]
    assert len(ax.texts) == 0 and ax.get_title() == "Failures per generation"
    assert "Too many generations to label each bar: summary.md counts each generation's failures." in caption
    assert len(ax.patches) == generations


def test_every_file_written(report_a):
    for stem in ("front", "generations", "parallel", "hypervolume", "failures"):
        for ext in ("png", "svg"):
            path = report_a / f"{stem}.{ext}"
            assert path.stat().st_size > 1000, path
        assert f"({stem}.png)" in (report_a / "summary.md").read_text()
    assert (report_a / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_leave_maxint_out_and_use_log_scales(tmp_path):
    analysis = analyse([run_a(tmp_path / "runA")])
    final = analysis.final()
    front = tables.front
    caption, fig = plots.plot_front(analysis, final, front(final), tmp_path)
    ax = fig.axes[0]
    assert "1 failed (MAXINT) not shown" in caption
    assert ax.get_xlim()[1] < 0.1 and ax.get_ylim()[1] < 0.1  # i's 2147483647 is not on an axis
    # final energies 0.0004..0.004 span exactly a decade, forces 0.030..0.0409 less: linear
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "energy_rmse (eV/atom)" and ax.get_ylabel() == "force_rmse (eV/A)"
    # the front is drawn as open rings over the points: an accurate member's blue shows
    (front_line,) = [line for line in ax.lines if line.get_label().startswith("exact Pareto front")]
    assert front_line.get_markerfacecolor() == "none"
    caption, fig = plots.plot_generations(analysis, tmp_path)
    assert "2 failed evaluations (MAXINT)" in caption
    # grey: the births selection threw away, which generation 0 has none of (its births are
    # its population); "the evaluations born in that generation (grey)" said every birth
    assert caption.startswith("Each panel: the population kept after selection (blue) and the evaluations born in "
                              "that generation that selection threw away (grey)"), caption
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    # counts in the titles, not over the points (run_a: c failed in generation 0, i in 1)
    assert [ax.get_title() for ax in panels] == ["generation 0\n4 evaluated, 1 failed (not shown)",
                                                 "generation 1\n8 evaluated, 1 failed (not shown)"]
    assert not [t for ax in panels for t in ax.texts], "nothing drawn over the points"
    assert all(ax.get_ylim()[1] < 1 for ax in panels)
    # all generations: energies 0.0004..0.020 (50x), forces 0.030..0.5 (17x): log axes
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in panels)
    caption, fig = plots.plot_parallel(analysis, final, front(final), tmp_path)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[:2] == ["rcut", "activ"] and "on Pareto front" in labels
    assert "energy_rmse (eV/atom)" in "".join(labels)
    _, fig_hv = plots.plot_hypervolume(tables.hypervolumes(analysis), tmp_path, ["eV/atom", "eV/A"])
    assert fig_hv.axes[0].get_ylabel() == "hypervolume of the population (eV/atom x eV/A)"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["chemically accurate (6)", "not chemically accurate (1)"]


def test_spec_limits_and_command_line_override(tmp_path):
    spec = {**SPEC, "report": {"chemical_accuracy": {"force_rmse": 0.036}}}
    run = run_a(tmp_path / "runA")
    write_run(run, {}, {}, spec=spec)  # replace the spec only

    def accurate(**kwargs):
        analysis = analyse([run], **kwargs)
        return {s.uuid for s in tables.accurate_solutions(analysis, analysis.final())}

    assert accurate() == {"d", "e"}  # force <= 0.036, energy <= 0.004 (the paper's, for eV/atom)
    # a limit given for one objective leaves the other's: force still <= 0.036 (the spec's)
    assert accurate(accuracy={"energy_rmse": 0.001}) == set()  # f and h have forces 0.0374, 0.0409
    assert accurate(accuracy={"energy_rmse": 0.001, "force_rmse": 0.04}) == {"f"}
    source = analyse([run], accuracy={"energy_rmse": 0.001}).threshold_source
    assert source == "--accuracy on the command line for energy_rmse; report.chemical_accuracy in the spec for " \
                     "force_rmse", source
    assert analyse([run]).threshold_source == (  # in the objectives' order
        "the paper's defaults for the units of energy_rmse, its section 3.2; "
        "report.chemical_accuracy in the spec for force_rmse")


def test_a_limit_given_for_one_objective_keeps_the_paper_s_for_the_other(tmp_path):
    """--accuracy energy_rmse=0.001 on a run without limits in its spec judged energy only:
    h, with a force error over 0.04 eV/A, was called chemically accurate."""
    run = run_a(tmp_path / "runA")
    analysis = analyse([run], accuracy={"energy_rmse": 0.001})
    assert analysis.thresholds == {"energy_rmse": 0.001, "force_rmse": 0.04}
    assert {s.uuid for s in tables.accurate_solutions(analysis, analysis.final())} == {"f"}


def test_two_merged_runs(tmp_path):
    a, b = run_a(tmp_path / "runA"), run_b(tmp_path / "runB")
    out = tmp_path / "merged"
    assert main([str(a), str(b), "--out", str(out), "--reference", "1,1"]) == 0
    assert [r["uuid"] for r in rows(out / "front.csv")] == ["h", "f", "m", "d"]
    assert {r["uuid"] for r in rows(out / "accurate.csv")} == set("defgjkm")
    picks = {r["choice"]: (r["uuid"], r["run"]) for r in rows(out / "selected.csv")}
    assert picks == {"lowest energy_rmse": ("f", "runA"), "lowest force_rmse": ("d", "runA"),
                     "lowest runtime": ("m", "runB")}
    hv = {(r["series"], int(r["generation"])): float(r["hypervolume"]) for r in rows(out / "hypervolume.csv")}
    assert hv[("runB", 0)] == pytest.approx((1 - 0.05) * (1 - 0.9))
    assert hv[("all runs", 1)] == pytest.approx((1 - 0.0004) * (1 - 0.0409) + (1 - 0.0005) * (0.0409 - 0.0374)
                                                + (1 - 0.0010) * (0.0374 - 0.0320) + (1 - 0.002) * (0.0320 - 0.030))
    assert hv[("all runs", 1)] > hv[("runA", 1)]
    summary = (out / "summary.md").read_text()
    assert "2 merged runs" in summary and "| runB |" in summary
    assert not (a / "report").exists() and not (b / "report").exists()


def test_a_merged_replicates_run_s_failures_keep_their_reasons(tmp_path):
    """Left out of the failures per generation (its generation 0 is no search's), a
    replicates run's failures were left out of their reasons too: failures.csv and the
    summary lost "dp: CUDA out of memory" (helper-80).  Named with the run, they stay."""
    search = run_a(tmp_path / "runA")
    spec = {**SPEC, "seed": 2, "optimizer": {"plugin": "replicates", "source": str(search), "seeds": 2}}
    # trained with seeds of their own (the replicates run's seed is 2), not run_a's births 0 and 1
    again = [attrs.evolve(e, trial=attrs.evolve(e.trial, seed=e.trial.seed + 1000))
             for e in (ok("r1", 0, 0, 0.002, 0.030, runtime=10.0), failed("r2", 0, 1, "failed", "dp: CUDA out of memory"))]
    reps = write_run(tmp_path / "reps", {0: again}, {0: ["r1", "r2"]}, spec=spec)
    out = tmp_path / "merged"
    assert main([str(search), str(reps), "--out", str(out), "--reference", "1,1"]) == 0
    reason = "dp: CUDA out of memory (in reps, a replicates run)"
    assert [(r["generation"], r["status"], r["count"]) for r in rows(out / "failures.csv")
            if r["reason"] == reason] == [("0", "failed", "1")]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"| failed | {reason} | 1 | 0: 1 |" in summary
    alone = tables.failures(analyse([search]))  # the counts per generation are the search's
    merged = tables.failures(analyse([search, reps]))
    assert (merged.evaluated, merged.by_status) == (alone.evaluated, alone.by_status)


def _run_b_in(tmp_path: Path, force_unit: str) -> Path:
    """run_b with its force in ``force_unit`` (run_a's is eV/A)."""
    spec = {**SPEC, "objectives": [SPEC["objectives"][0], {"name": "force_rmse", "unit": force_unit}]}
    return write_run(run_b(tmp_path / "runB"), {}, {}, spec=spec)


@pytest.mark.parametrize("unit", ["eV/Å", "eV/\u212b", "eV/A\u030a", "eV / angstrom", "ev/a",
                                  "eV Å^-1", "eV·Å⁻¹", "eV A-1", "eV Å^\u22121"])
def test_runs_merge_whichever_way_angstrom_is_spelt(tmp_path, unit):
    """Each spelling merged with run_a's eV/A, as hpo-report merges them (analyse: the
    units' check and the limits), judged by the default limits; the report of such a
    merge is written end to end in the test below (the spelling reaches no figure: the
    merged report's objectives are the first run's)."""
    analysis = analyse([run_a(tmp_path / "runA"), _run_b_in(tmp_path, unit)])
    assert {s.uuid for s in tables.accurate_solutions(analysis, analysis.final())} == set("defgjkm")


def test_runs_merged_with_angstrom_spelt_otherwise_are_reported(tmp_path):
    a, b = run_a(tmp_path / "runA"), _run_b_in(tmp_path, "eV/Å")
    out = tmp_path / "merged"
    assert main([str(a), str(b), "--out", str(out), "--reference", "1,1"]) == 0
    assert {r["uuid"] for r in rows(out / "accurate.csv")} == set("defgjkm")  # the default limits apply


def _trained_again(e, genome):
    """``e`` as another training of ``genome`` (a replicate: same candidate, own uuid)."""
    return attrs.evolve(e, trial=attrs.evolve(e.trial, genome=genome))


def test_a_parameter_that_decodes_to_a_list_is_reported(tmp_path):
    """A plugin's parameter type may decode to a list (layer widths); the parallel
    coordinates crashed on it (unhashable type: 'list')."""
    evaluations = [ok("a", 0, 0, 0.003, 0.05, runtime=1.0, activ=[64, 64]),
                   ok("b", 0, 1, 0.002, 0.06, runtime=1.0, activ=[32, 32, 32])]
    run = write_run(tmp_path / "widths", {0: evaluations}, {0: ["a", "b"]})
    assert main([str(run)]) == 0
    assert {r["activ"] for r in rows(run / "report" / "final.csv")} == {"[64, 64]", "[32, 32, 32]"}


def test_identical_trainings_have_their_value_as_mean_and_no_spread(tmp_path):
    """A review's replicates: numpy's mean of three equal values came out below their
    minimum, and their sd as 2.66e-19."""
    value = 0.0015614925946854283
    genome = (9.0, 0.0)
    evaluations = [_trained_again(ok(f"r{i}", 0, i, value, 0.03, runtime=10.0), genome) for i in range(3)]
    run = write_run(tmp_path / "reps", {0: evaluations}, {0: ["r0", "r1", "r2"]})
    (again,) = tables.repeated(analyse([run]))
    assert again.mean == again.low == again.high == (value, 0.03)
    assert again.sd == (0.0, 0.0)


def test_a_candidate_with_one_successful_training_shows_no_spread(tmp_path):
    """r0 trained, r1 and r2 (the same candidate) failed, and t twice with two values: the
    summary gave r0 "0.003 ±  [0.003, 0.003]", a blank sd read as a missing number."""
    genome, other = (9.0, 0.0), (8.0, 1.0)
    evaluations = [_trained_again(ok("r0", 0, 0, 0.003, 0.039, runtime=10.0), genome),
                   *[_trained_again(failed(f"r{i}", 0, i, "failed", "dp exited with 1"), genome) for i in (1, 2)],
                   _trained_again(ok("t0", 0, 3, 0.002, 0.030, runtime=10.0), other),
                   _trained_again(ok("t1", 0, 4, 0.004, 0.030, runtime=10.0), other)]
    run = write_run(tmp_path / "reps", {0: evaluations}, {0: ["r0", "r1", "r2", "t0", "t1"]})
    assert main([str(run), "--reference", "1,1"]) == 0
    summary = (run / "report" / "summary.md").read_text(encoding="utf-8")
    table = summary.split("## Candidates trained more than once", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(lines) == 2
    assert "| 3 | 2 | 0.003 (one success) | 0.039 (one success) |" in table
    assert "0.003 ± 0.001414 [0.002, 0.004] | 0.03 ± 0 [0.03, 0.03]" in table
    assert "±  [" not in table
    # repeated.csv leaves the sd it has not empty, as docs/outputs.md says (it wrote "nan")
    by_trainings = {r["trainings"]: r for r in rows(run / "report" / "repeated.csv")}
    assert (by_trainings["3"]["mean energy_rmse (eV/atom)"], by_trainings["3"]["sd energy_rmse (eV/atom)"]) == (
        "0.003", "")  # units in the header, as front.csv's (helper-92)
    assert float(by_trainings["2"]["sd energy_rmse (eV/atom)"]) == pytest.approx(0.001414, abs=1e-6)


def test_a_candidate_trained_more_than_once_is_judged_by_each_training(tmp_path):
    """r1, r2 and r3 are three trainings of one candidate (replicates).  s (0.002, 0.030)
    dominates r1 (0.003, 0.039) and r3 (0.0035, 0.0395), not r2 (0.001, 0.035: lower
    energy).  Front, by energy: r2, s; accurate (<= 0.004, <= 0.04): all four, each
    training once; Table 3: lowest energy r2, lowest force s."""
    genome = (9.0, 0.0)
    evaluations = [_trained_again(ok("r1", 0, 0, 0.003, 0.039, runtime=10.0), genome),
                   _trained_again(ok("r2", 0, 1, 0.001, 0.035, runtime=10.0), genome),
                   _trained_again(ok("r3", 0, 2, 0.0035, 0.0395, runtime=10.0), genome),
                   ok("s", 0, 3, 0.002, 0.030, runtime=20.0)]
    run = write_run(tmp_path / "reps", {0: evaluations}, {0: ["r1", "r2", "r3", "s"]})
    assert main([str(run), "--reference", "1,1"]) == 0
    report = run / "report"
    assert [r["uuid"] for r in rows(report / "front.csv")] == ["r2", "s"]
    assert {r["uuid"] for r in rows(report / "final.csv") if r["on_front"] == "True"} == {"r2", "s"}
    assert sorted(r["uuid"] for r in rows(report / "accurate.csv")) == ["r1", "r2", "r3", "s"]
    picks = {r["choice"]: r["uuid"] for r in rows(report / "selected.csv")}
    assert picks["lowest energy_rmse"] == "r2" and picks["lowest force_rmse"] == "s"


def test_failures_with_their_directory_in_the_reason_are_counted_together(tmp_path):
    """A command trainer's reason names the evaluation's own directory (its uuid): the
    same failure in two evaluations is one reason counted twice, not two reasons."""
    def sh_failed(name, birth):
        return failed(name, 0, birth, "failed", f"sh exited with status 1: boom (see /r/evals/{name}/stderr.log)")

    run = write_run(tmp_path / "fails", {0: [sh_failed("u1", 0), sh_failed("u2", 1),
                                             ok("s", 0, 2, 0.002, 0.030, runtime=20.0)]},
                    {0: ["u1", "u2", "s"]})
    counts = tables.failures(analyse([run]))
    assert counts.by_reason == [("failed", "sh exited with status 1: boom (see /r/evals/<uuid>/stderr.log)", {0: 2})]


def test_runtime_as_an_objective_has_one_column_and_one_pick(tmp_path):
    """Objectives energy, force and runtime: the runtime is not added again after them."""
    spec = {**SPEC, "objectives": [*SPEC["objectives"], {"name": "runtime", "unit": "s"}]}
    evaluations = [attrs.evolve(e, fitness=(*e.fitness, e.metrics["runtime"]))
                   for e in (ok("p", 0, 0, 0.002, 0.030, runtime=50.0), ok("q", 0, 1, 0.001, 0.035, runtime=90.0))]
    run = write_run(tmp_path / "three", {0: evaluations}, {0: ["p", "q"]}, spec=spec)
    assert main([str(run), "--reference", "1,1,100"]) == 0
    for table in ("selected.csv", "final.csv", "front.csv"):
        with open(run / "report" / table, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header.count("runtime (s)") == 1, (table, header)
    picks = [(r["choice"], r["uuid"]) for r in rows(run / "report" / "selected.csv")]
    assert picks == [("lowest energy_rmse", "q"), ("lowest force_rmse", "p"), ("lowest runtime", "p")]


def test_runtimes_have_one_unit_in_every_table_and_figure_3(tmp_path):
    """The picks p (120 s) and q (300 s) are accurate; "slow" (900 s) is not.  Table 3
    chose its unit from the picks (seconds), Figure 3 from all final solutions (minutes),
    and the front and accurate tables always said seconds: now minutes everywhere, as one
    final solution trained over 10 minutes (the CSVs keep seconds)."""
    evaluations = [ok("p", 0, 0, 0.002, 0.030, runtime=120.0), ok("q", 0, 1, 0.001, 0.035, runtime=300.0),
                   ok("slow", 0, 2, 0.01, 0.3, runtime=900.0)]
    run = write_run(tmp_path / "mixed", {0: evaluations}, {0: ["p", "q", "slow"]})
    assert main([str(run), "--reference", "1,1"]) == 0
    summary = (run / "report" / "summary.md").read_text(encoding="utf-8")
    assert "runtime (s)" not in summary
    assert summary.count("runtime (min)") == 3  # Table 2, the accurate ones, Table 3
    assert "| runtime (min) | 5 | 2 | 2 |" in summary  # Table 3: q, p, p (300 s, 120 s, 120 s)
    analysis = analyse([run])
    _, figure = plots.plot_parallel(analysis, analysis.final(), [], tmp_path)
    assert "runtime (min)" in [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert float(rows(run / "report" / "final.csv")[0]["runtime (s)"]) in (120.0, 300.0, 900.0)


def test_a_value_next_to_its_limit_is_shown_on_its_side_of_it(tmp_path):
    """Limits 0.004 eV/atom and 0.04 eV/A: "over" (0.0040004 eV/atom) is not accurate and
    "under" (0.0039996) is, yet summary.md showed both as 0.004, beside "no" and "yes"."""
    evaluations = [ok("over", 0, 0, 0.0040004, 0.03, runtime=10.0), ok("under", 0, 1, 0.0039996, 0.035, runtime=10.0)]
    run = write_run(tmp_path / "close", {0: evaluations}, {0: ["over", "under"]})
    assert main([str(run), "--reference", "1,1"]) == 0
    summary = (run / "report" / "summary.md").read_text(encoding="utf-8")
    assert "| 1 | 0.0039996 | 0.035 | 10 | yes | close | under |" in summary  # Table 2, by energy
    assert "| 2 | 0.0040004 | 0.03 | 10 | no | close | over |" in summary
    assert "| energy_rmse (eV/atom) | 0.0039996 | 0.0039996 | 0.0039996 |" in summary  # Table 3
    # a limit with more digits than shown: 0.00400055 is under 0.0040006, "0.004001" is not
    assert beside_limit(0.00400055, 0.0040006) == "0.00400055"
    assert beside_limit(0.00123456, 0.004) == 0.00123456  # far from it: 4 digits, as fmt shows


def test_parallel_axis_labels_tell_close_values_apart():
    """A converged parameter spans a sliver of its range: its ticks still read apart."""
    _, _, labels = plots._column([2.44001e-05, 2.44032e-05], None, log=False)
    assert len(set(labels)) == len(labels) == 5, labels
    assert plots._column([1.0, 2.0], None, log=False)[2] == ["1", "1.25", "1.5", "1.75", "2"]


def test_the_closing_line_counts_accurate_solutions_only_when_there_are_limits(made_a, tmp_path, capsys):
    _, line = made_a  # run_a's report, made with --reference 1,1
    assert "4 solutions on the front, 6 chemically accurate;" in line
    run = run_a(tmp_path / "runA")
    write_run(run, {}, {}, spec={**SPEC, "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}]})
    assert main([str(run), "--reference", "1,1", "--out", str(tmp_path / "nolimits")]) == 0
    assert "4 solutions on the front, no chemical-accuracy limits;" in capsys.readouterr().out


def test_default_limits_read_the_unit_not_its_case_for_mega():
    """meV and eV are told apart case-blind (EV/ATOM is eV/atom), but MeV is mega-electronvolt:
    lower-casing made it meV and gave it the 4 meV/atom limit (a review's)."""
    from dnnp_hpo.front import default_limits

    units = [("e", "EV / ATOM"), ("m", "meV/atom"), ("big", "MeV/atom"), ("f", "meV/\u212b")]
    assert default_limits(units) == {"e": 0.004, "m": 4.0, "f": 40.0}


def _tick_labels(fig, ax) -> list[tuple[float, Any]]:
    """(value, box) of each x tick label drawn inside the axis, in order of value."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    low, high = ax.get_xlim()
    return sorted(((tick.get_loc(), tick.label1.get_window_extent(renderer))
                   for tick in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()
                   if tick.label1.get_visible() and tick.label1.get_text() and low <= tick.get_loc() <= high),
                  key=lambda item: item[0])


@pytest.mark.parametrize(("low", "high"), [(2.5e-3, 3.0e-2), (3.0e-3, 4.0e-2), (1.1e-3, 1.5e-2), (1.5e-3, 0.5),
                                           (2e-3, 0.35), (1e-4, 0.1)])
def test_log_axes_label_every_decade_without_overlapping_labels(tmp_path, low, high):
    """A review's front.png: on an energy axis of a decade and a bit, matplotlib labelled
    3 and 4 x 10^-3 on top of each other and left the lower decade without a label; the
    first fix then crowded the small panels of generations.png on wider axes."""
    energies = [low * (high / low) ** (i / 7) for i in range(8)]
    generations = {g: [ok(f"e{g}{i}", g, 8 * g + i, energy, 0.03 + 0.001 * i, runtime=None)
                       for i, energy in enumerate(energies)] for g in range(4)}
    analysis = analyse([write_run(tmp_path / "run", generations,
                                  {g: [e.trial.uuid for e in evaluations] for g, evaluations in generations.items()})])
    final = analysis.final()
    _, front_fig = plots.plot_front(analysis, final, tables.front(final), tmp_path)
    _, generations_fig = plots.plot_generations(analysis, tmp_path)
    for fig in (front_fig, generations_fig):
        for ax in [ax for ax in fig.axes if ax.get_visible()]:
            assert ax.get_xscale() == "log"
            labels = _tick_labels(fig, ax)
            assert all(not a.overlaps(b) for (_, a), (_, b) in itertools.pairwise(labels)), [v for v, _ in labels]
            values = [v for v, _ in labels]
            powers = [v for v in values if math.isclose(10 ** round(math.log10(v)), v)]
            if len(powers) <= 1:  # up to two decades: each has a label (2 or 5 times a power)
                decades = {math.floor(math.log10(energy)) for energy in energies}
                assert decades <= {math.floor(math.log10(v) + 1e-9) for v in values}, values
            else:  # wider: the powers of ten alone, as matplotlib labels them
                assert powers == values, values


def test_the_limits_name_the_objectives_left_without_one():
    """An objective whose unit has no default (kcal/mol/A here) and no limit of its own is
    named: a model was called accurate on its energy alone, without a word."""
    from dnnp_hpo.front import accuracy_limits, limits_text

    named = [("energy_rmse", "eV/atom"), ("force_rmse", "kcal/mol/A")]
    limits = accuracy_limits(named, {})
    assert limits == {"energy_rmse": 0.004}
    assert limits_text(named, limits) == ("energy_rmse <= 0.004 eV/atom; no limit for force_rmse (give one in "
                                          "report.chemical_accuracy)")
    assert limits_text(named, accuracy_limits(named, {"force_rmse": 1.0})) == (
        "energy_rmse <= 0.004 eV/atom, force_rmse <= 1 kcal/mol/A")
    # a runtime objective is a cost, not an error: not asked for a limit
    with_runtime = [("energy_rmse", "eV/atom"), ("runtime", "s")]
    assert limits_text(with_runtime, accuracy_limits(with_runtime, {})) == "energy_rmse <= 0.004 eV/atom"
    # a power other than -1 is no eV/A
    assert accuracy_limits([("f", "eV Å^-1.5")], {}) == {}


def test_runs_started_with_the_same_seed_are_not_merged(tmp_path, capsys):
    """The same spec run twice with one seed trains the same candidates (genome and seed)
    under new uuids: merged, each counted twice and their spread shown as '± 0' (a
    review's).  Refused, naming the seed, also when the runs differ in their budget,
    optimizer or launcher only; another seed or another trainer merges."""
    from report_journals import _generations_a

    a = run_a(tmp_path / "runA")
    renamed = {g: [attrs.evolve(e, trial=attrs.evolve(e.trial, uuid=f"{e.trial.uuid}2")) for e in evaluations]
               for g, evaluations in _generations_a().items()}
    again = write_run(tmp_path / "again", renamed, {0: ["a2", "b2", "c2", "d2"],
                                                     1: ["d2", "e2", "f2", "g2", "h2", "j2", "k2", "i2"]})
    assert main([str(a), str(again), "--out", str(tmp_path / "merged"), "--reference", "1,1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "birth 0 was trained with the same genome and seed in" in err, err
    assert "--set seed=N" in err
    # another budget, optimizer or launcher with one seed trains the same generation 0: the
    # same trainings, refused as well (a review merged such a pair, each training twice)
    # (and a move to a cluster: the trainer's launch_prefix, env and time limit, the sigmas)
    cluster_trainer = {**SPEC["trainer"], "launch_prefix": ["srun", "-n1"], "env": {"OMP_NUM_THREADS": 4},
                       "timeout_minutes": 300}
    other_sigmas = {name: {**p, "sigma": 0.5, "bounds": p["init"]} if "init" in p else {**p, "sigma": 0.5}
                    for name, p in SPEC["space"].items()}
    # the data copied to /scratch: their place differs, their content (no digests here) does not
    populations = {0: ["a", "b", "c", "d"], 1: ["d", "e", "f", "g", "h", "j", "k", "i"]}
    home = write_run(tmp_path / "home", _generations_a(), populations,
                     spec={**SPEC, "trainer": {**SPEC["trainer"], "settings": {"train": "/home/t"}, "paths": ["train"]}})
    scratch = write_run(tmp_path / "scratch", renamed, {g: [f"{n}2" for n in names] for g, names in populations.items()},
                        spec={**SPEC, "trainer": {**SPEC["trainer"], "settings": {"train": "/scratch/t"},
                                                  "paths": ["train"]}})
    assert main([str(home), str(scratch), "--out", str(tmp_path / "merged-moved"), "--reference", "1,1"]) == 2
    assert "birth 0 was trained with the same genome and seed in" in capsys.readouterr().err
    for key, value in (("optimizer", {"plugin": "nsga2-async", "pop_size": 4, "max_births": 12}),
                       ("launcher", {"plugin": "dask", "workers": 1}), ("trainer", cluster_trainer),
                       ("space", other_sigmas)):
        longer = write_run(tmp_path / key, renamed, {0: ["a2", "b2", "c2", "d2"],
                                                     1: ["d2", "e2", "f2", "g2", "h2", "j2", "k2", "i2"]},
                           spec={**SPEC, key: value})
        assert main([str(a), str(longer), "--out", str(tmp_path / f"merged-{key}"), "--reference", "1,1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "birth 0 was trained with the same genome and seed in" in err, err
    other_seeds = {g: [attrs.evolve(e, trial=attrs.evolve(e.trial, seed=e.trial.seed + 1000)) for e in evaluations]
                   for g, evaluations in renamed.items()}
    reseeded = write_run(tmp_path / "reseeded", other_seeds, {0: ["a2", "b2", "c2", "d2"],
                                                              1: ["d2", "e2", "f2", "g2", "h2", "j2", "k2", "i2"]})
    assert main([str(a), str(reseeded), "--out", str(tmp_path / "merged2"), "--reference", "1,1"]) == 0
    # one seed, but another trainer (its template): other trainings, merged with the usual note
    other_template = {**SPEC, "trainer": {**SPEC["trainer"], "template": "other.json"}}
    other = write_run(tmp_path / "other", renamed, {0: ["a2", "b2", "c2", "d2"],
                                                     1: ["d2", "e2", "f2", "g2", "h2", "j2", "k2", "i2"]},
                      spec=other_template)
    assert main([str(a), str(other), "--out", str(tmp_path / "merged3"), "--reference", "1,1"]) == 0
    assert "other's spec differs from runA's in: trainer" in (tmp_path / "merged3" / "summary.md").read_text()


def test_a_run_of_the_previous_version_merges_without_a_report_note(tmp_path):
    """This version records each session's report block ({} without one); the previous
    recorded none.  Merged, the two read as differing in 'report' (a review's)."""
    from dnnp_hpo.journal import REPORT_SETTINGS, Journal

    old, new = run_a(tmp_path / "runA"), run_b(tmp_path / "runB")
    with Journal.of(new) as journal:
        journal.set_meta(REPORT_SETTINGS, {})
    assert main([str(old), str(new), "--out", str(tmp_path / "merged"), "--reference", "1,1"]) == 0
    assert "differs from" not in (tmp_path / "merged" / "summary.md").read_text()


def test_a_hypervolume_that_underflows_is_not_blamed_on_the_reference(tmp_path):
    """Objectives near 1e-200 beat the default reference in every objective, and their
    volume (about 1e-400) is below a float's smallest: the warning said no solution beat
    the reference point and advised another --reference (a review's)."""
    evaluations = [ok("a", 0, 0, 1e-200, 2e-200, runtime=1.0), ok("b", 0, 1, 2e-200, 1e-200, runtime=1.0)]
    run = write_run(tmp_path / "tiny", {0: evaluations}, {0: ["a", "b"]})
    volumes = tables.hypervolumes(analyse([run]))
    assert all(v > 1e-200 for v in volumes.reference)
    assert volumes.reference_source.endswith("plus 10% of its range")
    # one success: no range, so a tenth of the value's size (the summary said "of its range")
    single = write_run(tmp_path / "one", {0: evaluations[:1]}, {0: ["a"]})
    assert tables.hypervolumes(analyse([single])).reference_source.endswith(
        "plus 10% of its range (energy_rmse, force_rmse: of its one value's size, 0.1 at 0)")
    assert volumes.warning.startswith("every hypervolume is 0: the volume between the solutions and the reference "
                                      "point (")
    assert volumes.warning.endswith("is smaller than a float holds")
    assert volumes.advice == "Report the objectives in a larger unit."
    # a reference no solution beats keeps its own words
    beaten = tables.hypervolumes(analyse([run]), reference=(1e-201, 1e-201))
    assert beaten.warning.startswith("no solution is better than the reference point")


def test_reasons_alike_but_for_their_numbers_are_one_row_of_the_summary(tmp_path):
    """Six rows of "diverged at step N" (a review's run) pushed other reasons under the
    table's cut; failures.csv keeps each reason as it was."""
    evaluations = [ok("u0", 0, 0, 0.002, 0.03, runtime=1.0),
                   failed("u1", 0, 1, "failed", "diverged at step 1019"),
                   failed("u2", 0, 2, "failed", "diverged at step 278"),
                   failed("u3", 0, 3, "failed", "diverged at step 1019"),
                   failed("u4", 0, 4, "error", "diverged at step 5"),  # another status: its own row
                   failed("u5", 0, 5, "failed", "dp exited with status 1")]
    run = write_run(tmp_path / "run", {0: evaluations}, {0: ["u0", "u1", "u2", "u3", "u4", "u5"]})
    assert main([str(run), "--reference", "1,1"]) == 0
    summary = (run / "report" / "summary.md").read_text(encoding="utf-8")
    table = summary.split("By reason:", 1)[1]
    assert "| failed | diverged at step 1019 (and 1 more alike but for their numbers) | 3 | 0: 3 |" in table
    assert "| error | diverged at step 5 | 1 | 0: 1 |" in table
    assert "| failed | dp exited with status 1 | 1 | 0: 1 |" in table
    assert "step 278" not in table
    assert sorted((r["reason"], r["count"]) for r in rows(run / "report" / "failures.csv")) == [
        ("diverged at step 1019", "2"), ("diverged at step 278", "1"), ("diverged at step 5", "1"),
        ("dp exited with status 1", "1")]


def test_a_reason_in_many_generations_lists_the_first_twelve():
    """A 200-generation run's "By reason" cell was 1,700 characters wide (helper-89);
    failures.csv holds each generation's count."""
    from dnnp_hpo.report.summary import REASON_GENERATIONS, _per_generation

    twelve = {g: g + 1 for g in range(REASON_GENERATIONS)}
    assert _per_generation(twelve) == ", ".join(f"{g}: {g + 1}" for g in range(12))
    many = {g: 2 for g in range(200, 0, -1)}
    assert _per_generation(many) == ", ".join(f"{g}: 2" for g in range(1, 13)) + (
        ", ... (188 more generations in failures.csv)")
    assert _per_generation(dict.fromkeys(range(13), 1)).endswith(", 11: 1, ... (1 more generation in failures.csv)")


def test_a_front_of_three_objectives_says_the_limit_it_does_not_draw(tmp_path):
    """Grey points inside both drawn limits, one blue, and nothing to say why: they fail the
    third objective's limit, which the projection cannot show (helper-92)."""
    spec = {**SPEC, "objectives": [*SPEC["objectives"], {"name": "virial_rmse", "unit": "eV/atom"}],
            "report": {"chemical_accuracy": {"energy_rmse": 0.6, "force_rmse": 0.5, "virial_rmse": 0.17}}}
    evaluations = [attrs.evolve(ok(f"u{i}", 0, i, 0.1 * (i + 1), 0.4 - 0.1 * i, runtime=1.0),
                                fitness=(0.1 * (i + 1), 0.4 - 0.1 * i, virial)) for i, virial in enumerate((0.1, 0.2, 0.3))]
    run = write_run(tmp_path / "run", {0: evaluations}, {0: ["u0", "u1", "u2"]}, spec=spec)
    analysis = analyse([run])
    final = analysis.final()
    caption, _ = plots.plot_front(analysis, final, tables.front(final), tmp_path)
    assert caption.endswith("Chemically accurate (blue) also means virial_rmse <= 0.17 eV/atom, not drawn."), caption
    two = write_run(tmp_path / "two", {0: [ok("a", 0, 0, 0.1, 0.2, runtime=1.0)]}, {0: ["a"]})
    analysis = analyse([two])
    caption, _ = plots.plot_front(analysis, analysis.final(), tables.front(analysis.final()), tmp_path)
    assert "not drawn" not in caption
