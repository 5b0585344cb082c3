"""A trainer.settings value of a type DeePMD-kit does not take is named at start-up.

DeePMD-kit's check of the learning_rate section compares ``decay_steps`` with 0 before
dargs checks its type, so ``decay_steps: abc`` gave Python's words ("'<=' not supported
between instances of 'str' and 'int'"), naming neither the setting nor the key.  Now the
line names ``trainer.settings.decay_steps``, the template's ``learning_rate.decay_steps``
and what DeePMD-kit requires (dargs's type check).  Checked with the shipped quickstart
spec, as a user would run it (``--dry-run``: nothing trains, nothing is written).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testutil import checkout_entries
from deepmd_testutil import PAPER_SPACE, PAPER_TEMPLATE, QUICKSTART, REPO, hpo_run, write_spec

pytest.importorskip("deepmd.utils.argcheck")


@pytest.mark.parametrize(("value", "got"), [("abc", "'abc'"), ("[1]", "[1]"), ("{a: 1}", "{'a': 1}"),
                                            ("5.5", "5.5")])
def test_quickstart_decay_steps_of_the_wrong_type_names_the_setting(value: str, got: str) -> None:
    before = checkout_entries()
    done = hpo_run("configs/quickstart.yaml", "--dry-run", "--set", f"trainer.settings.decay_steps={value}",
                   cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    template = REPO / "configs" / "templates" / "deepmd_se_e2_a_demo.json"
    assert done.stderr.startswith(
        f"hpo-run: configs/quickstart.yaml: trainer.settings.decay_steps: {got} ($decay_steps, at "
        f"learning_rate.decay_steps in {template}) is refused by DeePMD-kit: key `decay_steps` gets wrong "
        f"value type, requires <int> but "), done.stderr
    assert "not supported between" not in done.stderr
    assert checkout_entries() == before, "nothing written"


def test_quickstart_decay_steps_of_the_right_type_is_still_checked_by_deepmd() -> None:
    """A value DeePMD-kit's own check refuses (not a type) keeps DeePMD-kit's words."""
    done = hpo_run(str(QUICKSTART), "--dry-run", "--set", "trainer.settings.decay_steps=-5", cwd=REPO)
    assert done.returncode == 2
    assert "DeePMD-kit rejects the rendered input: decay_steps (-5) must be positive" in done.stderr


def test_a_parameter_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    """A choice of the wrong type names the template key and the parameter."""
    space = dict(PAPER_SPACE, axis={"type": "choice", "choices": [16, "sixteen"], "sigma": 0.01})
    template = tmp_path / "t.json"
    template.write_text(PAPER_TEMPLATE.read_text().replace('"axis_neuron": 16', '"axis_neuron": $axis'))
    spec = write_spec(tmp_path / "s.yaml", {
        "name": "t", "seed": 1, "run_dir": str(tmp_path / "run"), "space": space,
        "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}],
        "trainer": {"plugin": "deepmd", "template": str(template),
                    "settings": {"train_systems": "/nowhere/t", "valid_systems": "/nowhere/v",
                                 "type_map": ["Al", "Cu"], "numb_steps": 10, "disp_freq": 1000}},
        "optimizer": {"plugin": "nsga2", "pop_size": 4, "generations": 1}})
    done = hpo_run(str(spec), "--dry-run")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert ("rejects the rendered input: model.descriptor.axis_neuron is 'sixteen' (from parameter space.axis): "
            "key `axis_neuron` gets wrong value type") in done.stderr, done.stderr


def test_placeholder_keys_finds_whole_values_only() -> None:
    from dnnp_hpo.plugins.deepmd.inputcheck import placeholder_keys
    from dnnp_hpo.plugins.deepmd.template import parse_template

    template = parse_template('{"a": {"b": $x, "c": "${y}", "d": "p-${z}"}, "l": [1, $w]}', "t.json")
    assert placeholder_keys(template) == {"a.b": "x", "a.c": "y", "l.1": "w"}
    assert placeholder_keys(parse_template('{"a": $x.5}', "t.json")) == {}


def test_quickstart_setting_with_no_json_form_names_the_setting() -> None:
    """A date (or bytes, a set) has no JSON form: before, Python's 'Object of type date is
    not JSON serializable' at the template's line."""
    done = hpo_run("configs/quickstart.yaml", "--dry-run", "--set", "trainer.settings.decay_steps=2020-01-01",
                   cwd=REPO)
    assert done.returncode == 2
    template = REPO / "configs" / "templates" / "deepmd_se_e2_a_demo.json"
    assert done.stderr == ("hpo-run: configs/quickstart.yaml: trainer.settings.decay_steps: expected a number, a "
                           "string, true/false, a list or a mapping, got the date 2020-01-01 (unquoted, YAML reads it as "
                           "a date: quote it for text) (for "
                           f"$decay_steps, line 25 of {template})\n")
