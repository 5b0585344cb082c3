"""The one line a user gets for a bad value in a trainer's block names the field itself
(``trainer.timeout_minutes: ...``), whoever checks it: attrs' own validators in a plugin's
class, the keys every command trainer shares (core/training.py), the number converter.

Each plugin is a real installed distribution (test_registry.distribution) run by the real
hpo-run console script, ``--dry-run``: nothing is launched.
"""

from __future__ import annotations

import pytest
from cli_testutil import write_spec, zdt_spec
from test_registry import distribution, hpo_run_with

SETTINGS_TRAINER = '''\
from typing import Any

import attrs
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.training import CommandTrainer


def message_only(instance, attribute, value):
    # a validator of the plugin's own that raises a plain ValueError, without the key
    if value == "bad":
        raise ValueError("expected anything but 'bad'")


def checked_in_helper(value):
    if value < 0:
        raise ValueError(f"expected 0 or more, got {value}")


def helper_validator(instance, attribute, value):
    checked_in_helper(value)


@attrs.frozen
class Settings:
    precision: str = attrs.field(default="float32", validator=attrs.validators.in_(["float32", "float64"]))
    batch: int = attrs.field(default=1, validator=attrs.validators.gt(0))
    name: str = attrs.field(default="x", validator=attrs.validators.max_len(3))
    kind: str = attrs.field(default="a", validator=attrs.validators.matches_re("[a-z]+"))
    level: Any = attrs.field(default=1, validator=attrs.validators.instance_of(int))
    tag: str = attrs.field(default="ok", validator=message_only)
    depth: int = attrs.field(default=0, validator=helper_validator)
    rate: float = 1.0

    def prepare(self, run):
        return self

    def render(self, trial):
        return None

    def train(self, trial):
        return {"f1": 1.0, "f2": 2.0}


@attrs.frozen(kw_only=True)
class Command(CommandTrainer):
    DEFAULT_COMMAND = ("mycode-train",)

    def prepare(self, run):
        return self


@hookimpl
def dnnp_hpo_trainers():
    return {"settings": Settings, "command": Command}
'''


def refused(tmp_path, trainer: dict, *overrides: str) -> tuple[str, list[str]]:
    """hpo-run --dry-run's stderr lines for ``trainer`` (exit 2 checked, nothing written)."""
    site = distribution(tmp_path / "site", "settings-hpo", {"settings": "settings_plugin"}, "settings_plugin",
                        SETTINGS_TRAINER)
    spec = zdt_spec(tmp_path / "run", n=2)
    spec["trainer"] = trainer
    path = write_spec(tmp_path / "s.yaml", spec)
    args = [a for o in overrides for a in ("--set", o)]
    done = hpo_run_with(site, str(path), "--dry-run", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert not (tmp_path / "run").exists()
    return str(path), done.stderr.splitlines()


@pytest.mark.parametrize("override, line", [
    # attrs' in_ (its ValueError's args hold the Attribute): the tuple of its args was shown
    ("trainer.precision=float16",
     "trainer.precision: 'precision' must be in ['float32', 'float64'] (got 'float16')"),
    # attrs' gt (no Attribute in its args): the field was not named
    ("trainer.batch=0", "trainer.batch: 'batch' must be > 0: 0"),
    ("trainer.name=abcdef", "trainer.name: Length of 'name' must be <= 3: 6"),
    ("trainer.kind=ABC", "trainer.kind: 'kind' must match regex '[a-z]+' ('ABC' doesn't)"),
    ("trainer.level=x",
     "trainer.level: 'level' must be <class 'int'> (got 'x' that is a <class 'str'>)."),
    # the plugin's own validator, raising without the key
    ("trainer.tag=bad", "trainer.tag: expected anything but 'bad'"),
    ("trainer.depth=-1", "trainer.depth: expected 0 or more, got -1"),
], ids=["in_", "gt", "max_len", "matches_re", "instance_of", "own-validator", "helper"])
def test_an_attrs_validators_refusal_names_the_field(tmp_path, override, line):
    path, lines = refused(tmp_path, {"plugin": "settings"}, override)
    assert lines == [f"hpo-run: {path}: {line}"]


def test_a_string_that_is_no_number_is_quoted_once(tmp_path):
    path, lines = refused(tmp_path, {"plugin": "settings"}, "trainer.rate=abc")
    # was: expected a number, got "'abc'"
    assert lines == [f"hpo-run: {path}: trainer.rate: expected a number, got 'abc'"]


@pytest.mark.parametrize("override, line", [
    ("trainer.timeout_minutes=0",
     "trainer.timeout_minutes: expected a positive number of minutes up to 525600 (365 days), got 0.0"),
    ("trainer.timeout_minutes=abc", "trainer.timeout_minutes: expected a number, got 'abc'"),
    ("trainer.last_rows=0", "trainer.last_rows: expected 1 or more, got 0"),
    ("trainer.command=[]", "trainer.command: expected at least the program to run"),
    ("trainer.command=['  ', train]", "trainer.command: expected the program to run first, got '  '"),
    ("trainer.command={a: 1}", "trainer.command: expected a list of strings, got {'a': 1}"),
    ("trainer.command='dp \"train'",
     "trainer.command: cannot split 'dp \"train' into arguments: No closing quotation"),
    ("trainer.launch_prefix=3", "trainer.launch_prefix: expected a list of strings, got 3"),
    # every training failed: "cannot start '': Permission denied" (helper-110)
    ("trainer.launch_prefix=['', -n1]", "trainer.launch_prefix: expected the launcher to run first (jsrun, srun), got ''"),
    ("trainer.paths=3", "trainer.paths: expected a list of strings, got 3"),
    ("trainer.env=[A]", "trainer.env: expected a mapping of variable names to values, got ['A']"),
    ("trainer.env.A=[1]", "trainer.env.A: expected a string or a number, got [1]"),
    # what no environment can hold: every training was an error after --dry-run passed
    ("trainer.env={A=B: 1}", "trainer.env: expected a variable name (not empty, without '=' or NUL), got 'A=B'"),
    ("trainer.env={'': 1}", "trainer.env: expected a variable name (not empty, without '=' or NUL), got ''"),
    ("trainer.env={true: 1}", ("trainer.env: expected a variable name (not empty, without '=' or NUL), got True "
                               "(YAML reads true and false as booleans: quote the name)")),
    ('trainer.env.A="1\\0"', "trainer.env.A: expected text without a NUL character, got '1\\x00'"),
    ('trainer.command=[dp, "a\\0b"]', "trainer.command.1: expected text without a NUL character, got 'a\\x00b'"),
    # the dict type refuses it before the converter sees it
    ("trainer.settings=[1]", "trainer.settings: expected a mapping, got [1]"),
    ("trainer.metrics.runtime=x", "trainer.metrics.runtime: reserved for the wall time of the training"),
])
def test_a_command_trainers_shared_keys_are_named_in_the_key_path(tmp_path, override, line):
    path, lines = refused(tmp_path, {"plugin": "command", "template": "in.txt"}, override)
    # was: trainer: timeout_minutes: expected ... (the key inside the message)
    assert lines == [f"hpo-run: {path}: {line}"]
