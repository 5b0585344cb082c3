"""The ``deepmd`` trainer: start-up checks, the command, failures, the time limit, and one
real DeePMD-kit training."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from pathlib import Path

import deepmd_testutil
import psutil
import pytest
from cli_testutil import deepmd_system
from deepmd_testutil import QUICKSTART, QUICKSTART_PARAMS, deepmd_spec, demo_overrides, hpo_run, write_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial
from dnnp_hpo.registry import load_registry

TINY = '{"x": $x, "act": "${act}", "seed": $seed, "training": {"disp_file": "lcurve.out"}}'


def prepare(tmp_path: Path, template: str = TINY, spec_name: str = "spec.yaml", overrides=(), **trainer):
    """Write the template and a spec next to it; return (run, prepared trainer)."""
    (tmp_path / "tmpl.json").write_text(template)
    trainer.setdefault("check_input", False)
    spec = write_spec(tmp_path / spec_name, deepmd_spec(tmp_path / "run", "tmpl.json", **trainer))
    return prepare_run(spec, load_registry(), overrides)


def a_trial(run, params=None, name: str = "t0") -> Trial:
    params = params or {"x": 0.5, "act": "tanh"}
    return Trial(uuid=name, birth_id=0, generation=0, genome=(0.5,) * len(params), params=params,
                 seed=42, workdir=run.evals_dir / name)


def test_prepare_resolves_paths_against_the_spec_file(tmp_path: Path) -> None:
    (tmp_path / "data" / "train").mkdir(parents=True)
    template = TINY.replace('"seed"', '"systems": ["${train}"], "n": $numb_steps, "seed"')
    run, trainer = prepare(tmp_path, template, settings={"train": "data/train", "numb_steps": 7},
                           paths=["train"], command="dp --tf train input.json")
    data = json.loads(trainer.render(a_trial(run)))
    assert data["systems"] == [str(tmp_path / "data" / "train")]
    assert data["n"] == 7 and data["seed"] == 42 and data["act"] == "tanh"
    assert trainer.command == ("dp", "--tf", "train", "input.json")


@pytest.mark.parametrize(("trainer", "key", "message"), [
    ({"paths": ["nope"]}, "trainer.paths", "'nope' is not a key of settings"),
    ({"settings": {"x": 1}}, "trainer.settings.x", "also a search parameter"),
    ({"metrics": {"energy_rmse": "rmse_e_val"}}, "trainer.metrics", "objective 'force_rmse' is not a metric"),
    ({"timeout_minutes": 0}, "trainer.timeout_minutes", "expected a positive number"),
    ({"timeout_minutes": float("inf")}, "trainer.timeout_minutes", "expected a finite number"),
    # finite, but past what select() can wait: every training would fail at start-up
    ({"timeout_minutes": 1e12}, "trainer.timeout_minutes", "expected a positive number of minutes up to 525600"),
    ({"command": []}, "trainer.command", "expected at least the program"),
    ({"command": {"a": 1}}, "trainer.command", "expected a list of strings"),
    ({"overrides": ["trainer.template=missing.json"]}, "trainer.template", "missing.json not found"),
    # a misspelt column failed every training, each only once it had trained to the end
    ({"metrics": {"energy_rmse": "rmse_e_vall", "force_rmse": "rmse_f_val"}}, "trainer.metrics.energy_rmse",
     "'rmse_e_vall' is not an lcurve.out column of DeePMD-kit (did you mean 'rmse_e_val'?)"),
    ({"metrics": {"energy_rmse": "rmse_e_val", "force_rmse": "force"}}, "trainer.metrics.force_rmse",
     "expected a loss term with _val or _trn, such as rmse_e_val or rmse_f_trn, or lr"),
])
def test_bad_trainer_settings_are_spec_errors(tmp_path: Path, trainer, key, message) -> None:
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, **trainer)
    assert info.value.key == key and message in info.value.message
    assert not (tmp_path / "run").exists()


def test_columns_of_every_deepmd_loss_and_multi_task_are_accepted(tmp_path: Path) -> None:
    """With another backend (PyTorch: mae_* columns, multi-task suffixes) only the loose
    pattern is checked; TensorFlow's ener loss is checked exactly (below)."""
    metrics = {"energy_rmse": "rmse_e_val_water", "force_rmse": "mae_f_trn", "rate": "lr"}
    _, trainer = prepare(tmp_path, metrics=metrics, command=["dp", "--pt", "train", "input.json"])
    assert trainer.metrics == metrics and not trainer.tensorflow


@pytest.mark.parametrize(("column", "hint"), [("rsme_e_val", "rmse_e_val"), ("rmse_force_val", "rmse_f_val"),
                                              ("rmse_e_val_water", "rmse_e_val"), ("mae_f_val", "rmse_f_val")])
def test_columns_the_tensorflow_ener_loss_never_writes_are_refused(tmp_path: Path, column, hint) -> None:
    """They fitted the loose pattern, then failed every training once it had run to the end."""
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, metrics={"energy_rmse": column, "force_rmse": "rmse_f_val"})
    assert info.value.key == "trainer.metrics.energy_rmse"
    assert (f"{column!r} is not an lcurve.out column of DeePMD-kit's ener loss (TensorFlow) "
            f"(did you mean {hint!r}?)") in info.value.message
    assert "\n" not in info.value.message


LOSS = TINY.replace('"training": {', '"loss": {"type": "ener", "start_pref_e": $pe, "limit_pref_e": $pe}, '
                                      '"training": {"validation_data": {}, ')


def test_a_column_of_a_term_switched_off_is_refused(tmp_path: Path) -> None:
    """A forces-only model (energy prefactors 0) writes no rmse_e_* columns."""
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, LOSS, settings={"pe": 0})
    assert info.value.key == "trainer.metrics.energy_rmse"
    assert ("'rmse_e_val' will not be in lcurve.out: loss.start_pref_e and loss.limit_pref_e are both 0"
            in info.value.message)
    # Reading only the forces is fine; so is a term on for some value searched.
    _, trainer = prepare(tmp_path, LOSS, settings={"pe": 0}, metrics={"force_rmse": "rmse_f_val"},
                         overrides=["objectives=[{name: force_rmse}, {name: runtime}]"])
    assert trainer.tensorflow and trainer.objectives == ("force_rmse", "runtime")
    space = {**deepmd_testutil.SMALL_SPACE, "pe": {"type": "choice", "choices": [0, 1], "sigma": 0.5}}
    prepare(tmp_path, LOSS, space=space)


def test_a_metric_that_is_no_objective_may_be_missing(tmp_path: Path) -> None:
    """Only the objectives must be read; DeePMD-kit writes nan where the data hold no
    reference values (virials), and a column may be missing with another backend."""
    metrics = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val", "virial": "rmse_v_val", "mae": "mae_f_val"}
    run, trainer = prepare(tmp_path, metrics=metrics, command=["dp", "--pt", "train", "input.json"])
    workdir = tmp_path / "w"
    workdir.mkdir()
    (workdir / "lcurve.out").write_text("# step rmse_e_val rmse_f_val rmse_v_val lr\n0 0.5 0.7 nan 1e-3\n"
                                        "10 0.1 0.2 nan 1e-4\n")
    text = trainer.render(a_trial(run))
    assert trainer.read_fitness(workdir, text) == {"energy_rmse": 0.1, "force_rmse": 0.2}
    (workdir / "lcurve.out").write_text("# step rmse_e_val rmse_v_val lr\n0 0.5 nan 1e-3\n")
    with pytest.raises(TrainingFailed, match="lcurve has no column.s. rmse_f_val"):
        trainer.read_fitness(workdir, text)


@pytest.mark.parametrize(("key", "value"), [("numb_steps", 0), ("numb_steps", -1), ("numb_steps", True),
                                            ("numb_steps", 2.5), ("disp_freq", 0), ("stop_batch", "many")])
