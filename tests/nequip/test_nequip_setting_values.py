"""A trainer.settings value the rendered config cannot hold is named as the setting.

``max_epochs: !!binary ...`` or a date gave ``trainer.template: ...nequip_demo.yaml:
line 40: $max_epochs: Object of type bytes is not JSON serializable``: Python's words,
naming the template's line only.  Now the line names ``trainer.settings.max_epochs``, what
the template's placeholder takes and what it got.  Checked with the shipped
configs/nequip-demo.yaml, as a user would run it (``--dry-run``: nothing trains).
"""

from __future__ import annotations

import datetime

import pytest
from cli_testutil import checkout_entries, hpo_run
from nequip_testutil import DEMO_SPEC, DEMO_TEMPLATE, REPO

from dnnp_hpo.errors import SpecError
from dnnp_hpo.template import Placeholder, json_fragment

BARE = "expected a number, a string, true/false, a list or a mapping"


@pytest.mark.parametrize(("value", "got"), [
    ("!!binary aGVsbG8=", "binary data (!!binary, 5 bytes)"),
    ("2020-01-01", "the date 2020-01-01 (unquoted, YAML reads it as a date: quote it for text)"),
    ("2020-01-01 10:00:00", "the date 2020-01-01T10:00:00 (unquoted, YAML reads it as a date: quote it for text)"),
    ("!!set {a}", "{'a'}"),
    ("[3, 2020-01-01]", "[3, datetime.date(2020, 1, 1)], which holds the date 2020-01-01 (unquoted, YAML reads it as a date: quote it for text)"),
    ("{a: [.nan]}", "{'a': [nan]}, which holds nan"),
    (".inf", "inf"),
], ids=["binary", "date", "datetime", "set", "date-in-list", "nan-in-mapping", "inf"])
def test_demo_max_epochs_with_no_json_form_names_the_setting(value: str, got: str) -> None:
    before = checkout_entries()
    done = hpo_run("configs/nequip-demo.yaml", "--dry-run", "--set", f"trainer.settings.max_epochs={value}",
                   cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (f"hpo-run: configs/nequip-demo.yaml: trainer.settings.max_epochs: {BARE}, got {got} "
                           f"(for $max_epochs, line 40 of {DEMO_TEMPLATE})\n")
    assert checkout_entries() == before, "nothing written"


def test_demo_path_setting_inside_quotes_expects_a_string() -> None:
    done = hpo_run(str(DEMO_SPEC), "--dry-run", "--set", "trainer.settings.train_file=!!binary aGVsbG8=", cwd=REPO)
    assert done.returncode == 2
    assert "trainer.settings.train_file: expected a string or a number, got binary data (!!binary, 5 bytes) (for $train_file, line" \
        in done.stderr, done.stderr


def test_a_parameter_value_with_no_json_form_is_named_with_what_is_expected() -> None:
    with pytest.raises(SpecError) as refused:
        json_fragment(datetime.date(2020, 1, 1), Placeholder("x", False, 7), "t.yaml")
    assert refused.value.message == f"t.yaml: line 7: $x: {BARE}, got the date 2020-01-01 (unquoted, YAML reads it as a date: quote it for text)"


def test_values_json_writes_are_accepted() -> None:
    assert json_fragment({1: [None, True, 2.5, "a"]}, Placeholder("x", False, 1), "t.yaml") == \
        '{"1": [null, true, 2.5, "a"]}'
