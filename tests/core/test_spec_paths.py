"""Paths in a spec expand ``~`` and ``$VARIABLES`` as a shell would, every path key alike.

A review found ``run_dir: $MEMBERWORK/run`` making a directory named ``$MEMBERWORK`` under
the working directory, and ``$VARIABLES`` in ``trainer.template`` and data paths taken
literally, while ``scheduler_file`` expanded them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testutil import deepmd_system, trainer_spec, write_spec, zdt_spec
from hpo_testutil import run_cli

from dnnp_hpo.cli import main
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
UNSET = "HPO_TEST_SURELY_UNSET"


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_run_dir_variables_are_expanded_where_the_run_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPO_TEST_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("HPO_TEST_RUN", "search")
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec("$HPO_TEST_WORK/runs/${HPO_TEST_RUN}", pop_size=4,
                                                        generations=0))
    assert main([str(spec)]) == 0, capsys.readouterr().err
    run_dir = tmp_path / "work" / "runs" / "search"
    assert (run_dir / "journal.sqlite").is_file()
    assert len((run_dir / "individuals.csv").read_text().splitlines()) == 1 + 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml", "work"]  # no '$HPO_TEST_WORK' made here


def test_run_dir_tilde_is_the_home_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec("~/runs/x"))
    assert main([str(spec), "--dry-run"]) == 0
    assert str(tmp_path / "home" / "runs" / "x") in capsys.readouterr().out


@pytest.mark.parametrize(("key", "value"), [
    ("run_dir", f"${UNSET}/runs/x"),
    ("run_dir", f"runs/${{{UNSET}}}"),
])
def test_an_unset_variable_in_run_dir_is_one_line_and_nothing_is_made(tmp_path, monkeypatch, capsys, key, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(UNSET, raising=False)
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(value))
    assert main([str(spec)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == (f"hpo-run: {spec}: {key}: environment variable {UNSET} is not set (in {value!r}; write $$ "
                    "for a literal $)"), line
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]


def test_an_empty_variable_is_refused_rather_than_writing_at_the_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HPO_TEST_EMPTY", "")
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec("$HPO_TEST_EMPTY/runs/x"))
    assert main([str(spec), "--dry-run"]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        f"hpo-run: {spec}: run_dir: environment variable HPO_TEST_EMPTY is empty (in ")


@pytest.mark.parametrize(("written", "environment", "expected"), [
    ("a$$b/run", {}, "a$b/run"),  # $$: a literal $
    ("$HPO_TEST_W/run", {"HPO_TEST_W": "w$HOME"}, "w$HOME/run"),  # a value is not expanded again
    ("${HPO_TEST_W}x/run", {"HPO_TEST_W": "w"}, "wx/run"),
    ("cost$$/run", {}, "cost$/run"),
])
def test_expansion_reads_the_text_as_written_once(tmp_path, monkeypatch, capsys, written, environment, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(f"{tmp_path}/{written}"))
    assert main([str(spec), "--dry-run"]) == 0
    assert f"{tmp_path}/{expected}" in capsys.readouterr().out


#: a shell's forms that are not expanded here (written, the form named): they were kept as
#: written, so run_dir made a directory named ${SCRATCH:-, or $1, under the working directory
UNEXPANDED = [
    ("${SCRATCH:-/tmp}/x", "'${SCRATCH:-/tmp}'"),
    ("${MEMBER-WORK}/x", "'${MEMBER-WORK}'"),
    ("${MEMBERWORK/abc", "'${MEMBERWORK/abc' (no closing '}')"),
    ("$1/abc", "'$1'"),
    ("${}/x", "'${}'"),
    ("$/x", "'$/'"),
    ("$(pwd)/x", "'$('"),
    ("cost$", "'$'"),
]


@pytest.mark.parametrize(("written", "form"), UNEXPANDED, ids=[u[0] for u in UNEXPANDED])
def test_a_form_not_expanded_is_one_line_and_nothing_is_made(tmp_path, hpo_run_exe, written, form):
    run_dir = f"{tmp_path}/{written}"
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(run_dir))
    proc = run_cli(hpo_run_exe, str(spec), cwd=tmp_path, SCRATCH=str(tmp_path), MEMBER="m", MEMBERWORK="w")
    assert proc.returncode == 2, proc.stderr
    expected = (f"hpo-run: {spec}: run_dir: {form} is not expanded here (in {run_dir!r}): "
                "write $NAME or ${NAME} for a variable, $$ for a literal $")
    assert proc.stderr.splitlines() == [expected]
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]


@pytest.mark.parametrize("key", ["trainer.template", "launcher.local_directory", "optimizer.source"])
def test_every_path_key_refuses_a_form_not_expanded(tmp_path, monkeypatch, capsys, key):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCRATCH", str(tmp_path))
    written = "${SCRATCH:-/tmp}/x"
    if key == "trainer.template":
        path = _deepmd_spec(tmp_path, written, "data/train")
    else:
        spec = zdt_spec(tmp_path / "run")
        if key == "optimizer.source":
            spec["optimizer"] = {"plugin": "replicates", "source": written, "seeds": 2}
        else:
            spec["launcher"]["local_directory"] = written
        path = write_spec(tmp_path / "spec.yaml", spec)
    assert main([str(path), "--dry-run"]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        f"hpo-run: {path}: {key}: '${{SCRATCH:-/tmp}}' is not expanded here (in {written!r}): ")
    assert not (tmp_path / "run").exists()


def test_the_default_run_dir_is_the_name_as_written(tmp_path, monkeypatch, capsys):
    """A name is not a path: runs/<name> is not expanded (a review's name zdt$A gave a line
    naming run_dir, a key the spec did not have)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("A", raising=False)
    spec = zdt_spec(tmp_path / "unused", name="zdt$A")
    del spec["run_dir"]
    path = write_spec(tmp_path / "spec.yaml", spec)
    assert main([str(path), "--dry-run"]) == 0, capsys.readouterr().err
    assert str(tmp_path / "runs" / "zdt$A") in capsys.readouterr().out


