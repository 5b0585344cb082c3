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


def test_lists_are_written_as_their_items_and_comments_as_they_are() -> None:
    """n2p2's ``elements H O`` and ``symfunction ... 15 15`` take a list as its items
    apart (it came out as JSON, ``["H", "O"]``), and its ``#`` comments may hold a ``$``
    (refused as a stray one): with ``comment="#"`` they are copied as written."""
    text = "# cost in $ of $x\nelements $e\nn $n # $$ kept\nb $b\n"
    template = parse_text(text, "input.nn", comment="#")
    assert template.names == {"e", "n", "b"}
    assert template.render({"e": ["H", "O"], "n": [15, 15], "b": True}, plain_text) == (
        "# cost in $ of $x\nelements H O\nn 15 15 # $$ kept\nb true\n")
    with pytest.raises(SpecError, match=r"input.nn: line 1: a '\$' must start a placeholder"):
        parse_text("# cost in $ of $x\n", "input.nn")  # without comment="#": a stray $


@pytest.mark.parametrize(("value", "said"), [
    ("a\nb", 'a plain-text value cannot hold a line break, got "a\\nb"'),
    ([[1, 2]], "a plain-text input holds no nested list or mapping, got [1, 2]"),
    ([], "an empty list would leave its keyword without a value"),
    ({"a": 1}, 'a plain-text input holds no nested list or mapping, got {"a": 1}')])
def test_a_value_a_plain_text_line_cannot_hold_is_one_line_naming_the_place(value, said) -> None:
    """A line break would have started a line of its own (another keyword, say)."""
    with pytest.raises(SpecError) as refused:
        parse_text("x 1\nelements $e\n", "input.nn").render({"e": value}, plain_text)
    assert str(refused.value) == f"template: input.nn: line 2: $e: {said}"


def test_a_value_holding_the_comment_character_is_refused_where_comments_are_parsed() -> None:
    """n2p2 would read `elements H #O` as `elements H`: the run would train on the wrong input."""
    template = parse_text("x 1 # one\nelements $e\n", "input.nn", comment="#")
    with pytest.raises(SpecError) as refused:
        template.render({"e": ["H", "#O"]}, plain_text)
    assert str(refused.value) == ("template: input.nn: line 2: $e: its value 'H #O' holds '#', where this input's "
                                  "comments start: the program would read the rest of the line as a comment")
    assert parse_text("elements $e\n", "input.nn").render({"e": "a#b"}, plain_text) == "elements a#b\n"


def test_plain_text_on_a_json_template_s_string_is_refused_in_one_line() -> None:
    with pytest.raises(SpecError) as refused:
        parse_text('{"a": "${e}"}', "t.json", json_strings=True).render({"e": "x"}, plain_text)
    assert str(refused.value) == ("template: t.json: line 1: $e: plain_text writes whole values, and this "
                                  "placeholder is inside a quoted string")