def test_training_steps_that_fail_every_training_are_spec_errors(tmp_path: Path, key, value) -> None:
    """0 or -1 steps passed DeePMD-kit's argcheck, then every training failed.  The line
    names the setting that gave the value (it named the template, which holds $numb_steps)."""
    template = TINY.replace('"training": {', f'"training": {{"{key}": ${key}, ')
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, settings={key: value})
    assert info.value.key == f"trainer.settings.{key}"
    assert info.value.message.startswith(f"{value!r} (${key}, at training.{key} in ")
    assert info.value.message.endswith(") must be a whole number of at least 1")


def test_training_steps_written_in_the_template_name_the_template(tmp_path: Path) -> None:
    template = TINY.replace('"training": {', '"training": {"numb_steps": 0, ')
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template)
    assert info.value.key == "trainer.template"
    assert "training.numb_steps must be a whole number of at least 1, got 0" in info.value.message


def test_runtime_may_be_a_third_objective(tmp_path: Path) -> None:
    overrides = ["objectives=[{name: energy_rmse}, {name: force_rmse}, {name: runtime, unit: s}]"]
    run, _ = prepare(tmp_path, overrides=overrides)
    assert run.objective_names == ["energy_rmse", "force_rmse", "runtime"]


def test_failed_command_reason_is_its_exception_line(tmp_path: Path) -> None:
    script = "import sys; print('Traceback...', file=sys.stderr); print('ValueError: boom', file=sys.stderr); " \
             "print('implib-gen: noise at exit', file=sys.stderr); sys.exit(3)"
    run, trainer = prepare(tmp_path, command=[sys.executable, "-c", script])
    trial = a_trial(run)
    with pytest.raises(TrainingFailed) as info:
        trainer.train(trial)
    assert info.value.status == "failed"
    assert "exited with status 3: ValueError: boom" in info.value.reason
    assert {p.name for p in trial.workdir.iterdir()} == {"input.json", "stdout.log", "stderr.log"}
    assert json.loads((trial.workdir / "input.json").read_text())["seed"] == 42


def test_command_that_cannot_start(tmp_path: Path, capsys) -> None:
    run, trainer = prepare(tmp_path, command=["no-such-program-dnnp-hpo", "train"])
    # A warning at start-up, not an error: a cluster's workers may have it on their PATH.
    assert ("trainer.command: 'no-such-program-dnnp-hpo' is not on this host's PATH (nor next to its Python); "
            "every training will fail unless the workers find it") in capsys.readouterr().err
    with pytest.raises(TrainingFailed, match="cannot start 'no-such-program-dnnp-hpo'"):
        trainer.train(a_trial(run))
    # the launcher in front of it alike: nothing was said (helper-110)
    prepare(tmp_path, launch_prefix=["no-such-launcher-dnnp-hpo", "-n1"])
    assert ("trainer.launch_prefix: 'no-such-launcher-dnnp-hpo' is not on this host's PATH (nor next to its Python); "
            "every training will fail unless the workers find it") in capsys.readouterr().err


def test_a_relative_program_path_is_warned_about(tmp_path: Path, capsys) -> None:
    """It runs in each evaluation directory, so a path relative to the spec's directory
    (which exists from here) would not be found there."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train.sh").write_text("#!/bin/sh\n")
    prepare(tmp_path, command=["scripts/train.sh"])
    assert "trainer.command: 'scripts/train.sh' is a relative path: it runs in each evaluation directory" \
        in capsys.readouterr().err


def test_a_variable_in_the_command_line_is_warned_about(tmp_path: Path, capsys, monkeypatch) -> None:
    """No shell runs the training: ``--ntasks=$NTASKS`` reaches the launcher as that text
    (shown with a real process), which a user writing a cluster's prefix may not expect."""
    from dnnp_hpo.training import run_training

    monkeypatch.setenv("NTASKS", "4")
    prefix = [sys.executable, "-c", "import sys; open('argv', 'w').write(sys.argv[1])", "--ntasks=$NTASKS"]
    run_training(["dp"], prefix, {}, 1.0, tmp_path, tmp_path / "out", tmp_path / "err")
    assert (tmp_path / "argv").read_text() == "--ntasks=$NTASKS"

    prepare(tmp_path, launch_prefix=["srun", "--ntasks=$NTASKS"])
    assert ("trainer.launch_prefix: '--ntasks=$NTASKS' is passed as written: no shell runs the training, so "
            "$NTASKS is not expanded") in capsys.readouterr().err
    prepare(tmp_path, command=["dp", "--tf", "train", "${INPUT}"])
    assert "trainer.command: '${INPUT}' is passed as written" in capsys.readouterr().err
    prepare(tmp_path, launch_prefix=["srun", "bash", "-c", 'module load x; exec "$@"', "--"])  # the shell's
    prepare(tmp_path, launch_prefix=["srun", "--ntasks=4"])
    assert "passed as written" not in capsys.readouterr().err


@pytest.mark.parametrize("operator", [">", ">>", "2>&1", "2>", "&>", "|", "||", "|&", "&&", "&", ";", "<", ">|",
                                      "<&", "<<<", "<>", "0<&3", "2>&-"])
def test_a_shell_redirection_or_pipe_in_the_command_is_warned_about(tmp_path: Path, capsys, operator) -> None:
    """``command: "dp train input.json > log"`` gave dp the arguments ``>`` and ``log``:
    --dry-run passed, every training failed (a plugin author's walk).  Under a shell, the
    shell's; in a list, a ``>`` inside a longer item (``--x=a>b``, ``>=1.0``) is no operator."""
    prepare(tmp_path, command=["dp", "--tf", "train", "input.json", operator, "log"])
    assert (f"trainer.command: {operator!r} is shell syntax (a redirection, pipe or command list) and no shell "
            "runs the training: the program gets it in its arguments") in capsys.readouterr().err
    prepare(tmp_path, command=["bash", "-c", f"dp --tf train input.json {operator} log"])
    prepare(tmp_path, command=["dp", "--tf", "train", "input.json", "--x=a>b", "<none>", ">=1.0", "a;b"])
    assert "is shell syntax" not in capsys.readouterr().err


@pytest.mark.parametrize(("command", "operator"), [
    ("dp --tf train input.json --skip-neighbor-stat; dp freeze", ";"), ("dp --tf train input.json>log", ">"),
    ("dp --tf train input.json 2>&1", ">&"), ("dp --tf train input.json|tee log", "|")])
def test_an_operator_glued_to_a_word_of_a_command_string_is_warned_about(tmp_path: Path, capsys, command,
                                                                         operator) -> None:
    """Written as one string, the command is split as a shell splits it: ``--skip-neighbor-stat;``
    was one word, and the list went by without a warning (a review's).  Quoted, it is text."""
    prepare(tmp_path, command=command)
    assert f"trainer.command: {operator!r} is shell syntax" in capsys.readouterr().err
    prepare(tmp_path, command="bash -c 'dp --tf train input.json > log'")
    prepare(tmp_path, command="dp --tf train input.json --x='a>b' data#1 --sep '>' \"a;b\"")  # quoted: text
    assert "is shell syntax" not in capsys.readouterr().err


def test_missing_data_path_fails_without_starting_the_command(tmp_path: Path) -> None:
    template = TINY.replace('"seed"', '"systems": "${train}", "seed"')
    run, trainer = prepare(tmp_path, template, settings={"train": "no/such/dir"}, paths=["train"])
    trial = a_trial(run)
    with pytest.raises(TrainingFailed, match=r"data path\(s\) not found: .*no/such/dir"):
        trainer.train(trial)
    assert not (trial.workdir / "stdout.log").exists()


