"""hpo-report says what data each run trained on (the digests hpo-run records when a run
starts), and notes merged runs that trained on other data: their errors are not comparable
even where their specs name the same data path.  Real journals, the real report."""

from __future__ import annotations

from pathlib import Path

from report_journals import run_a, run_b

from dnnp_hpo.fingerprint import content_digest
from dnnp_hpo.journal import DATA_DIGESTS, Journal
from dnnp_hpo.report.cli import main


def with_data(run_dir: Path, data: Path) -> Path:
    """The run as if hpo-run had recorded ``data``'s digest when it started."""
    with Journal.of(run_dir) as journal:
        journal.set_meta(DATA_DIGESTS, [{"path": str(data), "sha256": content_digest(data)}])
    return run_dir


def dataset(root: Path, energies: str) -> Path:
    (root / "sys" / "set.000").mkdir(parents=True)
    (root / "sys" / "type.raw").write_text("0\n", encoding="utf-8")
    (root / "sys" / "set.000" / "energy.npy").write_text(energies, encoding="utf-8")
    return root


def summary(tmp_path: Path, *runs: Path) -> str:
    out = tmp_path / "report"
    assert main([*map(str, runs), "--out", str(out)]) == 0
    return (out / "summary.md").read_text(encoding="utf-8")


def test_the_report_names_each_runs_data_and_its_digest(tmp_path):
    data = dataset(tmp_path / "data", "1.0")
    text = summary(tmp_path, with_data(run_a(tmp_path / "runA"), data))
    assert f"| runA | {data} | `{content_digest(data)[:16]}` |" in text
    assert "trained on other data" not in text


def test_merged_runs_on_other_data_are_noted(tmp_path):
    data = dataset(tmp_path / "data", "1.0")
    a = with_data(run_a(tmp_path / "runA"), data)
    same = with_data(run_b(tmp_path / "runB"), data)
    assert "trained on other data" not in summary(tmp_path, a, same)
    # the same path, regenerated in place between the two runs
    (data / "sys" / "set.000" / "energy.npy").write_text("2.0", encoding="utf-8")
    other = with_data(run_b(tmp_path / "runC"), data)
    text = summary(tmp_path, a, other)
    assert "Note: runC trained on other data than runA" in text


def test_runs_from_before_digests_were_recorded_say_nothing_of_data(tmp_path):
    text = summary(tmp_path, run_a(tmp_path / "runA"), run_b(tmp_path / "runB"))
    assert "Training data" not in text and "other data" not in text
