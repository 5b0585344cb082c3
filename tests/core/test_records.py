"""The records plugin's individuals.csv when a resume sets evaluations aside."""

from __future__ import annotations

import csv
from pathlib import Path

from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.evaluation import Evaluation, Trial
from dnnp_hpo.plugins import records
from dnnp_hpo.registry import load_registry


def _trial(uuid: str, birth_id: int) -> Trial:
    return Trial(uuid=uuid, birth_id=birth_id, generation=0, genome=(0.5, 0.5), params={"x0": 0.5, "x1": 0.5},
                 seed=birth_id + 1, workdir=Path("evals") / uuid)


def test_a_trial_set_aside_while_running_leaves_the_file_unread(tmp_path: Path, monkeypatch) -> None:
    """A resume sets aside every evaluation in flight: those have no row, and reading the
    whole file for each took seconds at 20,000 rows (helper-89).  A finished one set
    aside (a --force resume that bred its birth anew) still loses its row."""
    run, _ = prepare_run(write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", n=2)), load_registry())
    run.run_dir.mkdir(parents=True)
    path = run.run_dir / records.INDIVIDUALS
    path.write_text(",".join(records.individual_columns(run)) + "\n")
    finished = [Evaluation(_trial(f"done{i}", i), "ok", "", (0.1, 0.2), {}, 1.0, 2.0, "host", 1) for i in range(3)]
    for evaluation in finished:
        records.dnnp_hpo_evaluation_finished(run, evaluation)
    reads = []
    real = records._drop_rows
    monkeypatch.setattr(records, "_drop_rows", lambda *args: (reads.append(args), real(*args)))

    records.dnnp_hpo_evaluation_interrupted(run, _trial("running", 3), _trial("again", 3))
    assert reads == [], "a trial without a row made the file be read"
    records.dnnp_hpo_evaluation_interrupted(run, finished[1].trial, _trial("anew", 1))
    assert reads == [(path, "done1")]
    with open(path, newline="", encoding="utf-8") as handle:
        assert [row["uuid"] for row in csv.DictReader(handle)] == ["done0", "done2"]
    records.dnnp_hpo_evaluation_interrupted(run, finished[1].trial, _trial("anew", 1))
    assert len(reads) == 1, "its row is gone: not looked for again"
