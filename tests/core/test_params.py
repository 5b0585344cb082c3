"""Decoding genes into parameter values (paper, sections 2.2.1-2.2.2, Table 1)."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
from hpo_testutil import run_cli, write_spec, zdt_spec
from hypothesis import example, given
from hypothesis import strategies as st

from dnnp_hpo.cli import main
from dnnp_hpo.errors import SpecError
from dnnp_hpo.registry import load_registry
from dnnp_hpo.space import SearchSpace
from dnnp_hpo.spec import structure_experiment

ACTIVATIONS = ["relu", "relu6", "softplus", "sigmoid", "tanh"]

#: Table 1 of the paper, written the way a user would, verbatim numbers.
TABLE_1_SPACE = {
    "start_lr": {"type": "float", "init": [3.51e-8, 0.01], "sigma": 0.001},
    "stop_lr": {"type": "float", "init": [3.51e-8, 0.0001], "sigma": 0.0001},
    "rcut": {"type": "float", "init": [6.0, 12.0], "sigma": 0.0625},
    "rcut_smth": {"type": "float", "init": [2.0, 6.0], "sigma": 0.0625},
    "scale_by_worker": {"type": "choice", "choices": ["linear", "sqrt", "none"],
                        "init": [0.0, 3.0], "sigma": 0.0625},
    "desc_activ_func": {"type": "choice", "choices": ACTIVATIONS, "init": [0.0, 5.0], "sigma": 0.0625},
    "fitting_activ_func": {"type": "choice", "choices": ACTIVATIONS, "init": [0.0, 5.0], "sigma": 0.0625},
}


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def experiment(registry, space, **extra):
    data = {
        "name": "t", "seed": 1, "space": space,
        "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}],
        "trainer": {"plugin": "function", "callable": "dnnp_hpo.problems:zdt1"},
        "optimizer": {"plugin": "nsga2"},
    }
    data.update(extra)
    return structure_experiment(data, registry)


def parameter(registry, **block):
    return experiment(registry, {"p": block}).space["p"]


# ---- choice: choices[floor(x) % n] --------------------------------------------------


def test_choice_paper_example_5_78_decodes_to_none(registry):
    p = parameter(registry, type="choice", choices=["linear", "sqrt", "none"], sigma=0.0625)
    assert p.decode(5.78) == "none"  # floor(5.78) % 3 == 2 (paper, 2.2.2)


@pytest.mark.parametrize("gene, expected", [
    (0.0, "linear"), (0.999, "linear"), (1.0, "sqrt"), (2.5, "none"), (3.0, "none"), (3.5, "linear"),
    (4.2, "sqrt"), (6.0, "linear"), (-0.01, "none"), (-1.0, "none"), (-1.5, "sqrt"), (-3.0, "linear"), (300.7, "linear"), (301.7, "sqrt"),
])
def test_choice_wraps_around_both_ways(registry, gene, expected):
    p = parameter(registry, type="choice", choices=["linear", "sqrt", "none"], sigma=0.0625)
    assert p.decode(gene) == expected


@given(gene=st.floats(min_value=-1e6, max_value=1e6), n=st.integers(1, 7))
@example(gene=5.0, n=5)  # the upper bound: the interval below it, not floor(x)'s (CI found it)
def test_choice_decode_matches_floor_mod(gene, n):
    p = _REGISTRY_FOR_HYPOTHESIS.lookup("parameter_types", "choice", "type")(
        choices=tuple(f"c{i}" for i in range(n)), sigma=0.1)
    # the closed upper end of the default bounds [0, n] decodes to the last choice
    k = n - 1 if gene == n else math.floor(gene) % n
    assert p.decode(gene) == f"c{k}"
    # constant on [floor(x), floor(x) + 1) and periodic with period n; the upper bound
    # n belongs to [n - 1, n) instead
    cell = n - 1 if gene == n else math.floor(gene)
    assert p.decode(cell + 0.5) == p.decode(gene)
    assert p.decode(cell + n + 0.5) == p.decode(gene)


_REGISTRY_FOR_HYPOTHESIS = load_registry()


@pytest.mark.parametrize(("bounds", "at_high"), [(None, "none"), ([0, 6], "none"), ([-1, 4.5], "sqrt")],
                         ids=["default", "two-laps", "off-grid"])
def test_a_choice_gene_on_its_upper_bound_decodes_as_the_interval_below_it(registry, bounds, at_high):
    """Mutation clips a gene to its upper bound, and floor(n) % n gave the first choice
    (helper-74): the closed end belongs to the interval below it, as an int's does.  An
    upper bound off the integer grid (4.5) is inside an interval, and decodes as before."""
    extra = {} if bounds is None else {"init": [0, 3], "bounds": bounds}
    p = parameter(registry, type="choice", choices=["linear", "sqrt", "none"], sigma=1.0, **extra)
    low, high = p.gene_bounds
    assert p.decode(high) == p.decode(math.nextafter(high, -math.inf)) == at_high
    assert p.decode(low) == p.decode(math.nextafter(low, math.inf))


def test_the_clipped_genes_of_both_ends_go_to_their_own_choices(registry):
    """Both ends of [0, 3] take clipped genes: the first of 3 choices took those of both,
    drawn 46% of the time after 6 Gaussian mutations at sigma 1 (helper-74); now the
    first and the last are drawn as often as each other."""
    p = parameter(registry, type="choice", choices=["linear", "sqrt", "none"], sigma=1.0)
    rng = np.random.default_rng(0)
    genes = rng.uniform(*p.gene_init, 30_000)
    low, high = p.gene_bounds
    for _ in range(6):  # the paper's Gaussian mutation, clipped to the bounds
        genes = np.clip(genes + rng.normal(0, 1.0, genes.size), low, high)
    counts = collections.Counter(p.decode(float(g)) for g in genes)
    assert abs(counts["none"] - counts["linear"]) / genes.size < 0.02, counts


def test_choice_default_init_and_bounds_are_zero_to_n(registry):
    p = parameter(registry, type="choice", choices=ACTIVATIONS, sigma=0.1)
    assert p.gene_init == (0.0, 5.0)
    assert p.gene_bounds == (0.0, 5.0)


def test_choice_given_as_a_string_is_refused(registry):
    # "abc" must not silently become the three choices a, b, c
    with pytest.raises(SpecError) as info:
        parameter(registry, type="choice", choices="abc", sigma=0.1)
    assert info.value.key.startswith("space.p")
    assert "choices" in str(info.value)


# ---- float, log float, int ----------------------------------------------------------


def test_float_decodes_to_the_gene_and_bounds_default_to_init(registry):
    p = parameter(registry, type="float", init=[6.0, 12.0], sigma=0.0625)
    assert p.decode(7.25) == 7.25
    assert p.gene_init == (6.0, 12.0)
    assert p.gene_bounds == (6.0, 12.0)
    assert p.sigma == 0.0625


def test_float_explicit_bounds(registry):
    p = parameter(registry, type="float", init=[6.0, 12.0], bounds=[4.0, 14.0], sigma=0.0625)
    assert p.gene_init == (6.0, 12.0)
    assert p.gene_bounds == (4.0, 14.0)


def test_log_float_gene_is_log10_of_value(registry):
    p = parameter(registry, type="float", init=[1e-8, 1e-2], bounds=[1e-9, 1.0], sigma=0.5, log=True)
    assert p.gene_init == pytest.approx((-8.0, -2.0))
    assert p.gene_bounds == pytest.approx((-9.0, 0.0))
    assert p.sigma == 0.5  # in decades: the optimizer mutates the log10 gene
    assert p.decode(-3.0) == pytest.approx(1e-3)
    assert p.decode(math.log10(3.51e-8)) == pytest.approx(3.51e-8)


def test_log_float_bounds_default_to_init_in_log_space(registry):
    p = parameter(registry, type="float", init=[3.51e-8, 0.01], sigma=0.3, log=True)
    assert p.gene_bounds == pytest.approx((math.log10(3.51e-8), -2.0))


def test_yaml_style_exponent_strings_are_numbers(registry):
    # PyYAML reads 1e-3 (no dot) as a string; the spec must still take it as a number.
    p = parameter(registry, type="float", init=["1e-8", "1e-2"], sigma="1e-3")
    assert p.gene_init == (1e-8, 1e-2) and p.sigma == 1e-3


@pytest.mark.parametrize("gene, value", [(3.0, 3), (3.49, 3), (3.5, 4), (3.51, 4), (-0.4, 0), (9.6, 10)])
def test_int_rounds_to_nearest(registry, gene, value):
    p = parameter(registry, type="int", init=[0, 10], sigma=1.0)
    decoded = p.decode(gene)
    assert decoded == value and isinstance(decoded, int)


def test_int_gene_ranges_reach_half_a_unit_past_each_end(registry):
    p = parameter(registry, type="int", init=[1, 4], sigma=1.0)
    assert p.gene_init == (0.5, 4.5)
    assert p.gene_bounds == (0.5, 4.5)  # bounds default to init
    p = parameter(registry, type="int", init=[1, 4], bounds=[0, 6], sigma=1.0)
    assert p.gene_init == (0.5, 4.5)
    assert p.gene_bounds == (-0.5, 6.5)


@pytest.mark.parametrize("bounds", [None, [0, 6]])
def test_int_genes_at_the_edges_decode_inside_the_range(registry, bounds):
    block = {"type": "int", "init": [1, 4], "sigma": 1.0} | ({"bounds": bounds} if bounds else {})
    p = parameter(registry, **block)
    lo, hi = bounds or (1, 4)
    for low, high in (p.gene_init, p.gene_bounds):
        assert lo <= p.decode(low) and p.decode(high) <= hi
    low, high = p.gene_bounds
    assert p.decode(low) == lo and p.decode(math.nextafter(low, math.inf)) == lo
    # hi + 0.5 itself would round up to hi + 1: decode clips it to hi
    assert p.decode(high) == hi and p.decode(math.nextafter(high, -math.inf)) == hi
    assert p.decode(high + 7.0) == hi and p.decode(low - 7.0) == lo


@given(gene=st.floats(min_value=-0.5, max_value=6.5))
def test_int_every_gene_within_bounds_decodes_within_bounds(gene):
    p = _REGISTRY_FOR_HYPOTHESIS.lookup("parameter_types", "int", "type")(init=(1, 4), bounds=(0, 6), sigma=1.0)
    assert 0 <= p.decode(gene) <= 6


DRAWS = 20_000


def _frequency_tolerance(n_values: int) -> float:
    """Five standard deviations of the frequency of one of ``n_values`` equally likely
    integers in DRAWS draws (binomial: sqrt(p (1 - p) / n)).  A uniform decoder leaves the
    bound with probability ~6e-7 per integer; the old decoder of [1, 4] (ends 1/6, middle
    1/3 instead of 1/4) missed it by 27 standard deviations."""
    p = 1.0 / n_values
    return 5.0 * math.sqrt(p * (1.0 - p) / DRAWS)


@pytest.mark.parametrize("bounds, gene_range, values", [
    (None, "gene_init", range(1, 5)),
    ([0, 6], "gene_init", range(1, 5)),    # generation 0 draws from init, not from the bounds
    ([0, 6], "gene_bounds", range(7)),  # a gene spread over the bounds reaches 0..6 alike
])
def test_int_uniform_genes_decode_to_every_integer_equally_often(registry, bounds, gene_range, values):
    block = {"type": "int", "init": [1, 4], "sigma": 1.0} | ({"bounds": bounds} if bounds else {})
    p = parameter(registry, **block)
    low, high = getattr(p, gene_range)
    genes = np.random.default_rng(12345).uniform(low, high, size=DRAWS)
    counts = collections.Counter(p.decode(float(g)) for g in genes)
    assert set(counts) == set(values), counts
    tolerance = _frequency_tolerance(len(values))
    for value in values:
        assert abs(counts[value] / DRAWS - 1.0 / len(values)) < tolerance, (value, counts)


@pytest.mark.parametrize("key, value", [("init", [1.5, 4]), ("bounds", [0, 6.5])])
def test_int_non_integer_range_is_one_line_exit_2(tmp_path, capsys, key, value):
    space = {"x0": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
             "k": {"type": "int", "init": [1, 4], "bounds": [0, 6], "sigma": 0.5} | {key: value}}
    spec_path = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", space=space))
    assert main([str(spec_path), "--dry-run"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert f": space.k.{key}." in lines[0] and "whole number" in lines[0], lines[0]
    assert not (tmp_path / "run").exists()


def test_int_non_integer_init_console_script(tmp_path, hpo_run_exe):
    space = {"k": {"type": "int", "init": [1, 4.5], "sigma": 0.5}}
    spec_path = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", space=space))
    proc = run_cli(hpo_run_exe, str(spec_path), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and ": space.k.init.1:" in lines[0] and "whole number" in lines[0], proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("block, key_part", [
    ({"type": "float", "init": [1.0, 1.0], "sigma": 0.1}, "init"),
    ({"type": "float", "init": [2.0, 1.0], "sigma": 0.1}, "init"),
    ({"type": "float", "init": [0.0, 1.0], "sigma": 0.0}, "sigma"),
    ({"type": "float", "init": [0.0, 1.0], "sigma": 0.1, "bounds": [0.5, 2.0]}, "bounds"),
    ({"type": "float", "init": [0.0, 1.0], "sigma": 0.1, "log": True}, "space.p.init: log: true"),
    ({"type": "int", "init": [3, 3], "sigma": 1.0}, "init"),
    ({"type": "int", "init": [1, 4], "sigma": 1.0, "bounds": [2, 3]}, "bounds"),
    ({"type": "int", "init": [1, 4.5], "sigma": 1.0}, "init"),
    ({"type": "int", "init": [1, 4], "sigma": 1.0, "bounds": [0.5, 4]}, "bounds"),
    ({"type": "choice", "choices": [], "sigma": 0.1}, "choices"),
    ({"type": "choice", "choices": ["a", "b"], "sigma": 0.1, "init": [0, 5], "bounds": [0, 2]}, "bounds"),
    ({"type": "choice", "choices": ["a", ["b"]], "sigma": 0.1}, "choices"),
])
def test_bad_parameter_blocks_name_the_key(registry, block, key_part):
    with pytest.raises(SpecError) as info:
        parameter(registry, **block)
    assert info.value.key.startswith("space.p"), info.value.key
    assert key_part in str(info.value), str(info.value)


# ---- Table 1 verbatim -----------------------------------------------------------------


def test_paper_table_1_is_expressible_verbatim(registry):
    exp = experiment(registry, TABLE_1_SPACE)
    space = SearchSpace(exp.space)
    assert space.names == list(TABLE_1_SPACE)  # genome order = spec order (2.2.1)
    assert space.init_ranges == [(3.51e-8, 0.01), (3.51e-8, 0.0001), (6.0, 12.0), (2.0, 6.0),
                                 (0.0, 3.0), (0.0, 5.0), (0.0, 5.0)]
    assert space.sigmas == [0.001, 0.0001, 0.0625, 0.0625, 0.0625, 0.0625, 0.0625]
    assert space.bounds == space.init_ranges  # hard bounds default to the init range
    decoded = space.decode([0.005, 5e-5, 9.0, 3.5, 5.78, 4.99, 0.2])
    assert decoded == {
        "start_lr": 0.005, "stop_lr": 5e-5, "rcut": 9.0, "rcut_smth": 3.5,
        "scale_by_worker": "none", "desc_activ_func": "tanh", "fitting_activ_func": "relu",
    }


def test_space_decode_refuses_a_genome_of_the_wrong_length(registry):
    space = SearchSpace(experiment(registry, TABLE_1_SPACE).space)
    with pytest.raises(ValueError):
        space.decode([1.0, 2.0])


# ---- what a float gene can carry --------------------------------------------------------


def _run_refused(tmp_path, hpo_run_exe, space: dict, *extra: str) -> str:
    """The one line of the real hpo-run (no --dry-run) for a spec with ``space``; nothing written."""
    spec_path = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", space=space, pop_size=4, generations=1))
    proc = run_cli(hpo_run_exe, str(spec_path), *extra, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"], "nothing written"
    return lines[0]


@pytest.mark.parametrize("key", ["init", "bounds"])
def test_a_log_bound_whose_gene_decodes_past_a_float_is_refused(tmp_path, hpo_run_exe, key):
    """log10(1.7976931348623157e308) rounds up: 10**gene overflows.  Mutation (sigma 1000)
    took the gene there, and the run died mid-way with OverflowError after writing its journal."""
    block = {"type": "float", "log": True, "init": [1, 1e300], "sigma": 1000,
             key: [1, 1.7976931348623157e308]}
    line = _run_refused(tmp_path, hpo_run_exe, {"x0": block, "x1": {"type": "float", "init": [0, 1], "sigma": 0.1}},
                        "--set", "optimizer.variation=paper")
    assert line.endswith(f": space.x0.{key}: log: true decodes the gene 308.25471555991675 (log10 of "
                         "1.7976931348623157e+308) as 10**gene, beyond a float: expected values up to 1.7976e308, "
                         "got [1.0, 1.7976931348623157e+308]"), line


def test_log_bounds_up_to_the_stated_limit_decode(registry):
    p = parameter(registry, type="float", log=True, init=[1e-320, 1.7976e308], sigma=1.0)
    assert [p.decode(g) for g in p.gene_bounds] == pytest.approx([1e-320, 1.7976e308], rel=1e-12)


@pytest.mark.parametrize("key, interval", [("init", [10**17, 10**17 + 3]), ("init", [-(2**52) - 1, 0]),
                                           ("bounds", [0, 2**52 + 1])])
def test_an_int_beyond_what_a_gene_tells_apart_is_refused(tmp_path, hpo_run_exe, key, interval):
    """init [1e17, 1e17 + 3] ran with every candidate decoded to 1e17: floats step by 16 there."""
    block = {"type": "int", "init": [0, 3], "sigma": 1} | {key: interval}
    line = _run_refused(tmp_path, hpo_run_exe, {"x0": block, "x1": {"type": "float", "init": [0, 1], "sigma": 0.1}})
    assert line.endswith(f": space.x0.{key}: [{interval[0]}, {interval[1]}]: expected whole numbers from -2**52 to "
                         "2**52 (4,503,599,627,370,496): the gene is a float, which beyond that cannot tell "
                         "neighbouring integers apart"), line


@pytest.mark.parametrize("interval", [[2**52 - 3, 2**52], [-(2**52), -(2**52) + 3]])
def test_every_int_up_to_the_limit_is_drawn(registry, interval):
    p = parameter(registry, type="int", init=interval, sigma=1.0)
    genes = np.random.default_rng(0).uniform(*p.gene_init, size=4000)
    assert {p.decode(float(g)) for g in genes} == set(range(interval[0], interval[1] + 1))


@pytest.mark.parametrize(("init", "never"), [([0, 2], "relu"), ([0.5, 2.0], "relu"), ([1, 2], "tanh, relu"),
                                             ([3.0, 4.0], "softplus, relu"), ([-1, 1], "softplus")])
def test_an_init_range_that_leaves_a_choice_out_is_warned_of(registry, init, never):
    """init [0, 2] for three choices, read as "indices 0 to 2", was accepted without a
    word: with the bounds its init range, the third was never drawn nor reached by
    mutation (helper-94).  A warning, not a refusal: runs recorded with such a spec must
    still resume and show their fronts (helper-95)."""
    p = parameter(registry, type="choice", choices=["tanh", "softplus", "relu"], init=init, sigma=0.1)
    assert f"covers {3 - len(never.split(', '))} of the 3 choices: {never} will never be drawn" in p.init_warning
    assert "a range 3 wide, such as [0, 3] (the default), draws every choice" in p.init_warning
    reached = {p.decode(g) for g in np.linspace(*p.gene_bounds, 601)}
    assert not reached & set(never.split(", "))  # what it says


@pytest.mark.parametrize(("init", "bounds"), [([0, 3], None), ([0.5, 2.5], None), ([-1, 2], None), ([0, 5], None),
                                              ([2.5, 5.5], None), ([0, 2], [0, 3]), ([2, 3], [2, 3])])
def test_ranges_that_reach_every_choice_or_hold_it_on_purpose_are_not_warned_of(registry, init, bounds):
    # [0, 2] with bounds [0, 3]: mutation reaches the third; bounds [2, 3]: held on purpose
    block = {"type": "choice", "choices": ["tanh", "softplus", "relu"], "init": init, "sigma": 0.1}
    p = parameter(registry, **block, **({"bounds": bounds} if bounds else {}))
    assert p.init_warning is None
    reached = {p.decode(g) for g in np.linspace(*p.gene_bounds, 601)}
    assert reached == ({"relu"} if bounds == [2, 3] else {"tanh", "softplus", "relu"})


def test_start_up_prints_the_warning_and_the_run_goes_on(tmp_path, hpo_run_exe):
    spec = zdt_spec(tmp_path / "run", n=2, pop_size=4, generations=0)
    spec["space"]["act"] = {"type": "choice", "choices": ["tanh", "softplus", "relu"], "init": [0, 2]}
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (f"hpo-run: warning: {tmp_path / 'spec.yaml'}: space.act.init: [0.0, 2.0] covers 2 of the 3 choices: "
            "relu will never be drawn") in proc.stderr, proc.stderr
    assert "The spec is valid" in proc.stdout
