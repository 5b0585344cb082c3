"""Constraints: simple comparisons, parsed (never eval'ed), checked on decoded values."""

from __future__ import annotations

import pytest

from dnnp_hpo.constraints import parse_constraint


@pytest.mark.parametrize("text, params, holds", [
    ("a < b", {"a": 1, "b": 2}, True),
    ("a < b", {"a": 2, "b": 2}, False),
    ("a <= 3.5", {"a": 3.5}, True),
    ("a<=3.5", {"a": 3.6}, False),
    ("a >= -1e-3", {"a": -0.001}, True),
    ("a > .5", {"a": 0.5}, False),
    ("2 < a", {"a": 3}, True),
    ("a == b", {"a": 4, "b": 4.0}, True),
    ("a != b", {"a": 4, "b": 4.0}, False),
    ("  stop_lr < start_lr ", {"stop_lr": 1e-8, "start_lr": 1e-3}, True),
    ("rcut_smth <= rcut", {"rcut_smth": 6.0, "rcut": 6.0}, True),
])
def test_comparisons(text, params, holds):
    constraint = parse_constraint(text)
    assert constraint.holds(params) is holds


def test_names_are_the_parameters_mentioned():
    assert parse_constraint("stop_lr < start_lr").names() == ["stop_lr", "start_lr"]
    assert parse_constraint("rcut_smth <= 3.5").names() == ["rcut_smth"]
    assert parse_constraint("1e5 > x2").names() == ["x2"]


@pytest.mark.parametrize("text", [
    "a < b < c", "a = b", "a <> b", "a", "", "1 < 2", "a < b or True", "a.b < 1",
    "__import__('os').system('touch /tmp/pwned') < 1", "(a) < b", "a < b; c", "a + 1 < b",
    "len(a) < 3",
])
def test_anything_else_is_refused_without_evaluating_it(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError):
        parse_constraint(text)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [3, None, ["a < b"], {"a": "b"}])
def test_non_strings_are_refused(value):
    with pytest.raises(ValueError):
        parse_constraint(value)


def test_the_dry_run_marks_the_candidates_a_constraint_sets_aside(tmp_path, hpo_run_exe):
    """Generation 0 as the dry run shows it says which candidates break a constraint (they
    are recorded infeasible, never trained): all were shown alike (the input rendered is
    a feasible one: tests/deepmd/test_deepmd_configs.py)."""
    from hpo_testutil import run_cli, write_spec, zdt_spec

    spec = zdt_spec(tmp_path / "run", pop_size=8, generations=1)
    spec["constraints"] = ["x0 < x1"]
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("│") for line in proc.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert len(rows) == 8 and "breaks" in proc.stdout
    broken = [r for r in rows if float(r[2]) >= float(r[3])]  # x0 >= x1
    assert 0 < len(broken) < 8, rows  # seed 7 draws both kinds
    assert all(r[-2].strip() == ("x0 < x1" if r in broken else "-") for r in rows), rows
    assert f"{len(broken)} of 8 break a constraint: recorded infeasible (MAXINT fitness), not trained" in proc.stdout


@pytest.mark.parametrize("text", ["x0 < \u0661", "x0 < \uff11", "\u0661\u066b5 > x0", "x0 < 1e\u0663"])
def test_numbers_are_ascii_digits(text):
    """re's \\d is any Unicode digit, and float() reads them: 'x0 < ١' (Arabic-Indic one) was
    taken as x0 < 1.0."""
    with pytest.raises(ValueError, match="a NUMBER in ASCII digits"):
        parse_constraint(text)


def test_a_number_in_other_digits_is_one_line_at_the_spec_check(tmp_path, capsys):
    from hpo_testutil import write_spec, zdt_spec

    from dnnp_hpo.cli import main

    spec = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", constraints=["x0 < \u0661"]))
    assert main([str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hpo-run: {spec}: constraints.0: cannot parse 'x0 < \u0661'") and "\n" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
