"""Promise 7: values holding quotes, ``$``, newlines or shell metacharacters render as
valid JSON and never reach a shell; evaluation directories cannot leave the run directory.

Rendering is fuzzed with hypothesis through the real ``deepmd`` trainer's prepare and
render; one real run (local Dask, the stand-in dp program recording the arguments and
variables it got) shows choice values, settings, the command, the launch prefix and the
environment arriving literally, with no file created by the ``touch`` commands hidden in
them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
import yaml
from faults_testutil import FAKE_DP, assert_recorded_once, deepmd_spec, run_in_process, write_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnp_hpo.cli import main
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.evaluation import Trial
from dnnp_hpo.registry import load_registry

#: every placeholder twice: inside a JSON string and as a bare JSON value
TEMPLATE = ('{"x": $x, "act": "${act}", "act_bare": $act, "note": "<${note}>", "note_bare": $note, '
            '"seed": $seed, "training": {"disp_file": "lcurve.out"}}')
NASTY = ['"', "'", "\\", '\\"', "$x", "${x}", "$$", "${seed}", "$(touch PWNED)", "`touch PWNED`",
         "; touch PWNED", "| touch PWNED", "&& touch PWNED &", "a\nb", "\r\n", "\u2028", "\x01", "\t",
         '"}, "evil": {"', "%s {} {0}", "</script>", "é中🙂", ""]
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=2, max_size=5).map("".join),
    # NUL is refused in every string of a spec (core/specfile.py check_text: no path, argument
    # or environment value can hold one), so it is not a value to render
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
)


def spec_with(directory: Path, choices: list, note, **trainer) -> Path:
    spec = deepmd_spec(directory / "run", **trainer)
    spec["space"]["act"]["choices"] = choices
    spec["trainer"]["settings"] = {"note": note}
    return write_spec(directory / "spec.yaml", spec, template=TEMPLATE)


@settings(max_examples=int(os.environ.get("FAULTS_FUZZ_EXAMPLES", "60")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
# each value once, compared typed, as the spec requires of choices
@given(choices=st.lists(VALUES, min_size=1, max_size=3, unique_by=lambda v: (type(v), v)), note=VALUES)
def test_any_string_renders_as_the_same_string_in_valid_json(tmp_path_factory, choices, note) -> None:
    directory = tmp_path_factory.mktemp("render")
    run, trainer = prepare_run(spec_with(directory, choices, note), load_registry())
    for value in choices:
        trial = Trial(uuid="u", birth_id=0, generation=0, genome=(0.5, 0.0), params={"x": 0.5, "act": value},
                      seed=1, workdir=run.evals_dir / "u")
        data = json.loads(trainer.render(trial))
        assert (data["act"], data["act_bare"]) == (value, value)
        assert (data["note"], data["note_bare"]) == (f"<{note}>", note)
        assert set(data) == {"x", "act", "act_bare", "note", "note_bare", "seed", "training"}


SHELLY = "'; touch PWNED_setting; echo \"$(touch PWNED_subst)\" `touch PWNED_tick` | cat & \n$HOME"
COMMAND_TAIL = "; touch PWNED_cmd && echo $HOME | cat `touch PWNED_cmdtick` $(touch PWNED_cmdsubst) > PWNED_redirect"


def test_nothing_reaches_a_shell_in_a_real_run(tmp_path: Path) -> None:
    choices = ["$(touch PWNED_choice)", "`touch PWNED_choice2`; rm -rf /nonexistent | x && y", 'a"b\'c\nd']
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_DP))} {COMMAND_TAIL}"
    prefix = "env 'FAULTS_ECHO_PREFIX=$(touch PWNED_prefix); `touch PWNED_prefix2`'"
    echo = "$(touch PWNED_env) `touch PWNED_env2` ; $HOME > PWNED_envredirect"
    spec = spec_with(tmp_path, choices, SHELLY, pop_size=4, command=command, launch_prefix=prefix,
                     env={"FAULTS_FAULT": "ok", "FAULTS_ECHO": echo})
    run_dir = run_in_process(spec)
    evaluations = assert_recorded_once(run_dir, 4)
    assert [e.status for e in evaluations] == ["ok"] * 4, [e.reason for e in evaluations]
    for evaluation in evaluations:
        workdir = evaluation.trial.workdir
        data = json.loads((workdir / "input.json").read_text(encoding="utf-8"))
        assert data["act"] == evaluation.trial.params["act"] and data["act"] in choices
        assert data["note_bare"] == SHELLY
        seen = json.loads((workdir / "seen.json").read_text())
        assert seen["argv"] == [str(FAKE_DP), *shlex.split(COMMAND_TAIL)]  # each one word, as written
        assert seen["FAULTS_ECHO"] == echo
        assert seen["FAULTS_ECHO_PREFIX"] == "$(touch PWNED_prefix); `touch PWNED_prefix2`"
    assert sorted(str(p) for p in tmp_path.rglob("PWNED*")) == []
    assert sorted(str(p) for p in Path.cwd().glob("PWNED*")) == []


# ---- evaluation directories stay inside the run directory ---------------------------------------


def refused(spec: Path, *words: str) -> None:
    """hpo-run refuses ``spec``: exit 2, one line naming ``words``, nothing written beside it."""
    before = sorted(p.name for p in spec.parent.parent.iterdir())
    inside = sorted(p.name for p in spec.parent.iterdir())
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main([str(spec)])
    assert status == 2 and len(err.getvalue().splitlines()) == 1, err.getvalue()
    for word in words:
        assert word in err.getvalue(), err.getvalue()
    assert sorted(p.name for p in spec.parent.iterdir()) == inside
    assert sorted(p.name for p in spec.parent.parent.iterdir()) == before


@pytest.mark.parametrize("name", ["../escape", "../../escape", "/tmp/faults-absolute-name", "a/../../b",
                                  "..", ".", "", "a\\b", "runs/x"])
def test_a_name_that_is_a_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The default run directory is runs/<name>: a name never takes it elsewhere."""
    directory = tmp_path / "work"
    spec = deepmd_spec(directory / "unused")
    del spec["run_dir"]
    spec["name"] = name
    path = write_spec(directory / "spec.yaml", spec)
    monkeypatch.chdir(directory)
    refused(path, "spec.yaml: name: expected a plain name")
    assert not Path("/tmp/faults-absolute-name").exists()