def test_a_dead_attempts_directory_is_never_reused(tmp_path: Path) -> None:
    """A retried trial trains in an empty directory: a dead attempt's lcurve.out is not read."""
    run, trainer = prepare(tmp_path, command=[sys.executable, "-c", "pass"])
    trial = a_trial(run)
    trial.workdir.mkdir(parents=True)
    (trial.workdir / "lcurve.out").write_text("# step rmse_e_val rmse_f_val\n 10 0.1 0.2\n")
    with pytest.raises(TrainingFailed, match="the training wrote no lcurve.out"):
        trainer.train(trial)
    assert (trial.workdir.parent / f"{trial.uuid}.attempt-1" / "lcurve.out").exists()


GRANDPARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open("pids", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # dead, not yet reaped
    except psutil.NoSuchProcess:
        return True


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    """A training that started a grandchild: at the limit both are killed, none survives."""
    script = tmp_path / "spawner.py"
    script.write_text(GRANDPARENT)
    run, trainer = prepare(tmp_path, command=[sys.executable, str(script)], timeout_minutes=0.04)
    trial = a_trial(run)
    start = time.monotonic()
    with pytest.raises(TrainingFailed) as info:
        trainer.train(trial)
    assert info.value.status == "timeout" and "0.04 min" in info.value.reason
    assert time.monotonic() - start < 30
    pids = [int(p) for p in (trial.workdir / "pids").read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(p) for p in pids), [psutil.Process(p).cmdline() for p in pids if not _gone(p)]


@pytest.mark.slow
def test_real_dp_training_gives_a_finite_fitness(small_sel_training) -> None:
    """One real ``dp --tf train`` through the plugin, on the quickstart template with a
    sel too small for the rcut and DeePMD-kit's neighbour statistics on (the quickstart
    skips them): it trains with its neighbour lists cut and only logs it; the metrics say
    by how much (32 Al-Cu neighbours of type 0 within 5 A against a sel of 8).  The
    training is conftest.py's ``small_sel_training`` (the harvest tests read copies of it)."""
    _, trial, metrics = small_sel_training
    assert set(metrics) == {"energy_rmse", "force_rmse", "runtime", "sel_shortfall"}
    assert all(math.isfinite(v) and v > 0 for v in metrics.values())
    logged = [int(n) for n in re.findall(r"not less than (\d+), but you set it to \d+",
                                         (trial.workdir / "stderr.log").read_text())]
    assert logged and metrics["sel_shortfall"] == max(n - sel for n, sel in zip(logged, (8, 4)))
    files = {p.name for p in trial.workdir.iterdir()}
    assert {"input.json", "stdout.log", "stderr.log", "lcurve.out"} <= files
    rows = [line for line in (trial.workdir / "lcurve.out").read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 4 and rows[-1].split()[0] == "60"
    rendered = json.loads((trial.workdir / "input.json").read_text())
    assert rendered["model"]["descriptor"]["rcut"] == 5.0
    assert rendered["training"]["seed"] == 42
    print(f"dp training of 60 steps: {metrics['runtime']:.1f} s wall")


@pytest.mark.slow
def test_real_lcurve_columns_are_the_ones_predicted(tmp_path: Path, demo_data: Path) -> None:
    """A forces-only loss with virial and atomic-energy terms on, trained by ``dp --tf``:
    lcurve.out has exactly the columns the start-up check expects (no rmse_e_*), and the
    virial column, nan without virial data, is left out of the metrics, not a failure."""
    from dnnp_hpo.plugins.deepmd.lcurve import ener_columns, read_lcurve

    template = (QUICKSTART.parent / "templates" / "deepmd_se_e2_a_demo.json").read_text()
    start = template.index('"loss"')
    end = template.index('"training"')
    template = template[:start] + ('"loss": {"type": "ener", "start_pref_e": 0, "limit_pref_e": 0, '
                                   '"start_pref_v": 1, "limit_pref_v": 1, "start_pref_ae": 1, "limit_pref_ae": 1},\n  '
                                   ) + template[end:]
    (tmp_path / "forces.json").write_text(template)
    overrides = [
        *demo_overrides(tmp_path, demo_data, steps=20, every=10), f"trainer.template={tmp_path / 'forces.json'}",
        "trainer.metrics={force_rmse: rmse_f_val, virial_rmse: rmse_v_val}",
        "objectives=[{name: force_rmse}, {name: runtime}]", "report.chemical_accuracy={force_rmse: 0.04}",
    ]
    run, trainer = prepare_run(QUICKSTART, load_registry(), overrides)
    trial = a_trial(run, QUICKSTART_PARAMS)
    metrics = trainer.train(trial)
    assert set(metrics) == {"force_rmse", "runtime"} and math.isfinite(metrics["force_rmse"])
    curve = read_lcurve(trial.workdir / "lcurve.out")
    predicted = ener_columns(json.loads((trial.workdir / "input.json").read_text()))
    assert curve.columns == predicted
    assert "rmse_e_val" not in predicted and "rmse_v_val" in predicted


def test_numb_steps_that_disp_freq_does_not_divide_fails_before_dp_starts(tmp_path: Path) -> None:
    """A searched numb_steps of 122 with disp_freq 50 failed only after the whole training;
    a choice of numb_steps is checked at start-up, every value."""
    template = TINY.replace('"training": {', '"training": {"numb_steps": $n, "disp_freq": $disp_freq, ')
    marker = tmp_path / "dp-ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    # a choice that start-up accepts; the trial below is given 122 (an int parameter that
    # sets numb_steps is refused at start-up: test_deepmd_template.py)
    space = {"x": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
             "n": {"type": "choice", "choices": [100, 150], "sigma": 0.5},
             "act": {"type": "choice", "choices": ["tanh", "relu"], "sigma": 0.5}}
    run, trainer = prepare(tmp_path, template, space=space, settings={"disp_freq": 50}, command=command)
    start = time.monotonic()
    with pytest.raises(TrainingFailed) as info:
        trainer.train(a_trial(run, {"x": 0.5, "n": 122, "act": "tanh"}))
    assert time.monotonic() - start < 5 and not marker.exists()
    assert info.value.reason == ("disp_freq 50 does not divide numb_steps 122: the last row of lcurve is step "
                                 "100's model, not the trained one (found before dp started)")
    with pytest.raises(SpecError, match=r"\(n=122\): training.disp_freq 50 does not divide training.numb_steps 122"):
        prepare(tmp_path, template, space={**space, "n": {"type": "choice", "choices": [100, 150, 122], "sigma": 0.5}},
                settings={"disp_freq": 50}, command=command)


@pytest.mark.parametrize(("template", "words"), [
    (TINY.replace('"seed": $seed', '"model": {"descriptor": {"seed": 1}, "fitting_net": {"seed": 2}}'),
     ("every training uses its fixed seeds (model.descriptor.seed, model.fitting_net.seed), so replicates "
     "repeat the same training")),
    (TINY.replace('"seed": $seed, ', ""), "DeePMD-kit draws its own random seeds, so no training can be repeated"),
])
def test_a_template_without_seed_is_warned_about(tmp_path: Path, capsys, template: str, words: str) -> None:
    """The journal records a seed per candidate that the training never saw."""
    prepare(tmp_path, template)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "$seed" in line]
    assert len(lines) == 1 and lines[0].startswith("hpo-run: warning: ")
    assert f"trainer.template: {tmp_path / 'tmpl.json'} does not use $seed: {words}, while individuals.csv " \
           "records a different seed per candidate" in lines[0]
    prepare(tmp_path, TINY)
    assert "$seed" not in capsys.readouterr().err


@pytest.mark.parametrize(("systems", "settings", "key"), [
    ('["data/train"]', {}, "trainer.template"),
    # a setting not listed in paths: rendered as written, and named (the template was, helper-121)
    ('"${train}"', {"train": "data/train"}, "trainer.settings.train"),
])
def test_a_relative_data_path_inside_the_evaluation_directory_is_refused(tmp_path: Path, systems, settings,
                                                                         key) -> None:
    """dp runs in the fresh RUN_DIR/evals/<uuid>/: a relative path there cannot exist."""
    (tmp_path / "data" / "train").mkdir(parents=True)  # it exists next to the spec, not where dp runs
    template = TINY.replace('"training": {', f'"training": {{"training_data": {{"systems": {systems}}}, ')
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, settings=settings, metrics={"energy_rmse": "rmse_e_trn", "force_rmse": "rmse_f_trn"})
    assert info.value.key == key
    assert (f"training.training_data.systems: 'data/train' is a relative path, and dp runs in the fresh evaluation "
            f"directory {tmp_path / 'run' / 'evals' / '<uuid>'}, where it cannot exist: give an absolute path, or a "
            "placeholder whose value is in trainer.settings and listed in trainer.paths") in info.value.message


