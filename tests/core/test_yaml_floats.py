"""Numbers written as YAML 1.2 writes them (``2e-2``, ``1E5``, ``-.5``) are numbers everywhere
in a spec: PyYAML follows YAML 1.1, which reads a float without a dot, or with an unsigned
exponent, as a string, so a learning rate ``2e-2`` reached the template as the text '2e-2'
(DeePMD-kit refused the input) and a choice ``1e-3`` was decoded as a string."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_testutil import deepmd_system
from hypothesis import given, settings
from hypothesis import strategies as st

from dnnp_hpo.cli import main
from dnnp_hpo.specfile import dump_yaml, parse_yaml

REPO = Path(__file__).resolve().parents[2]
DEMO_TEMPLATE = REPO / "configs" / "templates" / "deepmd_se_e2_a_demo.json"


def spec_text(tmp_path: Path) -> Path:
    """A DeePMD spec written by hand (yaml.safe_dump would write 0.02): the loss prefactors
    are a setting and a choice parameter of the template."""
    template = DEMO_TEMPLATE.read_text(encoding="utf-8")
    assert '"start_pref_e": 0.02' in template and '"limit_pref_e": 1,' in template
    template = template.replace('"start_pref_e": 0.02', '"start_pref_e": $pref_e')
    template = template.replace('"limit_pref_e": 1,', '"limit_pref_e": $limit_e,')
    (tmp_path / "input.json").write_text(template, encoding="utf-8")
    text = f"""\
name: floats
seed: 3
run_dir: {tmp_path / "run"}
space:
  start_lr: {{type: float, log: true, init: [1e-4, 1e-2], sigma: 0.3}}
  stop_lr: {{type: float, log: true, init: [1e-7, 1e-5], sigma: 0.3}}
  rcut: {{type: float, init: [4.0, 6.0], sigma: 0.25}}
  rcut_smth: {{type: float, init: [1.0, 3.5], sigma: 0.25}}
  scale_by_worker: {{type: choice, choices: [linear], sigma: 0.5}}
  desc_activ_func: {{type: choice, choices: [tanh], sigma: 0.5}}
  fitting_activ_func: {{type: choice, choices: [tanh], sigma: 0.5}}
  limit_e: {{type: choice, choices: [1e-3, 2E+1], sigma: 0.5}}
objectives:
  - {{name: energy_rmse, unit: eV/atom}}
  - {{name: force_rmse, unit: eV/A}}
trainer:
  plugin: deepmd
  template: input.json
  settings:
    train_systems: data/train
    valid_systems: data/valid
    numb_steps: 100
    decay_steps: 50
    disp_freq: 50
    pref_e: 2e-2
  paths: [train_systems, valid_systems]
  command: [dp, --tf, train, input.json]
optimizer: {{plugin: nsga2, pop_size: 4, generations: 1}}
launcher: {{plugin: dask, workers: 1}}
"""
    for part in ("data/train", "data/valid"):
        deepmd_system(tmp_path / part)
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rendered_input(out: str) -> dict:
    """The first candidate's input.json as --dry-run prints it."""
    text = out.split("Input of the first candidate:", 1)[1]
    return json.loads(text[: text.rindex("The spec is valid")])


def test_yaml_12_floats_in_settings_and_choices_are_numbers_in_a_dry_run(tmp_path, capsys):
    path = spec_text(tmp_path)
    status = main([str(path), "--dry-run"])
    out, err = capsys.readouterr()
    assert status == 0, err
    config = rendered_input(out)
    assert config["loss"]["start_pref_e"] == 0.02 and isinstance(config["loss"]["start_pref_e"], float)
    assert config["loss"]["limit_pref_e"] in (0.001, 20.0)
    assert isinstance(config["loss"]["limit_pref_e"], float)
    # the decoded generation 0 shows the choice as a number (format_value: 0.001, 20)
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 4
    cells = {row.strip("│").split("│")[-1].strip() for row in rows}
    assert cells <= {"0.001", "20"}, cells


def test_a_yaml_12_float_given_with_set_is_a_number(tmp_path, capsys):
    path = spec_text(tmp_path)
    status = main([str(path), "--dry-run", "--set", "trainer.settings.pref_e=1E-3",
                   "--set", "space.limit_e.choices=[-.5e1, 5e-1]"])
    out, err = capsys.readouterr()
    assert status == 0, err
    config = rendered_input(out)
    assert config["loss"]["start_pref_e"] == 0.001
    assert config["loss"]["limit_pref_e"] in (-5.0, 0.5)


