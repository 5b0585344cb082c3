"""Templates: the paper's ``string.Template`` style, JSON-safe values, name checks.

Errors of the user's template are checked through the real ``hpo-run``: exit 2, one
line on stderr naming the template and the names, no traceback, nothing written.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
from deepmd_testutil import PAPER_SPACE, PAPER_TEMPLATE, deepmd_spec, hpo_run, write_spec
from hypothesis import given
from hypothesis import strategies as st

from dnnp_hpo.errors import SpecError
from dnnp_hpo.plugins.deepmd.template import parse_rendered, parse_template

PAPER_VALUES = {
    "start_lr": 0.001, "stop_lr": 3.51e-8, "rcut": 8.5, "rcut_smth": 2.25,
    "scale_by_worker": "sqrt", "desc_activ_func": "relu6", "fitting_activ_func": "softplus",
    "seed": 1234, "numb_steps": 40000, "disp_freq": 1000, "type_map": ["Al", "Cl", "K"],
    "train_systems": "/data/train", "valid_systems": "/data/valid",
}


def test_paper_template_style_renders() -> None:
    """``"rcut": $rcut,`` and ``"${desc_activ_func}"`` as in the paper, unchanged."""
    text = '{"rcut": $rcut, "rcut_smth": $rcut_smth, "activation_function": "${desc_activ_func}", "p": "$$5"}'
    template = parse_template(text, "t.json")
    assert template.names == {"rcut", "rcut_smth", "desc_activ_func"}
    out = json.loads(template.render({"rcut": 6.0, "rcut_smth": 0.5, "desc_activ_func": "tanh"}))
    assert out == {"rcut": 6.0, "rcut_smth": 0.5, "activation_function": "tanh", "p": "$5"}


def test_shipped_paper_template_renders_to_the_paper_setup() -> None:
    template = parse_template(PAPER_TEMPLATE.read_text(), str(PAPER_TEMPLATE))
    assert template.names == set(PAPER_VALUES)
    data = parse_rendered(template.render(PAPER_VALUES), "t.json")
    descriptor, fitting = data["model"]["descriptor"], data["model"]["fitting_net"]
    assert descriptor["neuron"] == [25, 50, 100] and fitting["neuron"] == [240, 240, 240]
    assert (descriptor["rcut"], descriptor["rcut_smth"]) == (8.5, 2.25)
    assert descriptor["activation_function"] == "relu6" and fitting["activation_function"] == "softplus"
    assert data["learning_rate"]["scale_by_worker"] == "sqrt"
    assert data["learning_rate"]["stop_lr"] == 3.51e-8
    loss = data["loss"]
    assert (loss["start_pref_e"], loss["start_pref_f"], loss["limit_pref_e"], loss["limit_pref_f"]) == (
        0.02, 1000, 1, 1)
    assert data["training"]["numb_steps"] == 40000 and data["training"]["seed"] == 1234
    assert data["training"]["disp_freq"] == 1000
    assert data["model"]["type_map"] == ["Al", "Cl", "K"]


def _deepmd_verdict(data: dict) -> object:
    """What DeePMD-kit's checker makes of ``data``, as the start-up check calls it: the
    normalized input, or its refusal's words."""
    from deepmd.utils.argcheck import normalize
    from deepmd.utils.compat import update_deepmd_input

    try:
        return normalize(update_deepmd_input(copy.deepcopy(data), warning=False, dump=None))
    except Exception as exc:  # noqa: BLE001 - dargs raises several types
        return f"{type(exc).__name__}: {exc}"


def test_the_checks_reused_argument_tree_gives_deepmd_kits_own_verdicts() -> None:
    """The start-up check builds DeePMD-kit's tree of arguments once in a process
    (inputcheck._argument_tree_reused): with it, the checker's answers are those of a tree
    built for each call, for an input it accepts and one it refuses, each checked twice;
    DeePMD-kit's own gen_args is back after."""
    from deepmd.utils import argcheck

    from dnnp_hpo.plugins.deepmd.inputcheck import _argument_tree_reused

    template = parse_template(PAPER_TEMPLATE.read_text(), str(PAPER_TEMPLATE))
    good = parse_rendered(template.render(PAPER_VALUES), "t.json")
    bad = copy.deepcopy(good)
    bad["learning_rate"]["strt_lr"] = bad["learning_rate"].pop("start_lr")
    fresh = [_deepmd_verdict(good), _deepmd_verdict(bad)]
    assert isinstance(fresh[0], dict) and "strt_lr" in str(fresh[1]), fresh
    own = argcheck.gen_args
    with _argument_tree_reused():
        reused = [_deepmd_verdict(data) for data in (good, bad, good, bad)]
    assert argcheck.gen_args is own
    assert reused == fresh * 2