def test_a_relative_data_path_out_of_the_evaluation_directory_is_warned_about(tmp_path: Path, capsys) -> None:
    """A converted input.json's "../data/train" is read from RUN_DIR/evals/data/train."""
    template = TINY.replace('"training": {', '"training": {"validation_data": {"systems": ["../data/valid"]}, ')
    (tmp_path / "data" / "valid").mkdir(parents=True)
    prepare(tmp_path, template)
    err = capsys.readouterr().err
    assert (f"trainer.template: {tmp_path / 'tmpl.json'}: training.validation_data.systems: '../data/valid' is "
            f"relative to the evaluation directory {tmp_path / 'run' / 'evals' / '<uuid>'} where dp runs, so it is "
            f"{tmp_path / 'run' / 'evals' / 'data' / 'valid'}, which does not exist") in err
    (tmp_path / "run" / "evals" / "data" / "valid").mkdir(parents=True)
    prepare(tmp_path, template)
    assert "../data/valid" not in capsys.readouterr().err


def test_an_absolute_data_path_written_in_the_template_that_does_not_exist_is_warned_about(tmp_path: Path,
                                                                                          capsys) -> None:
    """A converted input.json's own absolute path, with a typo: every training failed, and
    nothing said so at start-up.  A warning, not a refusal: data that only the workers'
    nodes hold are not seen from here.  A trainer.paths setting is check_data's (exit 2 for
    a run that trains) and is not told twice."""
    written, listed = tmp_path / "data" / "trian", tmp_path / "data" / "valid"
    template = TINY.replace('"training": {', f'"training": {{"training_data": {{"systems": ["{written}"]}}, '
                                             '"validation_data": {"systems": "${valid}"}, ')
    prepare(tmp_path, template, settings={"valid": "data/valid"}, paths=["valid"])
    lines = [line for line in capsys.readouterr().err.splitlines() if "does not exist" in line]
    assert lines == [(f"hpo-run: warning: {tmp_path / 'spec.yaml'}: trainer.template: {tmp_path / 'tmpl.json'}: "
                     f"training.training_data.systems: {written} does not exist on this host; every training will "
                     "fail unless it exists where the workers run")], lines
    assert str(listed) not in "".join(lines)
    deepmd_system(written)  # an empty folder is refused for itself
    prepare(tmp_path, template, settings={"valid": "data/valid"}, paths=["valid"])
    assert str(written) not in capsys.readouterr().err
    h5 = tmp_path / "data.h5"  # a group of an HDF5 file: the file is what must exist
    h5.write_bytes(b"")
    prepare(tmp_path, TINY.replace('"training": {', f'"training": {{"validation_data": {{"systems": ["{h5}#/AlCu"]}}, '))
    assert "does not exist" not in capsys.readouterr().err


def test_a_template_path_below_a_listed_data_path_is_told_once(tmp_path: Path, capsys) -> None:
    """"${valid}/sub" with valid a trainer.paths setting that does not exist: the template
    warning said it as well as check_data (two lines for one mistake, a review's)."""
    template = TINY.replace('"training": {', '"training": {"validation_data": {"systems": "${valid}/sub"}, ')
    prepare(tmp_path, template, settings={"valid": "nodata"}, paths=["valid"])
    assert "trainer.template" not in capsys.readouterr().err


@pytest.mark.parametrize("relative", [False, True])
def test_a_template_path_that_cannot_be_looked_at_is_warned_about(tmp_path: Path, capsys, monkeypatch,
                                                                  relative: bool) -> None:
    """Data under a directory only the workers' account may enter: Path.exists raised
    PermissionError on Python 3.11, a traceback and exit 4 (a review's, run as nobody).
    The tests run as root, who enters every directory, so os.stat's refusal is a stand-in
    for that one path; what hpo-run does with it is real.  Relative (../locked/train, read
    from the evaluation directory), the warning said "does not exist" of it."""
    locked = tmp_path / "run" / "evals" / "locked" / "train" if relative else tmp_path / "locked" / "train"
    written = "../locked/train" if relative else str(locked)
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    template = TINY.replace('"training": {', f'"training": {{"validation_data": {{"systems": "{written}"}}, ')
    prepare(tmp_path, template)
    said = (f"so it is {locked}, which cannot be looked at from here (Permission denied); every training will fail "
            "unless it is there" if relative else
            f"{locked} cannot be looked at from here (Permission denied) on this host; every training will fail "
            "unless it exists where the workers run")
    assert said in capsys.readouterr().err


@pytest.mark.parametrize(("energy", "force"), [("meV/atom", "eV/A"), ("eV/atom", "meV/Å"), ("eV/atom", "eV/atom")])
def test_an_objective_unit_with_another_chemical_accuracy_is_refused(tmp_path: Path, energy: str, force: str) -> None:
    """A chemist's meV/atom label on lcurve.out's eV/atom values (a review's): the 4 meV/atom
    default limit then called models of 38 meV/atom accurate."""
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, overrides=[(f"objectives=[{{name: energy_rmse, unit: {energy}}}, "
                                     f"{{name: force_rmse, unit: {force}}}]")])
    name, column, unit, given = (("energy_rmse", "rmse_e_val", "eV/atom", energy) if energy != "eV/atom"
                                 else ("force_rmse", "rmse_f_val", "eV/A", force))
    assert info.value.key == f"objectives.{0 if name == 'energy_rmse' else 1}.unit"  # not the trainer block
    assert info.value.message == (f"objective {name} has unit {given!r}, but it is read from {column} of "
                                  f"lcurve.out, in {unit} (DeePMD-kit's unit, read as it is): give it unit {unit}")


@pytest.mark.parametrize(("energy", "force"), [("eV / atom", "eV/Å"), ("", ""), ("eV per atom", "eV Å^-1"),
                                               ("eV/atom", "eV/Ang")])
def test_deepmd_units_however_spelt_are_accepted(tmp_path: Path, energy: str, force: str) -> None:
    """Only a unit with a chemical accuracy of its own is refused: others are labels (a
    review's 'eV Å^-1' was refused by the first version of the check)."""
    prepare(tmp_path, overrides=[(f"objectives=[{{name: energy_rmse, unit: '{energy}'}}, "
                                 f"{{name: force_rmse, unit: '{force}'}}]")])