#: YAML 1.2 floats, most of which YAML 1.1 reads as strings ('.5' and '-1.5e+3' it reads too)
FLOATS = [("1e-3", 0.001), ("2E5", 200000.0), (".5", 0.5), ("-1.5e+3", -1500.0), ("-.5", -0.5),
          ("+1e3", 1000.0), ("1.0e3", 1000.0), ("6.02e23", 6.02e23)]
#: not YAML 1.2 floats (read as strings), or read by YAML 1.1 already: read as safe_load reads them
AS_BEFORE = ["1e", "e5", "1e-3x", "1.2.3", "1e3.5", "0x1e3", ".", "1 e3", "'1e-3'", '"2E5"', "v1e3", "1e-3-4",
             "12", "0x1f", "0.5", "1.5e-3", "2024-01-01", ".inf", "true", "null", "~", "abc",
             "-07", "007", "00",  # zero-padded numbers both versions read alike
             "True", "FALSE", "y", "N", "'yes'", "'on'", "0x10", "'='", "'<<'"]
#: integers YAML 1.1 reads otherwise than YAML 1.2 (test_cli_spec_errors.py: refused)
AMBIGUOUS = ["0500", "017", "089", "09", "0089", "1_000", "1:30", "0b101"]


def test_the_spec_reader_reads_yaml_12_floats_and_leaves_the_rest_alone():
    read = {text: parse_yaml(f"x: {text}")["x"] for text, _ in FLOATS}
    assert read == dict(FLOATS)
    assert all(type(value) is float for value in read.values())
    for text in AS_BEFORE:
        assert parse_yaml(f"x: {text}") == yaml.safe_load(f"x: {text}"), text
    assert parse_yaml("x: 0o17") == {"x": 15}  # YAML 1.2's octal (text to 1.1)
    for text in AMBIGUOUS:
        with pytest.raises(yaml.YAMLError, match="is ambiguous"):
            parse_yaml(f"x: {text}")


#: forms beyond integers that YAML 1.1 (PyYAML) reads otherwise than 1.2 (as text), with
#: 1.1's reading: they were read as 1.1 reads them, silently (choices: [on, off] as
#: [True, False], sigma: 1:30.0 as 90.0)
AMBIGUOUS_READINGS = [("1:30.0", "90.0"), ("1_0.5", "10.5"), ("-1_0.5", "-10.5"), ("1.0_5", "1.05"), ("1.5_", "1.5"),
                      ("on", "true"), ("Off", "false"), ("YES", "true"), ("no", "false"), ("Yes", "true"),
                      ("-0x10", "-16"), ("+0x10", "16"), ("0x1_F", "31")]


@pytest.mark.parametrize(("text", "yaml11"), AMBIGUOUS_READINGS, ids=[a[0] for a in AMBIGUOUS_READINGS])
def test_forms_yaml_11_reads_otherwise_are_refused_with_both_readings(text, yaml11):
    fix = "true or false" if yaml11 in ("true", "false") else "the number in decimal without leading zeros, '_' or ':'"
    for written in (f"x: {text}", f"x: [a, {text}]", f"{text}: 1"):
        with pytest.raises(yaml.YAMLError) as info:
            parse_yaml(written)
        # a form with ':' is more often a time (a walltime) than a number in base 60 (helper-81)
        text_form = f'(or quote it for text, as a time is: "{text}")' if ":" in text else "(or quote it for text)"
        assert (f"{text} is ambiguous (YAML 1.1 reads it as {yaml11}, YAML 1.2 as text): "
                f"write {fix} {text_form}") in str(info.value), written


@pytest.mark.parametrize(("text", "meaning"), [("=", "value key"), ("<<", "merge key (<<: *anchor)")])
def test_a_yaml_11_key_as_a_value_is_refused_in_words(text, meaning):
    """PyYAML said "could not determine a constructor for the tag 'tag:yaml.org,2002:value'"."""
    for written in (f"x: {text}", f"x: [{text}]", text):
        with pytest.raises(yaml.YAMLError) as info:
            parse_yaml(written)
        assert f"{text} is YAML 1.1's {meaning}, not a value: quote it ('{text}') for text" in str(info.value)
    assert parse_yaml("b: &b {a: 1}\nd: {<<: *b, =: 2}") == {"b": {"a": 1}, "d": {"a": 1, "=": 2}}


SPEC_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
    | st.sampled_from(["1e3", "0E0", "-.5", "089", "0o17", "1:30", "yes", "off", "~", "null", "2e-2", "0x10", "1_0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.dictionaries(st.text(min_size=1, max_size=8), SPEC_VALUES, max_size=4))
def test_what_the_spec_writer_writes_the_spec_reader_reads_back_equal(data):
    """RUN_DIR/spec.yaml and the batch scripts' launcher block are written by dump_yaml:
    a string the reader would take for a number, true/false or null is quoted."""
    assert parse_yaml(dump_yaml(data)) == data
