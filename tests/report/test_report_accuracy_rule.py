"""hpo-report judges chemical accuracy by hpo-run's rule (dnnp_hpo.front.chemically_accurate)
with its own test of success: an ``ok`` evaluation at MAXINT, which journals from before
hpo-run refused such values can hold, is counted as failed ("invalid") and never accurate."""

from __future__ import annotations

from report_journals import MAXINT, ok, write_run

from dnnp_hpo.front import chemically_accurate
from dnnp_hpo.report import tables
from dnnp_hpo.report.data import analyse


def test_an_old_ok_at_maxint_is_never_accurate(tmp_path):
    good, old = ok("good", 0, 0, 0.003, 0.03, runtime=1.0), ok("old", 0, 1, MAXINT, MAXINT, runtime=1.0)
    run = write_run(tmp_path / "run", {0: [good, old]}, {0: ["good", "old"]})
    # limits above MAXINT: by its values alone, the old one would be accurate
    analysis = analyse([run], {"energy_rmse": 3 * MAXINT, "force_rmse": 3 * MAXINT})
    by_uuid = {s.uuid: s for s in analysis.all_evaluations()}
    assert analysis.accurate(by_uuid["good"]) is True
    assert analysis.accurate(by_uuid["old"]) is False
    assert chemically_accurate(old, analysis.names, analysis.thresholds) is True  # hpo-run's default test: ok
    assert [s.uuid for s in tables.accurate_solutions(analysis, analysis.final())] == ["good"]
    assert tables.failures(analysis).by_status == {(0, "invalid"): 1}


def test_the_report_and_the_rule_agree_on_every_evaluation(tmp_path):
    evaluations = [ok(f"e{i}", 0, i, energy, force, runtime=None)
                   for i, (energy, force) in enumerate([(0.004, 0.04), (0.0041, 0.01), (0.001, 0.05), (0.0, 0.0)])]
    run = write_run(tmp_path / "run", {0: evaluations}, {0: [e.trial.uuid for e in evaluations]})
    analysis = analyse([run])
    judged = {s.uuid: analysis.accurate(s) for s in analysis.all_evaluations()}
    assert judged == {"e0": True, "e1": False, "e2": False, "e3": True}
    assert judged == {e.trial.uuid: chemically_accurate(e, analysis.names, analysis.thresholds) for e in evaluations}