def test_skip_neighbor_stat_with_an_automatic_sel_is_refused(tmp_path: Path) -> None:
    """DeePMD-kit works an "auto" sel out from the statistics the flag skips: every training
    failed with a numpy TypeError (a review's, copying the quickstart's command)."""
    template = TINY.replace('"training": {', '"model": {"descriptor": {"type": "hybrid", "list": '
                                             '[{"sel": [4]}, {"sel": "auto:1.1"}]}}, "training": {')
    command = ["dp", "--tf", "train", "input.json", "--skip-neighbor-stat"]
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, command=command)
    assert info.value.key == "trainer.command"
    # the value as written: "auto" for "auto:1.1" sent the user looking for a plain "auto" (helper-94)
    assert "the model's sel is \"auto:1.1\"" in info.value.message and "drop the flag" in info.value.message
    with pytest.raises(SpecError):  # in a wrapper's command line
        prepare(tmp_path, template, command=["bash", "-c", " ".join(command)])
    prepare(tmp_path, template, command=command[:-1])  # without the flag
    prepare(tmp_path, template.replace('"auto:1.1"', "[40]"), command=command)  # with numbers


def test_last_rows_reaching_the_untrained_model_is_refused(tmp_path: Path) -> None:
    """A review's last_rows 5 with 200 steps and disp_freq 50: step 0's errors (the untrained
    model) were averaged into every fitness."""
    template = TINY.replace('"training": {', '"training": {"numb_steps": 200, "disp_freq": 50, ')
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, last_rows=5)
    assert info.value.key == "trainer.last_rows"
    assert info.value.message.startswith("last_rows 5 would average in step 0, the untrained model's errors: "
                                         "lcurve.out has 4 rows after it (numb_steps 200, disp_freq 50)")
    run, trainer = prepare(tmp_path, template, last_rows=4)  # steps 50 to 200
    workdir = tmp_path / "w"
    workdir.mkdir()
    rows = "".join(f"{step} {0.5 / (step + 1)} {1.0 / (step + 1)} 1e-3\n" for step in range(0, 201, 50))
    (workdir / "lcurve.out").write_text("# step rmse_e_val rmse_f_val lr\n" + rows)
    fitness = trainer.read_fitness(workdir, trainer.render(a_trial(run)))
    assert fitness["energy_rmse"] == pytest.approx(sum(0.5 / (s + 1) for s in (50, 100, 150, 200)) / 4)


@pytest.mark.parametrize(("descriptor", "key"), [
    ({"type": "se_e2_a", "sel": [4]}, "model.descriptor.sel [4] has 1 entry"),
    ({"type": "se_e2_a", "sel": [4, 4, 4]}, "model.descriptor.sel"),
    ({"type": "hybrid", "list": [{"type": "se_e2_a", "sel": [4, 4]}, {"type": "se_e2_r", "sel": [8]}]},
     "model.descriptor.list.1.sel"),
])
def test_a_sel_without_one_entry_per_type_is_refused(tmp_path: Path, descriptor, key) -> None:
    """A chemist's sel [36] with two types passed --dry-run, then every training failed
    (DeePMD-kit 3.1, measured: one too few is 'the number of types of the training data is
    2, but that of the model is only 1', one too many a TensorFlow shape error)."""
    model = {"type_map": ["Ni", "Al"], "descriptor": descriptor}
    template = TINY.replace('"training": {', f'"model": {json.dumps(model)}, "training": {{')
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template)
    assert info.value.key == "trainer.template"
    assert f": {key} " in info.value.message
    kind = "se_e2_r" if "list" in key else "se_e2_a"
    assert f"for the 2 types of model.type_map ['Ni', 'Al']: a {kind} descriptor takes one per type" in info.value.message


@pytest.mark.parametrize("descriptor", [
    {"type": "se_e2_a", "sel": [4, 4]}, {"type": "se_atten", "sel": 40}, {"type": "se_e2_a", "sel": "auto"},
    # attention descriptors sum a list of any length: dp 3.2 trained each of these (helper-86)
    {"type": "se_atten", "sel": [80]}, {"type": "dpa1", "sel": [40, 20, 20]}, {"type": "se_atten_v2", "sel": [80]},
    {"type": "hybrid", "list": [{"type": "se_e2_a", "sel": [4, 4]}, {"type": "se_atten", "sel": [80]}]},
])
def test_a_sel_of_one_entry_per_type_or_a_number_passes(tmp_path: Path, descriptor) -> None:
    model = {"type_map": ["Ni", "Al"], "descriptor": descriptor}
    prepare(tmp_path, TINY.replace('"training": {', f'"model": {json.dumps(model)}, "training": {{'))
    # without a type_map DeePMD-kit counts the types from the data: nothing to compare with
    prepare(tmp_path, TINY.replace('"training": {', '"model": {"descriptor": {"sel": [4]}}, "training": {'))


@pytest.mark.parametrize(("trained", "metrics", "warned"), [
    ("data", None, True),  # the folder above both: DeePMD-kit trains on the validation system too
    ("data/valid", None, True),
    ("data/train", None, False),
    ("data", {"energy_rmse": "rmse_e_trn", "force_rmse": "rmse_f_trn"}, False),  # no validation error read
])
def test_a_validation_system_trained_on_too_is_warned_of(tmp_path: Path, capsys, trained, metrics, warned) -> None:
    """A chemist's train_systems: ../data held data/valid as well: the validation errors the
    search minimised were errors on trained frames, without a word (helper-83)."""
    for system in ("train", "valid"):
        (tmp_path / "data" / system / "set.000").mkdir(parents=True)
        (tmp_path / "data" / system / "type.raw").write_text("0 1\n")
    training = {"disp_file": "lcurve.out", "training_data": {"systems": [str(tmp_path / trained)]},
                "validation_data": {"systems": str(tmp_path / "data" / "valid")}}
    template = TINY.replace('"training": {"disp_file": "lcurve.out"}', f'"training": {json.dumps(training)}')
    prepare(tmp_path, template, **({} if metrics is None else {"metrics": metrics}))
    err = capsys.readouterr().err
    said = (f"training.validation_data.systems: {os.path.realpath(tmp_path / 'data' / 'valid')} is trained on too (it is in "
            "training.training_data.systems as well), so the validation errors the objectives read (rmse_e_val, "
            "rmse_f_val) are errors on trained frames")
    assert (said in err) == warned, err
    assert err.count("is trained on too") == warned  # told once, not once per rendering


def _with_descriptor(descriptor: dict) -> str:
    return TINY.replace('"training": {', f'"model": {{"descriptor": {json.dumps(descriptor)}}}, "training": {{')


_REFUSED = "which DeePMD-kit refuses (rcut_smth should be no more than rcut), so"
_MIDDLE = "the training of the middle of the space, and of the candidates like it, would fail"


@pytest.mark.parametrize(("descriptor", "said"), [
    # a chemist's rcut searched in nm beside a fixed rcut_smth in A: every training failed
    ({"rcut": "$x", "rcut_smth": 1.0}, (f"model.descriptor.rcut_smth 1 is above model.descriptor.rcut 0.5 (from "
                                        f"parameter space.x), {_REFUSED} {_MIDDLE}; add a constraint "
                                        "(constraints: [x > 1])")),
    ({"rcut": 0.3, "rcut_smth": "$x"}, (f"model.descriptor.rcut_smth 0.5 (from parameter space.x) is above "
                                        f"model.descriptor.rcut 0.3, {_REFUSED} {_MIDDLE}; add a constraint "
                                        "(constraints: [x < 0.3])")),
    ({"rcut": 0.5, "rcut_smth": 1.0}, (f"model.descriptor.rcut_smth 1 is above model.descriptor.rcut 0.5, "
                                       f"{_REFUSED} every training would fail; lower rcut_smth")),
    ({"type": "hybrid", "list": [{"rcut": 6.0, "rcut_smth": 0.5}, {"rcut": "$x", "rcut_smth": 2.0}]},
     "model.descriptor.list.1.rcut_smth 2 is above model.descriptor.list.1.rcut 0.5 (from parameter space.x)"),
])
def test_an_rcut_smth_above_rcut_is_refused(tmp_path: Path, descriptor, said) -> None:
    """DeePMD-kit refuses it when each training starts ('rcut_smth (1.000000) should be no
    more than rcut (0.288876)!', helper-83's run), after --dry-run had passed."""
    template = _with_descriptor(descriptor).replace('"$x"', "$x")
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template)
    assert info.value.key == "trainer.template"
    assert said in info.value.message, info.value.message