@given(st.text())
def test_any_choice_value_stays_valid_json(value: str) -> None:
    """A quote, a backslash or a control character in a value cannot break the file."""
    template = parse_template('{"in": "act=${v}!", "bare": $v, "list": [$v, "$v"]}', "t.json")
    out = json.loads(template.render({"v": value}))
    assert out == {"in": f"act={value}!", "bare": value, "list": [value, value]}


def test_quote_in_choice_value_cannot_inject_keys() -> None:
    template = parse_template('{"activation_function": "${f}", "seed": 1}', "t.json")
    out = json.loads(template.render({"f": 'tanh", "seed": 99, "x": "'}))
    assert out == {"activation_function": 'tanh", "seed": 99, "x": "', "seed": 1}


def test_escaped_quote_before_placeholder_keeps_string_state() -> None:
    template = parse_template(r'{"a": "say \"hi\" $x", "b": $x}', "t.json")
    assert json.loads(template.render({"x": "q"})) == {"a": 'say "hi" q', "b": "q"}


def test_numbers_bools_and_lists_render_as_json() -> None:
    template = parse_template('{"a": $a, "b": $b, "c": $c, "d": "$a"}', "t.json")
    assert json.loads(template.render({"a": 3, "b": True, "c": [1, "x"]})) == {
        "a": 3, "b": True, "c": [1, "x"], "d": "3"}


def test_list_inside_a_string_is_refused() -> None:
    template = parse_template('{"a": "$c"}', "t.json")
    with pytest.raises(SpecError, match=r"\$c stands inside a JSON string"):
        template.render({"c": [1, 2]})


def test_lone_dollar_is_an_error_with_its_line() -> None:
    with pytest.raises(SpecError, match=r"t.json: line 2: a '\$' must start a placeholder"):
        parse_template('{\n"a": "5 $ each"}', "t.json")


def test_rendered_text_must_parse() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        parse_rendered('{"a": 1,}', "t.json")


# ---- through the real hpo-run: exit 2, one line, nothing written -------------------------


def _run_bad(tmp_path: Path, template_text: str, names_template: bool = True, **trainer) -> tuple[str, Path]:
    template = tmp_path / "tmpl.json"
    template.write_text(template_text)
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(run_dir, "tmpl.json", **trainer))
    done = hpo_run(str(spec))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not run_dir.exists()
    assert str(spec) in lines[0]
    assert (str(template) in lines[0]) == names_template
    return lines[0], run_dir


def test_unknown_placeholder_exits_2_naming_it(tmp_path: Path) -> None:
    line, _ = _run_bad(tmp_path, '{"a": $x, "b": "${act}", "c": $rcutt, "d": $seed}', check_input=False)
    assert "trainer.template" in line and "placeholder(s) with no value: $rcutt (" in line


def test_unused_parameter_and_setting_exit_2_naming_them(tmp_path: Path) -> None:
    line, _ = _run_bad(tmp_path, '{"a": $x}', settings={"numb_step": 10}, check_input=False)
    assert "not use: act" in line and "numb_step" in line


def test_reserved_seed_setting_exits_2(tmp_path: Path) -> None:
    line, _ = _run_bad(tmp_path, '{"a": $x, "b": "$act", "s": $seed}', settings={"seed": 1},
                       check_input=False, names_template=False)
    assert "trainer.settings.seed" in line


def test_deepmd_argcheck_reports_a_misspelt_key(tmp_path: Path, demo_data: Path) -> None:
    """``strt_lr`` is reported at start-up by DeePMD-kit's own checker, before any training."""
    text = PAPER_TEMPLATE.read_text().replace('"start_lr": $start_lr', '"strt_lr": $start_lr')
    line, _ = _run_bad(
        tmp_path, text, space=PAPER_SPACE,
        settings={"train_systems": str(demo_data / "train"), "valid_systems": str(demo_data / "valid"),
                  "type_map": ["Al", "Cu"], "numb_steps": 10, "disp_freq": 1000},
    )
    assert "DeePMD-kit rejects the rendered input" in line and "strt_lr" in line


