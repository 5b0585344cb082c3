"""Whole runs on a real local Dask cluster with the function trainer."""

from __future__ import annotations

import ast
import inspect
import math
import os
import socket

import pytest
from hpo_testutil import MAXINT, header, read_csv, write_spec, zdt_spec

from dnnp_hpo.cli import main
from dnnp_hpo.driver import execute, prepare_run
from dnnp_hpo.registry import load_registry

OBJECTIVES = ["f1", "f2"]


def genomes_and_fitness(rows, names):
    return sorted((tuple(float(r[n]) for n in names), tuple(float(r[o]) for o in OBJECTIVES)) for r in rows)


def last_generation(pop_rows):
    last = max(int(r["pop_generation"]) for r in pop_rows)
    return [r for r in pop_rows if int(r["pop_generation"]) == last]


# ---- seed determinism ----------------------------------------------------------------


def test_same_seed_same_final_population_with_1_or_2_workers(tmp_path):
    names = [f"x{i}" for i in range(4)]
    results = []
    for workers in (1, 2):
        run_dir = tmp_path / f"w{workers}"
        path = write_spec(tmp_path / f"w{workers}.yaml",
                          zdt_spec(run_dir, pop_size=10, generations=4, workers=workers, seed=5))
        assert main([str(path)]) == 0
        pop = read_csv(run_dir / "pop.csv")
        results.append((genomes_and_fitness(last_generation(pop), names),
                        [genomes_and_fitness([r for r in read_csv(run_dir / "individuals.csv")
                                              if r["birth_id"] == str(b)], names) for b in range(50)]))
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]  # every evaluation, by birth id


def test_a_different_seed_gives_a_different_search(tmp_path):
    names = [f"x{i}" for i in range(4)]
    finals = []
    for seed in (5, 6):
        run_dir = tmp_path / f"s{seed}"
        path = write_spec(tmp_path / f"s{seed}.yaml", zdt_spec(run_dir, pop_size=6, generations=1, seed=seed))
        assert main([str(path)]) == 0
        finals.append(genomes_and_fitness(last_generation(read_csv(run_dir / "pop.csv")), names))
    assert finals[0] != finals[1]


# ---- ZDT1 end to end -------------------------------------------------------------------


def hypervolume_2d(points, ref):
    """Area dominated by ``points`` (minimised) and bounded by ``ref``: a sweep over f1."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    area, best_f2 = 0.0, ref[1]
    for i, (f1, f2) in enumerate(pts):
        best_f2 = min(best_f2, f2)
        next_f1 = pts[i + 1][0] if i + 1 < len(pts) else ref[0]
        area += (next_f1 - f1) * (ref[1] - best_f2)
    return area


@pytest.mark.parametrize("optimizer", [{"plugin": "nsga2", "pop_size": 6, "generations": 2},
                                       {"plugin": "nsga2-async", "pop_size": 6, "max_births": 18, "init_pop_size": 1}],
                         ids=["nsga2", "nsga2-async"])
def test_sigma_may_be_left_out_where_the_variation_never_reads_it(tmp_path, optimizer):
    """sbx-steady (the default) mutates polynomially within the bounds: a space without
    sigmas runs, and breeds exactly the search a space with them does."""
    names = [f"x{i}" for i in range(4)]
    searches = []
    for sigma in (True, False):
        run_dir = tmp_path / f"sigma-{sigma}"
        spec = zdt_spec(run_dir, seed=3, optimizer=optimizer)
        if not sigma:
            for parameter in spec["space"].values():
                del parameter["sigma"]
        assert main([str(write_spec(tmp_path / f"sigma-{sigma}.yaml", spec))]) == 0
        searches.append(genomes_and_fitness(read_csv(run_dir / "individuals.csv"), names))
    assert len(searches[0]) == 18
    assert searches[0] == searches[1]


def test_a_run_started_without_sigmas_is_extended_as_variation_paper(tmp_path):
    """Its checkpoints hold NaN sigmas (none given, none read); extended with --force as
    variation: paper with sigmas given, it mutates by them: every offspring was NaN and
    failed, and an int parameter stopped the run (exit 4)."""
    run_dir = tmp_path / "run"
    spec = zdt_spec(run_dir, seed=3, pop_size=6, generations=1)
    spec["space"]["x3"] = {"type": "int", "init": [0, 1]}
    for parameter in spec["space"].values():
        parameter.pop("sigma", None)
    path = write_spec(tmp_path / "spec.yaml", spec)
    assert main([str(path)]) == 0
    assert main([str(path), "--force", "--set", "optimizer.generations=3", "--set", "optimizer.variation=paper",
                 *[f"--set=space.x{i}.sigma=0.05" for i in range(4)]]) == 0
    rows = read_csv(run_dir / "individuals.csv")
    assert sorted(int(r["generation"]) for r in rows) == [g for g in range(4) for _ in range(6)]
    assert all(r["status"] == "ok" for r in rows), [(r["generation"], r["status"], r["reason"]) for r in rows]


def test_hypervolume_helper_by_hand():
    # two points (0, 1) and (0.5, 0) against (1, 2): 0.5 * 1 + 0.5 * 2 = 1.5
    assert hypervolume_2d([(0, 1), (0.5, 0)], (1, 2)) == pytest.approx(1.5)
    assert hypervolume_2d([(0.5, 0), (0, 1), (0.7, 0.5)], (1, 2)) == pytest.approx(1.5)
    assert hypervolume_2d([(2, 0)], (1, 2)) == 0.0


def front(points):
    return [p for p in points if not any(all(q[k] <= p[k] for k in range(2)) and q != p for q in points)]


@pytest.mark.parametrize("variation", [None, "paper"])
def test_zdt1_final_front_dominates_generation_0(tmp_path, repo_root, variation):
    """The shipped config as is, and with the paper's operators (Gaussian, annealed sigma)."""
    run_dir = tmp_path / "zdt1"
    extra = [] if variation is None else ["--set", f"optimizer.variation={variation}"]
    assert main([str(repo_root / "configs" / "zdt1-function.yaml"), "--set", f"run_dir={run_dir}", *extra]) == 0
    pop = read_csv(run_dir / "pop.csv")
    gens = sorted({int(r["pop_generation"]) for r in pop})
    assert gens == list(range(11))  # generation 0 and the 10 of the config
    def points(g):
        return [(float(r["f1"]), float(r["f2"])) for r in pop if int(r["pop_generation"]) == g]
    first, last = front(points(0)), front(points(10))
    ref = (1.1, 11.0)
    assert hypervolume_2d(last, ref) > hypervolume_2d(first, ref) * 1.05
    for p in first:  # NSGA-II is elitist: nothing of generation 0's front is lost
        assert any(q[0] <= p[0] and q[1] <= p[1] for q in last), p
    # the fitness really is ZDT1 of the decoded genome
    for r in pop:
        x = [float(r[f"x{i}"]) for i in range(7)]
        g = 1 + 9 * sum(x[1:]) / 6
        assert float(r["f1"]) == pytest.approx(x[0])
        assert float(r["f2"]) == pytest.approx(g * (1 - math.sqrt(x[0] / g)))
        assert 0.0 <= min(x) and max(x) <= 1.0  # hard bounds = init range