def test_an_rcut_smth_below_rcut_or_set_aside_by_a_constraint_passes(tmp_path: Path) -> None:
    prepare(tmp_path, _with_descriptor({"rcut": "$x", "rcut_smth": 0.2}).replace('"$x"', "$x"))
    # the middle breaks the user's constraint: not trained, so not judged
    prepare(tmp_path, _with_descriptor({"rcut": "$x", "rcut_smth": 0.8}).replace('"$x"', "$x"),
            overrides=["constraints=[x > 0.8]"])


def test_the_overlap_warning_goes_through_links_and_leaves_patterned_data_alone(tmp_path: Path, capsys) -> None:
    """DeePMD-kit trains on a system linked into the training folder (warned of), but goes
    into no linked folder (pathlib's rglob: helper-87 measured dp's "Found 1 System(s)"),
    and with rglob_patterns only on the systems a pattern matches: train_* and valid_*
    below one folder were warned of as trained on too (helper-86)."""
    for system in ("train_a", "valid_a"):
        (tmp_path / "pat" / system / "set.000").mkdir(parents=True)
        (tmp_path / "pat" / system / "type.raw").write_text("0 1\n")
    (tmp_path / "all").mkdir()
    (tmp_path / "all" / "valid").symlink_to(tmp_path / "pat" / "valid_a")
    (tmp_path / "all" / "up").symlink_to(tmp_path / "all")  # a loop: not walked
    deepmd_system(tmp_path / "folder" / "own", "0 1\n")  # the training's own system
    (tmp_path / "folder" / "pool").symlink_to(tmp_path / "pat")  # a linked folder: DeePMD-kit does not go in

    # beside them, data of another element that no pattern takes: not the type_map's business
    (tmp_path / "pat" / "other_ni" / "set.000").mkdir(parents=True)
    (tmp_path / "pat" / "other_ni" / "type_map.raw").write_text("Ni\n")

    def warned(training: dict) -> bool:
        template = TINY.replace('"training": {"disp_file": "lcurve.out"}',
                                f'"model": {{"type_map": ["Al", "Cu"]}}, '
                                f'"training": {json.dumps({"disp_file": "lcurve.out", **training})}')
        prepare(tmp_path, template)
        return "is trained on too" in capsys.readouterr().err

    pat = str(tmp_path / "pat")
    assert not warned({"training_data": {"systems": pat, "rglob_patterns": ["train_*"]},
                       "validation_data": {"systems": pat, "rglob_patterns": ["valid_*"]}})
    assert warned({"training_data": {"systems": str(tmp_path / "all")},
                   "validation_data": {"systems": str(tmp_path / "pat" / "valid_a")}})
    assert not warned({"training_data": {"systems": str(tmp_path / "folder")},
                       "validation_data": {"systems": str(tmp_path / "pat" / "valid_a")}})
    # other_ni holds a type_map.raw and no type.raw: no system, so not refused for its Ni
    assert not warned({"training_data": {"systems": pat}, "validation_data": {"systems": str(tmp_path / "valid")}})


def test_the_rcut_smth_check_names_the_choice_and_is_not_excused_by_another_constraint(tmp_path: Path) -> None:
    """A choice of rcut below a fixed rcut_smth was called "the middle of the space"; a
    middle that broke a constraint on another parameter skipped the check, and every
    training failed (helper-86)."""
    space = {**deepmd_testutil.SMALL_SPACE, "y": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
             "rc": {"type": "choice", "choices": [0.2, 0.6, 0.9], "sigma": 0.5}}
    def template(descriptor: dict) -> str:  # every parameter used ($x is TINY's)
        return _with_descriptor(descriptor).replace('"$rc"', "$rc").replace('"$x"', "$x").replace(
            '"training": {', '"_unused": [$y, $rc], "training": {')

    by_choice = template({"rcut": "$rc", "rcut_smth": 0.5})
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, by_choice, space=space)
    assert "(rc=0.2): model.descriptor.rcut_smth 0.5 is above model.descriptor.rcut 0.2" in info.value.message
    assert "the training of the candidates with rc=0.2 would fail" in info.value.message
    prepare(tmp_path, by_choice, space=space, overrides=["constraints=[rc > 0.5]"])  # set aside by the user
    in_nm = template({"rcut": "$x", "rcut_smth": 1.0})
    with pytest.raises(SpecError, match="add a constraint"):
        prepare(tmp_path, in_nm, space=space, overrides=["constraints=[y > 0.9]"])


def _dpa2(repinit: dict, repformer: dict) -> dict:
    return {"type": "dpa2", "repinit": {"rcut": 6.0, "rcut_smth": 0.1, "nsel": 120, **repinit},
            "repformer": {"rcut": 4.0, "rcut_smth": 0.1, "nsel": 40, **repformer}}


@pytest.mark.parametrize(("descriptor", "said"), [
    (_dpa2({}, {"rcut_smth": 4.8}), (f"model.descriptor.repformer.rcut_smth 4.8 is above model.descriptor.repformer.rcut "
                                     f"4, {_REFUSED} every training would fail; lower rcut_smth or raise rcut")),
    (_dpa2({"use_three_body": True, "three_body_rcut": "$x", "three_body_rcut_smth": 0.8, "three_body_sel": 40}, {}),
     (f"model.descriptor.repinit.three_body_rcut_smth 0.8 is above model.descriptor.repinit.three_body_rcut 0.5 "
      f"(from parameter space.x), {_REFUSED} {_MIDDLE}; add a constraint (constraints: [x > 0.8])")),
    ({"type": "dpa3", "repflow": {"e_rcut": 6.0, "e_rcut_smth": 5.0, "a_rcut": 3.7, "a_rcut_smth": 3.8}},
     f"model.descriptor.repflow.a_rcut_smth 3.8 is above model.descriptor.repflow.a_rcut 3.7, {_REFUSED} every"),
    ({"type": "hybrid", "list": [{"type": "se_e2_a", "rcut": 6.0, "rcut_smth": 0.5}, _dpa2({"rcut_smth": 7.0}, {})]},
     "model.descriptor.list.1.repinit.rcut_smth 7 is above model.descriptor.list.1.repinit.rcut 6"),
])
def test_a_nested_rcut_smth_above_its_rcut_is_refused(tmp_path: Path, descriptor, said) -> None:
    """dpa2's and dpa3's cutoffs sit in sections of their own: an rcut_smth above its rcut
    there passed --dry-run, then every training failed with DeePMD-kit's PyTorch "rmin
    should be less than rmax." (helper-90, DeePMD-kit 3.2's own code: dp --pt cannot run
    on the CI machine, whose torch is not the one the deepmd-kit wheel was built for)."""
    template = _with_descriptor(descriptor).replace('"$x"', "$x")
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, command=["dp", "--pt", "train", "input.json"])
    assert said in info.value.message, info.value.message


def test_dpa2_cutoffs_in_order_and_an_unused_three_body_pass(tmp_path: Path) -> None:
    # three_body's cutoffs are only read with use_three_body: DeePMD-kit builds no such block
    unused = _dpa2({"three_body_rcut": 4.0, "three_body_rcut_smth": 5.0}, {})
    prepare(tmp_path, _with_descriptor(unused), command=["dp", "--pt", "train", "input.json"])
    searched = _dpa2({"rcut": 0.9, "nsel": 120}, {"rcut": "$x", "nsel": 40})  # 0.5 < 0.9: in order
    prepare(tmp_path, _with_descriptor(searched).replace('"$x"', "$x"), command=["dp", "--pt", "train", "input.json"])


