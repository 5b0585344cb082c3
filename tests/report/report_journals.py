"""Hand-made run journals for the report tests, built with the Journal API.

Objectives energy_rmse (eV/atom) and force_rmse (eV/A), so the paper's default
chemical accuracy (0.004 eV/atom, 0.04 eV/A) applies without a report block.
Every number the tests expect is worked out in the docstrings below, by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dnnp_hpo.evaluation import Evaluation, Member, Trial
from dnnp_hpo.journal import Journal

MAXINT = 2147483647.0

SPEC: dict[str, Any] = {
    "name": "handmade",
    "seed": 1,
    "space": {
        "rcut": {"type": "float", "init": [6.0, 12.0], "sigma": 0.0625},
        "activ": {"type": "choice", "choices": ["tanh", "relu", "softplus"], "sigma": 0.0625},
    },
    "objectives": [{"name": "energy_rmse", "unit": "eV/atom"}, {"name": "force_rmse", "unit": "eV/A"}],
    "trainer": {"plugin": "deepmd", "template": "t.json"},
    "optimizer": {"plugin": "nsga2", "pop_size": 4, "generations": 1},
}


def ok(name: str, generation: int, birth: int, energy: float, force: float, *, runtime: float | None,
       wall: float = 1.0, rcut: float = 8.0, activ: str = "tanh") -> Evaluation:
    """A successful evaluation; ``runtime`` goes into metrics (None: none measured) and
    ``wall`` is stop - start, deliberately different so the tests see which one is used."""
    metrics = {"energy_rmse": energy, "force_rmse": force}
    if runtime is not None:
        metrics["runtime"] = runtime
    return Evaluation(trial=_trial(name, generation, birth, rcut, activ), status="ok", reason="",
                      fitness=(energy, force), metrics=metrics, start=1000.0, stop=1000.0 + wall,
                      hostname="h", pid=1)


def failed(name: str, generation: int, birth: int, status: str, reason: str) -> Evaluation:
    return Evaluation(trial=_trial(name, generation, birth, 7.0, "relu"), status=status, reason=reason,
                      fitness=(MAXINT, MAXINT), metrics={}, start=1000.0, stop=1005.0, hostname="h", pid=1)


def _trial(name: str, generation: int, birth: int, rcut: float, activ: str) -> Trial:
    return Trial(uuid=name, birth_id=birth, generation=generation, genome=(rcut, float(birth)),
                 params={"rcut": rcut, "activ": activ}, seed=birth, workdir=Path("evals") / name)


def write_run(run_dir: Path, generations: dict[int, list[Evaluation]], populations: dict[int, list[str]],
              spec: dict[str, Any] | None = None, finished: bool = True) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    with Journal.of(run_dir) as journal:
        journal.set_meta("spec", SPEC if spec is None else spec)
        by_name = {}
        for evaluations in generations.values():
            for e in evaluations:
                journal.finished(e)
                by_name[e.trial.uuid] = e
        for g, names in populations.items():
            journal.generation_finished(g, [Member(by_name[n], 0, 0.0) for n in names], {"g": g})
        if finished:
            journal.set_meta("finished", True)
    return run_dir


def run_a(run_dir: Path) -> Path:
    """Two generations.

    Generation 0 evaluates a (0.010, 0.20), b (0.003, 0.05), c (timeout) and d (0.002, 0.030);
    all four form its population.  Generation 1 evaluates e..l: e (0.0016, 0.0357),
    f (0.0005, 0.0374), g (0.0019, 0.0370), h (0.0004, 0.0409), i (error), j (0.0030, 0.0390),
    k (0.004, 0.040: exactly at both limits), l (0.020, 0.5; not kept).  The last
    population is d, e, f, g, h, j, k and the failed i.

    Front of the last population: g, j and k are dominated by e; d, e, f, h are not
    (each has a lower energy than the next and a higher force), so sorted by energy:
    h, f, e, d.  Chemically accurate (energy <= 0.004 and force <= 0.04): d, e, f, g, j, k
    (h's force 0.0409 is over).  Runtimes (metrics): d 4500, e 4100, f 4400, g 4080,
    k 4200; j has no runtime metric and ran 3990 s (stop - start), the fastest.
    Table 3: lowest energy f, lowest force d, lowest runtime j.
    """
    return write_run(run_dir, _generations_a(),
                     {0: ["a", "b", "c", "d"], 1: ["d", "e", "f", "g", "h", "j", "k", "i"]})


def _generations_a() -> dict[int, list[Evaluation]]:
    g0 = [ok("a", 0, 0, 0.010, 0.20, runtime=100.0), ok("b", 0, 1, 0.003, 0.05, runtime=50.0),
          failed("c", 0, 2, "timeout", "killed at the time limit of 120 min"),
          ok("d", 0, 3, 0.002, 0.030, runtime=4500.0, rcut=11.3)]
    g1 = [ok("e", 1, 4, 0.0016, 0.0357, runtime=4100.0, rcut=11.32, activ="softplus"),
          ok("f", 1, 5, 0.0005, 0.0374, runtime=4400.0, rcut=10.1),
          ok("g", 1, 6, 0.0019, 0.0370, runtime=4080.0),
          ok("h", 1, 7, 0.0004, 0.0409, runtime=5000.0),
          failed("i", 1, 8, "error", "ValueError: boom"),
          ok("j", 1, 9, 0.0030, 0.0390, runtime=None, wall=3990.0),
          ok("k", 1, 10, 0.004, 0.040, runtime=4200.0),
          ok("l", 1, 11, 0.020, 0.5, runtime=30.0)]
    return {0: g0, 1: g1}


def stopped_a(run_dir: Path) -> Path:
    """run_a stopped before generation 1 was recorded: its eight offspring were trained
    (and are in the journal) but no population judged them.  Reported up to generation
    0: a, b, c (timeout) and d alone; the default reference is from a, b and d: worst
    (0.010, 0.20), ranges 0.008 and 0.17, so (0.0108, 0.217)."""
    return write_run(run_dir, _generations_a(), {0: ["a", "b", "c", "d"]}, finished=False)


def run_b(run_dir: Path) -> Path:
    """Generation 0: n (0.05, 0.9); generation 1: m (0.0010, 0.0320), runtime 100 s.

    Merged with run_a: m dominates e, g, j and k (lower in both), not d (force 0.030 <
    0.032), f or h (lower energy).  Merged front by energy: h, f, m, d; accurate: run_a's
    six and m; Table 3: lowest energy f, lowest force d, lowest runtime m.
    """
    return write_run(run_dir, {0: [ok("n", 0, 100, 0.05, 0.9, runtime=60.0)],
                               1: [ok("m", 1, 101, 0.0010, 0.0320, runtime=100.0, rcut=9.0)]},
                     {0: ["n"], 1: ["m", "n"]})


def one_generation(run_dir: Path) -> Path:
    """Generation 0 alone: p (0.003, 0.05) and q (0.002, 0.06), both kept.  The cheapest
    whole report (every figure and table, a panel of generations.png where run_a has two),
    for the tests of where a report is written rather than of what it says."""
    return write_run(run_dir, {0: [ok("p", 0, 0, 0.003, 0.05, runtime=1.0), ok("q", 0, 1, 0.002, 0.06, runtime=1.0)]},
                     {0: ["p", "q"]})