# ---- records ---------------------------------------------------------------------------


def test_records_columns_and_rows(tmp_path):
    run_dir = tmp_path / "run"
    path = write_spec(tmp_path / "spec.yaml", zdt_spec(run_dir, n=3, pop_size=5, generations=2, workers=2))
    assert main([str(path)]) == 0
    params = ["x0", "x1", "x2"]
    assert header(run_dir / "individuals.csv") == [
        "uuid", "birth_id", "generation", *params, "status", "reason", "start_eval_time",
        "stop_eval_time", "hostname", "pid", *OBJECTIVES, "seed"]
    pop_header = header(run_dir / "pop.csv")
    assert {"pop_generation", "rank", "distance", "uuid", *params, *OBJECTIVES} <= set(pop_header)
    rows = read_csv(run_dir / "individuals.csv")
    assert len(rows) == 5 * 3  # one row per evaluation: generation 0 and two more
    assert sorted(int(r["birth_id"]) for r in rows) == list(range(15))
    assert len({r["uuid"] for r in rows}) == 15
    assert sorted(int(r["generation"]) for r in rows) == [0] * 5 + [1] * 5 + [2] * 5
    for r in rows:
        assert r["status"] == "ok" and r["reason"] == ""
        assert float(r["start_eval_time"]) <= float(r["stop_eval_time"])
        assert r["hostname"] == socket.gethostname()
        assert int(r["pid"]) > 0
        assert int(r["seed"]) >= 0
    pids = {int(r["pid"]) for r in rows}
    assert len(pids) == 2 and os.getpid() not in pids  # two real workers
    pop = read_csv(run_dir / "pop.csv")
    by_uuid = {r["uuid"]: r for r in rows}
    for g in range(3):
        members = [r for r in pop if int(r["pop_generation"]) == g]
        assert len(members) == 5
        for m in members:
            assert m["uuid"] in by_uuid  # survivors are recorded evaluations
            assert int(m["generation"]) <= g
            assert int(m["rank"]) >= 1
            assert float(m["distance"]) >= 0
        # rank 1 members are exactly the non-dominated ones of this population
        pts = {m["uuid"]: (float(m["f1"]), float(m["f2"])) for m in members}
        nd = set(front(list(pts.values())))
        for m in members:
            assert (int(m["rank"]) == 1) == (pts[m["uuid"]] in nd)


