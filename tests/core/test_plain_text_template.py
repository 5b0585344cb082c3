"""dnnp_hpo.template's plain-text templates: a ``keyword value`` input (n2p2's input.nn, a
code of one's own) needs no parser in its plugin (a plugin author's walk wrote 35 lines
of scanner from the guide's prose before the first --dry-run passed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnnp_hpo.errors import SpecError
from dnnp_hpo.template import Placeholder, Template, check_names, load_template, parse_text, plain_text

INPUT_NN = """\
# n2p2-like input: keyword value, no quoting
number_of_elements 2
elements $elements
cutoff_type 6 ${cutoff_alpha}
global_activation_short $activation $activation l
epochs $epochs
learning_rate 1.0e-$lr_exponent
comment "a quote is text here: $epochs"
price 5 $$
"""


def test_every_placeholder_of_a_plain_text_input_is_a_whole_value() -> None:
    template = parse_text(INPUT_NN, "input.nn")
    places = [p for p in template.pieces if isinstance(p, Placeholder)]
    assert [(p.name, p.in_string, p.line) for p in places] == [
        ("elements", False, 3), ("cutoff_alpha", False, 4), ("activation", False, 5), ("activation", False, 5),
        ("epochs", False, 6), ("lr_exponent", False, 7), ("epochs", False, 8)]
    assert template.names == {"elements", "cutoff_alpha", "activation", "epochs", "lr_exponent"}


def test_rendered_as_plain_text_strings_lose_their_quotes_numbers_stay_json() -> None:
    template = parse_text(INPUT_NN, "input.nn")
    text = template.render({"elements": "Al Cl", "cutoff_alpha": 0.25, "activation": "t", "epochs": 20,
                            "lr_exponent": 3}, plain_text)
    assert text.splitlines()[2:] == ["elements Al Cl", "cutoff_type 6 0.25", "global_activation_short t t l",
                                     "epochs 20", "learning_rate 1.0e-3", 'comment "a quote is text here: 20"',
                                     "price 5 $"]


def test_json_strings_are_only_read_when_asked() -> None:
    text = '{"act": "${a}", "n": $n}'
    assert [p.in_string for p in parse_text(text, "t").pieces if isinstance(p, Placeholder)] == [False, False]
    assert [p.in_string for p in parse_text(text, "t", json_strings=True).pieces
            if isinstance(p, Placeholder)] == [True, False]


def test_a_stray_dollar_and_a_missing_value_are_one_line_naming_the_file_and_line() -> None:
    with pytest.raises(SpecError) as stray:
        parse_text("a 1\nb 5 $ each\n", "input.nn")
    assert str(stray.value) == ("template: input.nn: line 2: a '$' must start a placeholder ($name or ${name}) or be "
                                "doubled ($$) for a literal dollar")
    with pytest.raises(SpecError) as missing:
        parse_text("a $x\nb $y\n", "input.nn").render({"x": 1}, plain_text)
    assert str(missing.value) == "template: input.nn: line 2: no value for $y"


def test_a_plugin_loads_checks_and_renders_it_with_the_shared_functions(tmp_path: Path) -> None:
    path = tmp_path / "input.nn"
    path.write_text(INPUT_NN, encoding="utf-8")
    template = load_template(path, parse_text)
    assert isinstance(template, Template) and template.path == str(path)
    with pytest.raises(SpecError) as unknown:  # a placeholder neither searched nor set
        check_names(template, {"activation", "epochs", "lr_exponent"}, {"elements"}, set())
    assert "cutoff_alpha" in str(unknown.value)