def test_deepmd_argcheck_checks_every_choice(tmp_path: Path) -> None:
    """A choice DeePMD-kit refuses is caught at start-up even if generation 0 never draws it
    (mutation may: the bounds reach it)."""
    space = dict(PAPER_SPACE, axis={"type": "choice", "choices": [16, "sixteen"],
                                    "init": [0.0, 1.0], "bounds": [0.0, 2.0], "sigma": 0.01})
    text = PAPER_TEMPLATE.read_text().replace('"axis_neuron": 16', '"axis_neuron": $axis')
    line, _ = _run_bad(tmp_path, text, space=space,
                       settings={"train_systems": "/nowhere/t", "valid_systems": "/nowhere/v",
                                 "type_map": ["Al", "Cu"], "numb_steps": 10, "disp_freq": 1000})
    assert "(with axis='sixteen')" in line and "axis_neuron" in line


PAPER_SETTINGS = {"train_systems": "/nowhere/t", "valid_systems": "/nowhere/v", "type_map": ["Al", "Cu"],
                  "disp_freq": 1000}


@pytest.mark.parametrize(("steps", "words"), [
    (500, "step 0 alone, the untrained model"),
    (2500, "its last row at step 2000, 500 steps before the trained model"),
])
def test_disp_freq_that_does_not_divide_numb_steps_exits_2(tmp_path: Path, steps: int, words: str) -> None:
    """The paper's spec writes a row every 1000 steps: shortened to 500 steps (a smoke
    test), lcurve.out would hold step 0 alone and the search would rank untrained models;
    at 2500 the fitness would be the model of step 2000.  Both are settings of the paper's
    template (disp_freq since a review's smoke test could not shorten it with --set)."""
    line, _ = _run_bad(tmp_path, PAPER_TEMPLATE.read_text(), space=PAPER_SPACE,
                       settings={**PAPER_SETTINGS, "numb_steps": steps})
    assert (f"training.disp_freq 1000 does not divide training.numb_steps {steps} (from $disp_freq and "
            "$numb_steps)") in line
    assert words in line
    assert ": trainer.settings: " in line  # the settings, not the template
    # a disp_freq written in the template: the one setting is named
    fixed = PAPER_TEMPLATE.read_text().replace('"disp_freq": $disp_freq', '"disp_freq": 1000')
    settings = {key: value for key, value in PAPER_SETTINGS.items() if key != "disp_freq"}
    line, _ = _run_bad(tmp_path, fixed, space=PAPER_SPACE, settings={**settings, "numb_steps": steps})
    assert ": trainer.settings.numb_steps: " in line and "(from $numb_steps)" in line


def test_disp_freq_and_numb_steps_both_set_name_the_settings_block(tmp_path: Path) -> None:
    text = PAPER_TEMPLATE.read_text()
    assert '"disp_freq": $disp_freq' in text
    line, _ = _run_bad(tmp_path, text, space=PAPER_SPACE,
                       settings={**PAPER_SETTINGS, "numb_steps": 500, "disp_freq": 7})
    assert ": trainer.settings: " in line
    assert "training.disp_freq 7 does not divide training.numb_steps 500 (from $disp_freq and $numb_steps)" in line


@pytest.mark.parametrize("init", [[1000, 5000], [4999, 5000]])
def test_an_int_numb_steps_that_disp_freq_mostly_does_not_divide_exits_2(tmp_path: Path, init: list[int]) -> None:
    """numb_steps searched as an int with the paper's disp_freq 1000: the middle (3000, or
    5000 at the top of its range) passes the check of the middle, yet 999 of every 1000
    candidates would fail before dp starts.  A choice of multiples is the way to search it."""
    space = {**PAPER_SPACE, "numb_steps": {"type": "int", "init": init, "sigma": 100}}
    line, _ = _run_bad(tmp_path, PAPER_TEMPLATE.read_text(), space=space, settings=PAPER_SETTINGS)
    assert "space.numb_steps, an int parameter, sets the training's steps, and disp_freq 1000 divides few" in line
    assert "search a choice of multiples of disp_freq" in line