# ---- failure policy and constraints ---------------------------------------------------------


def test_failures_are_recorded_with_maxint_and_the_run_continues(tmp_path):
    run_dir = tmp_path / "run"
    spec = zdt_spec(run_dir, n=3, pop_size=10, generations=2, workers=2,
                    callable_="hpo_testfuncs:failing_by_x0")
    assert main([str(write_spec(tmp_path / "spec.yaml", spec))]) == 0
    rows = read_csv(run_dir / "individuals.csv")
    assert len(rows) == 30
    seen = set()
    for r in rows:
        x0 = float(r["x0"])
        fitness = (float(r["f1"]), float(r["f2"]))
        if x0 < 0.2:
            expected, words = "error", ["RuntimeError", "boom"]
        elif x0 < 0.4:
            expected, words = "failed", ["non-finite f1 (nan)"]  # the bad value alone: one reason for all
        elif x0 < 0.6:  # the callable's mistake, not the candidate's: error, as a plugin's
            expected, words = "error", ["3 values", "2 objectives"]
        else:
            expected, words = "ok", []
        assert r["status"] == expected, r
        for word in words:
            assert word in r["reason"], r
        if expected == "ok":
            assert max(fitness) < MAXINT and r["reason"] == ""
        else:
            assert fitness == (MAXINT, MAXINT), r
            assert "\n" not in r["reason"]
            seen.add(words[0])
    assert seen == {"RuntimeError", "non-finite f1 (nan)", "3 values"}  # all three modes exercised
    gens = {int(r["pop_generation"]) for r in read_csv(run_dir / "pop.csv")}
    assert gens == {0, 1, 2}


def test_infeasible_candidates_are_recorded_and_never_trained(tmp_path):
    run_dir = tmp_path / "run"
    spec = zdt_spec(run_dir, n=3, pop_size=10, generations=2, workers=1,
                    callable_="hpo_testfuncs:zdt1_refusing_x0_ge_x1",
                    constraints=["x0 < x1", "x2 <= 0.9"])
    assert main([str(write_spec(tmp_path / "spec.yaml", spec))]) == 0
    rows = read_csv(run_dir / "individuals.csv")
    assert len(rows) == 30
    infeasible = 0
    for r in rows:
        x0, x1, x2 = (float(r[k]) for k in ("x0", "x1", "x2"))
        if x0 < x1 and x2 <= 0.9:
            assert r["status"] == "ok", r  # the trainer never raised: it saw no infeasible one
        else:
            infeasible += 1
            assert r["status"] == "infeasible", r
            assert (float(r["f1"]), float(r["f2"])) == (MAXINT, MAXINT)
            if not x0 < x1:
                assert "x0 < x1" in r["reason"]
            if not x2 <= 0.9:
                assert "x2 <= 0.9" in r["reason"]
    assert infeasible > 0  # with uniform init, about half of generation 0 violates x0 < x1


# ---- a third-party parameter type ---------------------------------------------------------


def test_plugin_adds_a_list_valued_parameter_type(tmp_path):
    from hpo_testfuncs import WidthsPlugin

    run_dir = tmp_path / "run"
    spec = {
        "name": "widths", "seed": 2, "run_dir": str(run_dir),
        "space": {"widths": {"type": "widths", "depth": 3, "init": [3.0, 7.0], "sigma": 0.5},
                  "x": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1}},
        "objectives": [{"name": "f1"}, {"name": "f2"}],
        "trainer": {"plugin": "function", "callable": "hpo_testfuncs:sum_of_widths"},
        "optimizer": {"plugin": "nsga2", "pop_size": 4, "generations": 1},
        "launcher": {"plugin": "dask", "workers": 1},
    }
    path = write_spec(tmp_path / "spec.yaml", spec)
    # without the plugin, the type is unknown
    with pytest.raises(Exception) as info:
        prepare_run(path, load_registry())
    assert "widths" in str(info.value) and "space.widths.type" in str(info.value)
    registry = load_registry(extra_plugins=(WidthsPlugin(),))
    assert "widths" in registry.components["parameter_types"]
    run, trainer = prepare_run(path, registry)
    if "registry" in inspect.signature(execute).parameters:  # the driver's API is still moving
        execute(run, trainer, registry=registry)
    else:
        execute(run, trainer)
    rows = read_csv(run_dir / "individuals.csv")
    assert len(rows) == 8
    for r in rows:
        assert r["status"] == "ok", r
        widths = ast.literal_eval(r["widths"])
        assert len(widths) == 3 and len(set(widths)) == 1 and widths[0] in (8, 16, 32, 64, 128)
        assert float(r["f1"]) == sum(widths)