@pytest.mark.parametrize(("repinit", "repformer", "said"), [
    # a searched repformer.rcut past a fixed repinit.rcut: "rcut and sel are not in the same order"
    ({"rcut": 0.4}, {"rcut": "$x"}, ("model.descriptor.repformer.rcut 0.5 (from parameter space.x) is above "
                                     "model.descriptor.repinit.rcut 0.4, but model.descriptor.repformer.nsel 40 is below "
                                     "model.descriptor.repinit.nsel 120: DeePMD-kit's dpa2 needs the nsel to grow with "
                                     "the cutoff (\"rcut and sel are not in the same order\"), so the training of the "
                                     "middle of the space, and of the candidates like it, would fail; add a constraint "
                                     "(constraints: [x < 0.4]) or change its range, or give the larger cutoff the "
                                     "larger nsel")),
    ({}, {"nsel": 130}, ("model.descriptor.repinit.rcut 6 is above model.descriptor.repformer.rcut 4, but "
                         "model.descriptor.repinit.nsel 120 is below model.descriptor.repformer.nsel 130")),
    ({"use_three_body": True, "three_body_rcut": 5.0, "three_body_sel": 20}, {},
     ("model.descriptor.repinit.three_body_rcut 5 is above model.descriptor.repformer.rcut 4, but "
      "model.descriptor.repinit.three_body_sel 20 is below model.descriptor.repformer.nsel 40")),
])
def test_dpa2_sections_whose_nsel_shrinks_as_the_cutoff_grows_are_refused(tmp_path: Path, repinit, repformer,
                                                                          said) -> None:
    """DeePMD-kit's dpa2 asserts that its sections' nsel grow with their rcut: a spec that
    let a searched repformer.rcut pass repinit.rcut failed every such training with "rcut
    and sel are not in the same order", which points at sel (helper-90)."""
    template = _with_descriptor(_dpa2(repinit, repformer)).replace('"$x"', "$x")
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, command=["dp", "--pt", "train", "input.json"])
    assert said in info.value.message, info.value.message
    # the user's constraint sets the out-of-order candidates aside
    if repformer.get("rcut") == "$x":
        prepare(tmp_path, template, command=["dp", "--pt", "train", "input.json"], overrides=["constraints=[x < 0.4]"])


@pytest.mark.parametrize("command", [["dp", "--tf", "train", "input.json"], ["dp", "train", "input.json"]])
def test_a_pytorch_descriptor_with_the_tensorflow_backend_is_refused(tmp_path: Path, command) -> None:
    """dp --tf (the default command) and a dpa2 model: DeePMD-kit's argcheck takes it
    whatever the backend, then every training failed with "Unknown descriptor type: dpa2.
    Did you mean: dpa1?" (helper-90)."""
    for descriptor, key in ((_dpa2({}, {}), "model.descriptor"),
                            ({"type": "hybrid", "list": [{"type": "se_e2_a"}, {"type": "DPA3"}]},
                             "model.descriptor.list.1")):
        with pytest.raises(SpecError) as info:
            prepare(tmp_path, _with_descriptor(descriptor), command=command)
        assert (f"{key}.type {descriptor.get('type') if key == 'model.descriptor' else 'DPA3'} is a descriptor of "
                "DeePMD-kit's PyTorch backend, which its TensorFlow backend (the command's) does not have: every "
                "training would fail; train with dp --pt train") in info.value.message, info.value.message
    prepare(tmp_path, _with_descriptor(_dpa2({}, {})), command=["dp", "--pt", "train", "input.json"])
    prepare(tmp_path, _with_descriptor(_dpa2({}, {})), command=["my-dp-wrapper", "input.json"])  # not known to be TF


@pytest.mark.parametrize(("descriptor", "said"), [(_dpa2({"nsel": "auto"}, {}), 'nsel is "auto"'),
                                                  (_dpa2({}, {"nsel": "auto:1.1"}), 'nsel is "auto:1.1"'),
                                                  ({"type": "dpa3", "repflow": {"e_sel": 120, "a_sel": "auto"}},
                                                   'a_sel is "auto"')])
def test_an_auto_nsel_with_the_neighbour_statistics_skipped_is_refused(tmp_path: Path, descriptor, said) -> None:
    """dpa2's nsel and dpa3's e_sel/a_sel take "auto" as sel does: with --skip-neighbor-stat
    every training failed with "unsupported operand type(s) for +: 'int' and 'str'" (helper-90)."""
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, _with_descriptor(descriptor),
                command=["dp", "--pt", "train", "input.json", "--skip-neighbor-stat"])
    assert (f"the model's {said}, which DeePMD-kit works out from the neighbour statistics that "
            "--skip-neighbor-stat skips") in info.value.message, info.value.message


def test_every_backend_alias_of_dp_is_known_and_commented_keys_are_left_alone(tmp_path: Path) -> None:
    """dp --pytorch-exportable (deepmd/main.py's BACKEND_TABLE) was taken for TensorFlow and
    its dpa2 refused; keys DeePMD-kit drops as commented out (a leading _) were checked as
    real ones: "_sel": "auto" beside a numeric sel, "_rcut_smth" above "_rcut" (helper-91)."""
    for flag in ("--pytorch-exportable", "--pt-expt", "--np", "--numpy", "--dp", "--jax"):
        prepare(tmp_path, _with_descriptor(_dpa2({}, {})), command=["dp", flag, "train", "input.json"])
    commented = {"type": "se_e2_a", "sel": [4, 4], "_sel": "auto", "rcut": 6.0, "rcut_smth": 0.5,
                 "_rcut": 0.6, "_rcut_smth": 1.0, "_old": {"rcut": 0.1, "rcut_smth": 1.0}}
    prepare(tmp_path, _with_descriptor(commented), command=["dp", "--tf", "train", "input.json", "--skip-neighbor-stat"])
    old_section = {**_dpa2({}, {}), "_repinit_old": {"nsel": "auto"}}  # a whole section commented out (helper-93)
    prepare(tmp_path, _with_descriptor(old_section), command=["dp", "--pt", "train", "input.json", "--skip-neighbor-stat"])


@pytest.mark.parametrize(("command", "refused"), [
    (["dp", "--pt", "train", "input.json"], True), (["dp", "--backend=jax", "train", "input.json"], True),
    (["dp", "--tf", "train", "input.json"], False), (["my-dp-wrapper", "input.json"], False),
    # a wrapper's own flag is not dp's: --np is mpirun's here, and dp trains with TensorFlow (helper-93)
    (["mpirun", "--np", "4", "dp", "train", "input.json"], False)])
def test_an_rcut_smth_equal_to_rcut_is_refused_for_the_backends_that_refuse_it(tmp_path: Path, command,
                                                                               refused) -> None:
    """PyTorch's (and the other backends') smoothing raises on rmin >= rmax; TensorFlow's
    takes them equal, and a wrapper's backend is not known (helper-91)."""
    template = _with_descriptor({"type": "se_e2_a", "rcut": 4.0, "rcut_smth": 4.0})
    if not refused:
        prepare(tmp_path, template, command=command)
        return
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, command=command)
    backend = "pt" if "--pt" in command else "jax"
    assert (f"model.descriptor.rcut_smth 4 is equal to model.descriptor.rcut 4, which "
            f"DeePMD-kit's {backend} backend refuses (\"rmin should be less than rmax.\"; only TensorFlow's takes "
            "them equal), so every training would fail; lower rcut_smth or raise rcut") in info.value.message