def test_an_int_numb_steps_with_disp_freq_1_is_accepted(tmp_path: Path) -> None:
    """disp_freq 1 divides every numb_steps: nothing to refuse (--dry-run renders generation 0)."""
    template = tmp_path / "tmpl.json"
    template.write_text(PAPER_TEMPLATE.read_text())
    space = {**PAPER_SPACE, "numb_steps": {"type": "int", "init": [1000, 5000], "sigma": 100}}
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(tmp_path / "run", "tmpl.json", space=space,
                                                          settings={**PAPER_SETTINGS, "disp_freq": 1}))
    done = hpo_run(str(spec), "--dry-run")
    assert done.returncode == 0, done.stderr


def test_validation_metrics_without_validation_data_exit_2(tmp_path: Path) -> None:
    """rmse_*_val columns exist only with validation data: without it every training would
    run to its end and then be recorded as failed."""
    validation = '    "validation_data": {"systems": ["${valid_systems}"], "batch_size": "auto", "numb_btch": 1},\n'
    text = PAPER_TEMPLATE.read_text()
    assert validation in text
    settings = {k: v for k, v in PAPER_SETTINGS.items() if k != "valid_systems"}
    line, _ = _run_bad(tmp_path, text.replace(validation, ""), space=PAPER_SPACE,
                       settings={**settings, "numb_steps": 40000})
    assert "rmse_e_val, rmse_f_val, validation columns" in line and "training.validation_data is missing" in line


def test_a_misspelt_activation_choice_exits_2(tmp_path: Path) -> None:
    """DeePMD-kit's argcheck takes any string: only the trainings that drew 'tanhh' failed."""
    choices = ["relu", "tanhh", "tanh"]
    space = dict(PAPER_SPACE, fitting_activ_func={"type": "choice", "choices": choices, "sigma": 0.0625})
    line, _ = _run_bad(tmp_path, PAPER_TEMPLATE.read_text(), space=space,
                       settings={**PAPER_SETTINGS, "numb_steps": 1000})
    assert ("tmpl.json: model.fitting_net.activation_function is 'tanhh' (from parameter fitting_activ_func), not "
            "an activation function of DeePMD-kit: it knows gelu, gelu_tf, linear, none, relu, relu6, sigmoid, silu, silut, "
            "softplus, tanh") in line


def test_activation_names_are_checked_only_where_deepmd_is_importable(monkeypatch) -> None:
    from dnnp_hpo.plugins.deepmd.inputcheck import check_activations

    data = {"model": {"descriptor": {"activation_function": "Tanh"},
                      "fitting_net": {"activation_function": "silut:3.0"}}}
    check_activations(data, "t.json", {})  # DeePMD-kit takes any case, and silut with its parameter
    data["model"]["descriptor"]["activation_function"] = "tanhh"
    with pytest.raises(SpecError, match=r"model.descriptor.activation_function is 'tanhh' \(from the template or "):
        check_activations(data, "t.json", {"x": 0.5})
    monkeypatch.setitem(sys.modules, "deepmd.common", None)  # a login node without DeePMD-kit
    check_activations(data, "t.json", {})


@pytest.mark.parametrize("written", ['["${systems}"]', '[ "$systems" ]'])
def test_a_list_in_a_quoted_placeholder_in_brackets_gets_the_right_advice(written: str) -> None:
    """"Write it without the quotes" made ["$systems"]: a list in a list."""
    value = ["/data/a", "/data/b"]
    template = parse_template(f'{{"systems": {written}}}', "t.json")
    with pytest.raises(SpecError) as info:
        template.render({"systems": value})
    assert ("$systems stands inside a JSON string, but its value ['/data/a', '/data/b'] is a list: write $systems "
            'in place of the whole ["${systems}"], without the brackets and the quotes') in info.value.message
    # the advice, followed, gives the list
    assert json.loads(parse_template('{"systems": $systems}', "t.json").render({"systems": value})) == \
        {"systems": value}
    # the old advice would have nested it
    nested = parse_template('{"systems": [$systems]}', "t.json").render({"systems": value})
    assert json.loads(nested) == {"systems": [value]}
    # a list elsewhere in a string is told that brackets would nest it
    with pytest.raises(SpecError, match=r"write \$c without the quotes where a list belongs"):
        parse_template('{"a": ["x", "$c"]}', "t.json").render({"c": [1, 2]})
