"""NequIP YAML templates: the deepmd placeholder rules, YAML quoting, the start-up checks."""

from __future__ import annotations

import importlib.util
import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from nequip_testutil import DEMO_TEMPLATE

from dnnp_hpo.errors import SpecError
from dnnp_hpo.plugins.nequip_stub.template import (
    INTERPOLATION_HINT,
    load_yaml_template,
    parse_config,
    parse_yaml_template,
    render_yaml,
    yaml_value,
)
from dnnp_hpo.template import check_names

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_like)
def test_every_value_reads_back_the_same_from_yaml(value) -> None:
    assert yaml.safe_load(yaml_value(value)) == value


@given(st.text())
def test_any_string_inside_double_quotes_reads_back_the_same(text: str) -> None:
    template = parse_yaml_template('name: "<${x}>"\n', "t.yaml")
    assert yaml.safe_load(render_yaml(template, {"x": text})) == {"name": f"<{text}>"}


def test_floats_always_read_as_floats_by_yaml_1_1() -> None:
    # PyYAML (YAML 1.1) reads 1e-05 as a string; the rendered text must say 1.0e-05.
    assert yaml_value(1e-05) == "1.0e-05" and yaml_value(2.5e20) == "2.5e+20"
    assert yaml.safe_load(f"lr: {yaml_value(3e-4)}") == {"lr": 3e-4}


def render(text: str, **values) -> str:
    return render_yaml(parse_yaml_template(text, "t.yaml"), values)


def test_bare_and_quoted_placeholders() -> None:
    text = 'a: $a\nb: "${b}.xyz"\nc: $c\nd: [$a, "$b"]\ne: $$x\n'
    out = render(text, a=1.0e-5, b='q"uo\\te', c=["Al", "Cu"])
    assert yaml.safe_load(out) == {"a": 1e-5, "b": 'q"uo\\te.xyz', "c": ["Al", "Cu"],
                                   "d": [1e-5, 'q"uo\\te'], "e": "$x"}


def test_comments_and_apostrophes_are_inert() -> None:
    text = ('# a "quote, a $dollar and it\'s fine\n'
            "name: Al's model   # $r_max is searched\n"
            "r: $r_max\n"
            "s: 'single $$ dollar' # don't\n"
            "t: \"a \\\" still $x in the string\"\n")
    template = parse_yaml_template(text, "t.yaml")
    assert template.names == {"r_max", "x"}
    in_string = {p.name: p.in_string for p in template.pieces if not isinstance(p, str)}
    assert in_string == {"r_max": False, "x": True}
    out = render_yaml(template, {"r_max": 4.5, "x": "X"})
    assert "# $r_max is searched" in out and "# a \"quote, a $dollar" in out  # copied untouched
    assert yaml.safe_load(out) == {"name": "Al's model", "r": 4.5, "s": "single $ dollar",
                                   "t": 'a " still X in the string'}


def _not_whole(name: str) -> str:
    return (f"${name} is part of a longer unquoted value (or a line of a | or > block): write the whole value in "
            f'double quotes ("...${{{name}}}..."), or ${name} alone')


@pytest.mark.parametrize(("text", "message"), [
    ("a: 'in $x single'\n", "line 1: $x stands in a single-quoted string, which has no escapes: use double quotes"),
    ("a: 1\nd: ${hydra:runtime.output_dir}\n", (f"line 2: a '$' must start a placeholder ($name or ${{name}}) "
                                               f"or be doubled ($$) for a literal dollar {INTERPOLATION_HINT}")),
    # inside a longer plain value the quoted rendering stayed in it: run_"abc" (helper-75)
    ("p: run_$x\n", f"line 1: {_not_whole('x')}"),
    ("p: ${x}_run\n", f"line 1: {_not_whole('x')}"),
    ("p: $a $b\n", f"line 1: {_not_whole('a')}"),
    ("p: |\n  hello $w\n", f"line 2: {_not_whole('w')}"),
    ("_target_: nequip.model.$cls\n", f"line 1: {_not_whole('cls')}"),
    # alone on a block's line, or on a plain value's next line, it kept its quotes (helper-78)
    ("p: |\n  $w\n", f"line 2: {_not_whole('w')}"),
    ("p: >\n  $w\n", f"line 2: {_not_whole('w')}"),
    ("p: a\n  $x\n", f"line 2: {_not_whole('x')}"),
    ("p: a \"$w\"\n", f"line 1: {_not_whole('w')}"),  # a quote inside a plain value is text
    # quotes on a block's line are text: JSON escapes would stay in it
    ("p: |\n  \"hello $w\"\n", f"line 2: {_not_whole('w')}"),
])
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_yaml_template(text, "t.yaml")
    assert info.value.message == f"t.yaml: {message}"


def test_a_yaml_error_is_not_blamed_on_a_comment_s_dollar() -> None:
    """The shipped template's comment says NequIP's own interpolations "reach NequIP as
    ${...}": any YAML error anywhere in it was reported as that line's stray '$' (helper-110)."""
    with pytest.raises(SpecError) as info:
        parse_yaml_template("# reach NequIP as ${...}\na: $x\noops: [\n", "t.yaml")
    assert info.value.message.startswith("t.yaml: the template is not valid YAML"), info.value.message
    assert "at line 4" in info.value.message


def test_an_anchor_or_a_tag_before_a_placeholder_is_yaml_s_not_the_value_s() -> None:
    """Refused as "part of a longer unquoted value" before YAML was asked (helper-78), and
    in double quotes as well (helper-80)."""
    out = render('p: &anchor $x\nq: *anchor\nr: !!str $y\ns: &b "run_${x}"\nt: !!str "${x}"\n', x="abc", y=1.5)
    assert yaml.safe_load(out) == {"p": "abc", "q": "abc", "r": "1.5", "s": "run_abc", "t": "abc"}