def _deepmd_spec(tmp_path: Path, template: str, train: str, valid: str | None = None) -> Path:
    trainer = {"plugin": "deepmd", "template": template,
               "settings": {"train_systems": train, "valid_systems": valid or train, "numb_steps": 100,
                            "decay_steps": 50, "disp_freq": 50},
               "paths": ["train_systems", "valid_systems"], "command": ["dp", "--tf", "train", "input.json"]}
    space = {"start_lr": {"type": "float", "log": True, "init": [1e-4, 1e-2], "sigma": 0.3},
             "stop_lr": {"type": "float", "log": True, "init": [1e-7, 1e-4], "sigma": 0.3},
             "rcut": {"type": "float", "init": [4.0, 6.0], "sigma": 0.25},
             "rcut_smth": {"type": "float", "init": [1.0, 3.5], "sigma": 0.25},
             **{name: {"type": "choice", "choices": choices, "sigma": 0.5} for name, choices in (
                 ("scale_by_worker", ["linear", "sqrt", "none"]),
                 ("desc_activ_func", ["tanh"]), ("fitting_activ_func", ["tanh"]))}}
    return write_spec(tmp_path / "spec.yaml", trainer_spec(tmp_path / "run", trainer, space))


def test_template_and_data_path_variables_are_expanded(tmp_path, monkeypatch, capsys):
    data = deepmd_system(tmp_path / "data" / "train")
    deepmd_system(tmp_path / "data" / "valid")
    monkeypatch.setenv("HPO_TEST_TEMPLATES", str(REPO / "configs" / "templates"))
    monkeypatch.setenv("HPO_TEST_DATA", str(tmp_path / "data"))
    spec = _deepmd_spec(tmp_path, "$HPO_TEST_TEMPLATES/deepmd_se_e2_a_demo.json", "${HPO_TEST_DATA}/train",
                        "${HPO_TEST_DATA}/valid")
    status, err = main([str(spec), "--dry-run"]), capsys.readouterr().err
    assert status == 0, err
    assert "warning" not in err  # the data path is found: it was expanded
    # What each training reads: the expanded, absolute path.
    _, trainer = prepare_run(spec, load_registry())
    assert trainer.settings["train_systems"] == str(data)


@pytest.mark.parametrize(("key", "template", "train"), [
    ("trainer.template", f"${UNSET}/deepmd_se_e2_a_demo.json", "data/train"),
    ("trainer.settings.train_systems", str(REPO / "configs/templates/deepmd_se_e2_a_demo.json"), f"${UNSET}/train"),
])
def test_an_unset_variable_in_a_trainer_path_is_one_line(tmp_path, monkeypatch, capsys, key, template, train):
    monkeypatch.delenv(UNSET, raising=False)
    spec = _deepmd_spec(tmp_path, template, train)
    assert main([str(spec), "--dry-run"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"hpo-run: {spec}: {key}: environment variable {UNSET} is not set (in "), line


def test_an_unset_variable_in_the_replicates_source_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(UNSET, raising=False)
    spec = zdt_spec(tmp_path / "replicates")
    spec["optimizer"] = {"plugin": "replicates", "source": f"${UNSET}/runs/search", "seeds": 2}
    path = write_spec(tmp_path / "spec.yaml", spec)
    assert main([str(path), "--dry-run"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == (f"hpo-run: {path}: optimizer.source: environment variable {UNSET} is not set "
                    f"(in '${UNSET}/runs/search'; write $$ for a literal $)"), line