def test_a_run_dir_with_dot_dots_holds_every_evaluation_directory(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = deepmd_spec(Path("nowhere/../deeper/../run"), pop_size=2, env={"FAULTS_FAULT": "ok"})
    path = write_spec(tmp_path / "spec.yaml", spec)
    monkeypatch.chdir(tmp_path)
    run_dir = run_in_process(path)
    assert run_dir == tmp_path / "run"
    for evaluation in assert_recorded_once(run_dir, 2):
        assert evaluation.trial.workdir.resolve().parent == run_dir / "evals"
        assert (evaluation.trial.workdir / "lcurve.out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "spec.yaml", "tmpl.json"]


@pytest.mark.parametrize("disp_file", ["../lcurve.out", "/tmp/faults-lcurve.out", "a/../../lcurve.out", ""])
def test_a_learning_curve_outside_the_evaluation_directory_is_refused(tmp_path: Path, disp_file: str) -> None:
    """Trainings would all write and read one file: refused at start-up, also when a
    choice parameter sets it."""
    template = TEMPLATE.replace('"disp_file": "lcurve.out"', '"disp_file": "${lc}"')
    spec = deepmd_spec(tmp_path / "run")
    spec["space"]["lc"] = {"type": "choice", "choices": ["lcurve.out", disp_file], "sigma": 0.5}
    spec["space"]["act"]["choices"] = ["tanh"]
    spec["trainer"]["settings"] = {"note": "n"}
    path = tmp_path / "in" / "spec.yaml"
    write_spec(path, spec, template=template)
    refused(path, "trainer.template", "training.disp_file must be a file name inside the evaluation directory",
            repr(disp_file))
    assert yaml.safe_load(path.read_text())["space"]["lc"]["choices"][1] == disp_file