@pytest.mark.parametrize("unit", ["meV/atom", "eV/A"])
def test_a_virial_objective_in_another_unit_is_refused(tmp_path: Path, unit: str) -> None:
    """rmse_v is the virial error per atom, in eV: a meV/atom label took the 4 meV/atom
    limit for eV values and called models of 0.2 eV/atom accurate, an eV/A one the
    force's (helper-92)."""
    metrics = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val", "virial_rmse": "rmse_v_val"}
    template = TINY.replace('"training": {', '"loss": {"start_pref_v": 0.02, "limit_pref_v": 1}, "training": {')

    def objectives(virial: str) -> str:
        return ("objectives=[{name: energy_rmse, unit: eV/atom}, {name: force_rmse, unit: eV/A}, "
                f"{{name: virial_rmse, unit: {virial}}}]")

    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, overrides=[objectives(unit)], metrics=metrics)
    assert info.value.key == "objectives.2.unit"
    assert info.value.message == (f"objective virial_rmse has unit {unit!r}, but it is read from rmse_v_val of "
                                  "lcurve.out, in eV/atom (DeePMD-kit's unit, read as it is): give it unit eV/atom")
    with pytest.raises(SpecError) as info:  # the right unit: the energy's default limit would judge it
        prepare(tmp_path, template, overrides=[objectives("eV/atom")], metrics=metrics)
    assert info.value.key == "report.chemical_accuracy"
    assert info.value.message == ("objective virial_rmse is the virial error (rmse_v_val) in eV/atom, whose default "
                                  "chemical-accuracy limit (0.004 eV/atom) is the paper's for the energy, which sets "
                                  "none for the virial: give it one of its own, report.chemical_accuracy.virial_rmse")
    prepare(tmp_path, template, overrides=[objectives("eV/atom"), "report={chemical_accuracy: {virial_rmse: 0.02}}"],
            metrics=metrics)
    prepare(tmp_path, template, overrides=[objectives("eV/atom (virial)")], metrics=metrics)  # a label: no default


def test_a_virial_objective_that_cannot_be_measured_is_refused_before_its_limit_is_asked_for(tmp_path: Path) -> None:
    """The first refusal asked for a limit of its own; given one, the next said the column
    would not be in lcurve.out (the virial's loss prefactors 0): the user had filled in a
    limit for an error that can never be measured (helper-94)."""
    metrics = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val", "virial_rmse": "rmse_v_val"}
    objectives = ("objectives=[{name: energy_rmse, unit: eV/atom}, {name: force_rmse, unit: eV/A}, "
                  "{name: virial_rmse, unit: eV/atom}]")
    with pytest.raises(SpecError) as info:  # no loss block: DeePMD-kit's prefactors of the virial are 0
        prepare(tmp_path, TINY, overrides=[objectives], metrics=metrics)
    assert "'rmse_v_val' will not be in lcurve.out" in info.value.message, info.value.message


def test_a_virial_objective_on_systems_without_virials_is_refused(tmp_path: Path) -> None:
    """DeePMD-kit writes NaN for the batches of a system without virial.npy: with none
    every training failed after its whole run, with some at random, by where the last
    batch came from (helper-92's 3 of 8)."""
    for system, virials in (("a", True), ("b", False), ("c", "first set only")):
        for number in range(2):
            sets = tmp_path / "valid" / system / f"set.00{number}"
            sets.mkdir(parents=True)
            if virials is True or (virials and number == 0):
                (sets / "virial.npy").write_bytes(b"")
        (tmp_path / "valid" / system / "type.raw").write_text("0 1\n")
    metrics = {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_val", "virial_rmse": "rmse_v_val"}
    objectives = ("objectives=[{name: energy_rmse, unit: eV/atom}, {name: force_rmse, unit: eV/A}, "
                  "{name: virial_rmse, unit: eV/atom}]")
    limit = "report={chemical_accuracy: {virial_rmse: 0.02}}"

    def template(valid: Path) -> str:
        training = {"disp_file": "lcurve.out", "validation_data": {"systems": str(valid)}}
        return TINY.replace('"training": {"disp_file": "lcurve.out"}',
                            f'"loss": {{"start_pref_v": 0.02, "limit_pref_v": 1}}, "training": {json.dumps(training)}')

    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template(tmp_path / "valid"), overrides=[objectives, limit], metrics=metrics)
    assert info.value.message.endswith(
        f"training.validation_data.systems: 2 of the 3 systems in {tmp_path / 'valid'} have sets without virials "
        f"({tmp_path / 'valid' / 'b'}/set.*/virial.npy), which virial_rmse reads (rmse_v_val): DeePMD-kit writes NaN "
        "for the batches drawn from them, so every training would fail, or many at random; give validation systems "
        "with virials, or drop the objective"), info.value.message
    with pytest.raises(SpecError, match=r": the system in .*/valid/b has sets without virials"):
        prepare(tmp_path, template(tmp_path / "valid" / "b"), overrides=[objectives, limit], metrics=metrics)
    # DeePMD-kit reads the virials set by set: one set without them gives NaN too (helper-93)
    with pytest.raises(SpecError, match=r": the system in .*/valid/c has sets without virials"):
        prepare(tmp_path, template(tmp_path / "valid" / "c"), overrides=[objectives, limit], metrics=metrics)
    prepare(tmp_path, template(tmp_path / "valid" / "a"), overrides=[objectives, limit], metrics=metrics)
    # the virial read by no objective: its NaN decides nothing
    prepare(tmp_path, template(tmp_path / "valid"), metrics=metrics)


@pytest.mark.parametrize("kind", ["template", "data"])
def test_a_symbolic_link_loop_is_one_line(tmp_path: Path, kind: str) -> None:
    """A template or a trainer.paths setting named by a link that loops: Path.resolve
    raised RuntimeError, a traceback and exit 4 (helper-110)."""
    os.symlink("loop", tmp_path / "loop")
    if kind == "template":
        spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(tmp_path / "run", "loop", check_input=False))
        said = f"trainer.template: cannot read the template {tmp_path / 'loop'}: too many levels of symbolic links"
    else:
        (tmp_path / "tmpl.json").write_text(TINY.replace('"training": {', '"training": {"training_data": '
                                                         '{"systems": "${train}"}, '))
        spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(tmp_path / "run", "tmpl.json", check_input=False,
                                                              settings={"train": "loop"}, paths=["train"],
                                                              metrics={"energy_rmse": "rmse_e_trn",
                                                                       "force_rmse": "rmse_f_trn"}))
        said = (f"trainer.settings.train: data path {tmp_path / 'loop'} cannot be looked at from here (Too many "
                "levels of symbolic links)")
    done = hpo_run(str(spec), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert said in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()


def test_a_template_that_never_ends_is_not_read_whole(tmp_path: Path) -> None:
    """template: /dev/zero was read until the kernel's OOM killer stopped hpo-run at 22.8 GB
    (helper-110); the spec file had a limit, templates none."""
    done = hpo_run(str(write_spec(tmp_path / "spec.yaml", deepmd_spec(tmp_path / "run", "/dev/zero"))), "--dry-run",
                   cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "trainer.template: the template /dev/zero holds more than 10,000,000 characters" in done.stderr


def test_a_key_given_twice_in_one_object_is_refused(tmp_path: Path) -> None:
    """JSON keeps the last: "x": $x before "x": 0.5 searched a parameter no training read
    (helper-110).  A key repeated in another object is another key."""
    with pytest.raises(SpecError) as refused:
        prepare(tmp_path, TINY.replace('"act":', '"x": 0.5, "act":'))
    assert refused.value.key == "trainer.template"
    assert ("tmpl.json: the key 'x' is given twice in one object: JSON (and DeePMD-kit) keeps the last and ignores "
            "the first; give it once") in refused.value.message
    prepare(tmp_path, TINY.replace('"disp_file"', '"x": 1, "disp_file"'))
    # DeePMD-kit ignores keys starting with _, and its example inputs repeat "_comment"
    prepare(tmp_path, TINY.replace('"act":', '"_comment": "a", "_comment": "b", "act":'))