def test_a_quote_that_is_text_opens_no_string() -> None:
    """A scan by hand took a quote on a block's line, or inside a plain value, for an open
    string: the whole value after it was refused as "in quotes", and a comment after it
    read as text (helper-80).  YAML reads them as text, and so does the template now."""
    text = 'notes: |\n  "Al-Cl model, 6 A\nr_max: $r  # the $cutoff: one "quote\na: x:"y\nb: $r\n'
    template = parse_yaml_template(text, "t.yaml")
    assert template.names == {"r"}
    out = render_yaml(template, {"r": 5.0})
    assert "# the $cutoff: one \"quote" in out  # a comment, copied as written
    assert yaml.safe_load(out) == {"notes": '"Al-Cl model, 6 A\n', "r_max": 5.0, "a": 'x:"y', "b": 5.0}


def test_a_template_that_is_no_yaml_is_one_line_naming_it() -> None:
    with pytest.raises(SpecError) as info:
        parse_yaml_template("a: [1, 2\nb: $x\n", "t.yaml")
    assert info.value.message.startswith("t.yaml: the template is not valid YAML (each placeholder stood in for "
                                         "by a word): ")


def test_a_placeholder_standing_alone_is_a_whole_value_wherever_it_stands() -> None:
    text = "a: $a\nb: [$a, $b]\nc: {k: $b}\nd:\n  - $a\n$k: 1\ne: $a # note\n"
    out = render(text, a=2.0, b="x", k="key")
    assert yaml.safe_load(out) == {"a": 2.0, "b": [2.0, "x"], "c": {"k": "x"}, "d": [2.0], "key": 1, "e": 2.0}


def test_the_demo_template_renders_a_config_nequip_train_accepts() -> None:
    template = load_yaml_template(DEMO_TEMPLATE)
    params = {"r_max": 4.25, "lr": 1e-5, "l_max": 1, "num_layers": 2, "num_features": 8}
    settings = {"train_file": "/d/train.extxyz", "val_file": "/d/valid.extxyz", "max_epochs": 3, "batch_size": 5}
    check_names(template, set(params), set(settings), {"seed"})
    text = render_yaml(template, {**params, **settings, "seed": 99})
    config = parse_config(text, "t.yaml")
    model = config["training_module"]["model"]
    assert config["cutoff_radius"] == 4.25 and config["seed"] == 99
    assert config["training_module"]["optimizer"]["lr"] == 1e-5  # a float, not the string "1e-05"
    assert (model["l_max"], model["num_layers"], model["num_features"]) == (1, 2, 8)
    assert config["data"]["train_file_path"] == "/d/train.extxyz"
    assert config["trainer"]["max_epochs"] == 3
    # NequIP's interpolations reach it with one dollar
    assert model["r_max"] == "${cutoff_radius}"
    assert config["trainer"]["logger"]["save_dir"] == "${hydra:runtime.output_dir}"
    assert (config["data"]["transforms"][0]["chemical_species_to_atom_type_map"]
            == "${list_to_identity_dict:${chemical_symbols}}")


@pytest.mark.skipif(importlib.util.find_spec("omegaconf") is None, reason="OmegaConf (a NequIP dependency) absent")
def test_omegaconf_resolves_the_rendered_interpolations() -> None:
    from omegaconf import OmegaConf

    template = load_yaml_template(DEMO_TEMPLATE)
    values = {"r_max": 3.5, "lr": 2e-3, "l_max": 2, "num_layers": 1, "num_features": 4, "train_file": "a",
              "val_file": "b", "max_epochs": 1, "batch_size": 2, "seed": 7}
    config = OmegaConf.create(render_yaml(template, values))
    assert config.training_module.model.r_max == 3.5 and config.data.seed == 7
    assert config.training_module.optimizer.lr == 2e-3 and isinstance(config.training_module.optimizer.lr, float)
    assert list(config.model_type_names) == ["Al", "Cu"]


CONFIG = """run: [train]
data: {_target_: x}
trainer: {logger: {_target_: lightning.pytorch.loggers.CSVLogger}}
training_module: {model: {}}
"""


@pytest.mark.parametrize(("text", "message"), [
    ("run: [train]\n  bad: indent\n", "not valid YAML"),
    ("- a\n", "not a YAML mapping"),
    ("run: [train]\n", "nequip-train needs the section(s) data, trainer, training_module"),
    (CONFIG.replace("run: [train]", "run: [test]"), "run: expected a list with train in it, got ['test']"),
    (CONFIG.replace("{model: {}}", "{}"), "training_module: expected a mapping with a model"),
    (CONFIG.replace("CSVLogger", "WandbLogger"), "trainer.logger: expected a lightning.pytorch.loggers.CSVLogger"),
    # PyYAML kept the last, NequIP's OmegaConf refuses it: every training failed (helper-110)
    ("run: [train]\nrun: [train]\n", "the key 'run' is given twice: expected each key once in a mapping at line 2"),
])
def test_configs_nequip_train_would_refuse_are_spec_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_config(text, "t.yaml")
    assert message in info.value.message


def test_a_list_of_loggers_with_a_csv_logger_is_accepted() -> None:
    text = CONFIG.replace("{logger: {_target_: lightning.pytorch.loggers.CSVLogger}}",
                          "{logger: [{_target_: W}, {_target_: lightning.pytorch.loggers.CSVLogger}]}")
    assert parse_config(text, "t.yaml")["run"] == ["train"]


def test_non_finite_values_are_refused_like_deepmd() -> None:
    with pytest.raises(SpecError, match=r"\$x is nan, which JSON cannot hold"):
        render("a: $x\n", x=math.nan)
