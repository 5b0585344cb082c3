"""A fixed sel too small for a candidate's rcut: DeePMD-kit trains with its neighbour
lists cut and only logs it.  Each such training records how many neighbours were cut
(metric ``sel_shortfall``) and the run tells the first one, once, on stderr and in
launcher.log.  Real deepmd trainer and driver, the stand-in dp logging dp 3.1's words
(the real dp's are checked in tests/deepmd/test_deepmd_trainer.py), local Dask."""

from __future__ import annotations

import csv

from faults_testutil import deepmd_spec, journal_evaluations, run_in_process, write_plan, write_spec


def test_each_cut_is_measured_and_the_first_told_once(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json", ["sel_short", "ok", "sel_short", "ok"])
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(tmp_path / "run", env={"FAULTS_PLAN": str(plan)}))
    run_dir = run_in_process(spec)
    evaluations = journal_evaluations(run_dir)
    assert all(e.ok for e in evaluations)
    cut = {e.trial.birth_id: e.metrics.get("sel_shortfall") for e in evaluations}
    faults = {e.trial.birth_id: (e.trial.workdir / "fault.txt").read_text() for e in evaluations}
    assert {b for b, f in faults.items() if f == "sel_short"} == {b for b, c in cut.items() if c == 24.0}
    assert sorted(c for c in cut.values() if c is not None) == [24.0, 24.0]  # none for the others
    told = [line for line in (run_dir / "launcher.log").read_text().splitlines() if "sel" in line]
    assert len(told) == 1 and "up to 24 neighbours short" in told[0] and "sel: \"auto\"" in told[0]
    assert capsys.readouterr().err.count("neighbours short") == 1

    # hpo-report: a column of its own in the solution tables, blank where none were cut; it
    # had only the journal and the one warning to say it, so a report reader picked a cut
    # model unawares (helper-94)
    from dnnp_hpo.report.cli import main as hpo_report

    assert hpo_report([str(run_dir)]) == 0
    with open(run_dir / "report" / "final.csv", newline="") as handle:
        final = list(csv.DictReader(handle))
    by_uuid = {e.trial.uuid: e.metrics.get("sel_shortfall") for e in evaluations}
    assert final and all(row["sel_shortfall"] == ("" if by_uuid[row["uuid"]] is None else repr(by_uuid[row["uuid"]]))
                         for row in final), final
    summary = (run_dir / "report" / "summary.md").read_text()
    front_table = summary.split("(paper, Table 2)")[1].split("## Chemical accuracy")[0]
    assert "| sel_shortfall |" in front_table, front_table



def test_the_warning_names_the_cutoffs_in_four_digits():
    """A review saw 'birth 1 (rcut=4.295852169154912)' where docs/deepmd.md shows rcut=6.4."""
    from dnnp_hpo.plugins.deepmd.neighbours import cutoffs

    assert cutoffs({"rcut": 4.295852169154912, "rcut_smth": 0.5, "start_lr": 1e-3, "sel": 40}) == "rcut=4.296, rcut_smth=0.5"
    assert cutoffs({"rcut": 6.4}) == "rcut=6.4"
    assert cutoffs({"start_lr": 1e-3}) == ""
