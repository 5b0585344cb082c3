"""Constraints: simple comparisons, parsed (never eval'ed), checked on decoded values."""

from __future__ import annotations

import pytest

from dnnp_hpo.constraints import never_holds, parse_constraint
from dnnp_hpo.plugins.params import ChoiceParameter, FloatParameter, IntParameter


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


#: x0 in [0, 1], x1 in [2, 3], lr log-scaled in [1e-5, 1e-2], n an int in 1..4, and choices
SPACE = {"x0": FloatParameter((0.0, 1.0)), "x1": FloatParameter((2.0, 3.0), bounds=(2.0, 3.0)),
         "lr": FloatParameter((1e-5, 1e-2), log=True), "n": IntParameter((1, 4)),
         "c": ChoiceParameter((1, 2, 8)), "d": ChoiceParameter((0.5, 0.75)), "s": ChoiceParameter(("a", "b")),
         "wide": FloatParameter((0.0, 1.0), bounds=(-10.0, 10.0))}


@pytest.mark.parametrize("text, said", [
    # x0 > 5 on x0 in [0, 1]: every candidate infeasible, the run ended "no evaluation succeeded"
    ("x0 > 5", "x0 takes values from 0 to 1 (space.x0)"),
    ("5 < x0", "x0 takes values from 0 to 1"),
    ("x0 > 1", "x0 takes values from 0 to 1"),
    ("x0 < 0", "x0 takes values from 0 to 1"),
    ("x0 == 2", "x0 takes values from 0 to 1"),
    ("x0 > 1e999", "x0 takes values from 0 to 1"),
    ("lr > 0.01", "lr takes values from 1e-05 to 0.01 (space.lr)"),
    ("lr < 1e-6", "lr takes values from 1e-05 to 0.01"),
    ("n > 4", "n takes values from 1 to 4 (space.n)"),
    ("c == 3", "c takes only the values 1, 2, 8 (space.c)"),
    ("c > 8", "c takes only the values 1, 2, 8"),
    ("wide > 10", "wide takes values from -10 to 10 (space.wide)"),  # bounds, not init
    ("x1 < x0", "x1 takes values from 2 to 3 (space.x1) and x0 takes values from 0 to 1 (space.x0)"),
    ("x0 == x1", "x0 takes values from 0 to 1 (space.x0) and x1 takes values from 2 to 3"),
    ("d == c", "d takes only the values 0.5, 0.75 (space.d) and c takes only the values 1, 2, 8"),
])
def test_a_constraint_no_candidate_meets_is_said_why(text, said):
    reason = never_holds(parse_constraint(text), SPACE)
    assert reason.startswith(f"{text!r} never holds (every candidate would be infeasible): ") and said in reason, reason


@pytest.mark.parametrize("text", [
    "x0 >= 1", "x0 <= 0", "x0 == 0.5", "x0 != 0.5", "x0 < 1e999", "x0 < x1", "x0 <= x1", "lr >= 0.01",
    "lr <= 1e-5", "n >= 4", "n <= 1", "c < 2", "c == 8", "c != 1", "c == n", "c > x1", "d < c", "wide > 5",
    # an int's gaps are not judged: an interval stands for every value in it
    "n == 1.5",
    # strings are the spec check's own message (constraints compare numbers)
    "s < 1",
])
def test_a_constraint_some_candidate_meets_passes(text):
    assert never_holds(parse_constraint(text), SPACE) is None


def test_a_type_that_declares_no_range_is_not_judged():
    """Its decode() may take values anywhere (a wrap-around angle): only what a type says is used."""
    class Periodic:
        gene_init = gene_bounds = (0.0, 1.0)
        sigma = None

        def decode(self, gene):
            return gene * 1000 % 360

    assert never_holds(parse_constraint("a > 5"), {"a": Periodic()}) is None


def test_many_listed_values_on_both_sides_are_not_judged():
    many = {"a": ChoiceParameter(tuple(range(1000))), "b": ChoiceParameter(tuple(range(2000, 2400)))}
    assert never_holds(parse_constraint("a == b"), many) is None  # 400,000 pairs: past MOST_PAIRS
    assert never_holds(parse_constraint("a == b"), {**many, "b": ChoiceParameter((5000,))}) is not None


def test_a_constraint_no_candidate_meets_is_one_line_at_the_spec_check(tmp_path, hpo_run_exe):
    """x0 > 5 on x0 in [0, 1] ran: every candidate infeasible, nothing trained, and exit 1
    ("no evaluation succeeded (final population: 4 of 4 infeasible)")."""
    from hpo_testutil import run_cli, write_spec, zdt_spec

    spec = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1))
    proc = run_cli(hpo_run_exe, str(spec), "--set", "constraints=[x1 < 2, x0 > 5]", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"hpo-run: {spec}: constraints.1: 'x0 > 5' never holds (every candidate would be "
                           "infeasible): x0 takes values from 0 to 1 (space.x0)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_values_beyond_any_float_are_compared_and_shown():
    huge = {"h": ChoiceParameter((10**400, 10**401))}
    assert never_holds(parse_constraint("h < 5"), huge).endswith(
        "h takes only the values 1000000000... (401 digits), 1000000000... (402 digits) (space.h)")
    assert never_holds(parse_constraint("h > 5"), huge) is None
