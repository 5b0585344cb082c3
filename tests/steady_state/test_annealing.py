"""nsga2-async's breeding: it anneals the paper preset's sigmas once per pop_size
evaluations, as nsga2 does once per generation (offspring labelled generation g mutate with
sigma x decay^(g-1)), and breeds with its own default preset, sbx-steady."""

from __future__ import annotations

import numpy as np

from dnnp_hpo.evaluation import Evaluation, Trial
from dnnp_hpo.plugins import nsga2 as plugin
from dnnp_hpo.plugins.nsga2 import NSGA2Async, asynchronous
from dnnp_hpo.plugins.nsga2.algorithm import PAPER_MUTATION, SBX_STEADY, SBX_TUNED
from dnnp_hpo.problems import zdt1


class Space:
    names = ("x0", "x1", "x2")
    bounds = ((0.0, 1.0),) * 3
    init_ranges = ((0.0, 1.0),) * 3
    sigmas = (0.1, 0.2, 0.3)

    def decode(self, genome):
        return dict(zip(self.names, map(float, genome)))


class InstantStudy:
    """The Study's steady-state interface, evaluating ZDT1 at once (no engine: the
    algorithm's bookkeeping is what is under test)."""

    space, n_objectives, seed = Space(), 2, 0

    def __init__(self, workers: int) -> None:
        self.capacity, self.births, self.queue, self.snapshots = workers, 0, [], []
        self.labels: list[int] = []  #: generation of each birth, by birth id

    @property
    def pending(self) -> int:
        return len(self.queue)

    def recorded_sent_after(self, birth_id):
        return None  # a run never interrupted

    def submit(self, genome, generation, birth_id=None, sent_after=None):
        trial = Trial(uuid=str(self.births), birth_id=self.births, generation=generation,
                      genome=tuple(genome), params={}, seed=0, workdir=None)
        self.births += 1
        self.labels.append(generation)
        fitness = zdt1({f"x{i}": g for i, g in enumerate(genome)})
        self.queue.append(Evaluation(trial, "ok", "", fitness, {}, 0.0, 0.0, "", 0))
        return trial

    def next_finished(self, timeout=None):
        return self.queue.pop(0)  # instant: never a timeout

    def in_flight(self):
        return [e.trial for e in self.queue]

    def generation_finished(self, generation, population, state):
        self.snapshots.append((generation, len(population), state["inserted"]))


class Recording:
    """Breeds as ``breeding`` does, noting the sigmas of each offspring."""

    def __init__(self, breeding) -> None:
        self.breeding, self.seen = breeding, []

    def operators(self, rng, bounds, std, **duplicates):
        self.seen.append(np.array(std))
        return self.breeding.operators(rng, bounds, std, **duplicates)


def test_sigmas_anneal_once_per_pop_size_evaluations():
    study = InstantStudy(workers=3)
    rng = np.random.default_rng(1)
    initial = [rng.uniform(0, 1, 3).tolist() for _ in range(10)]
    recording = Recording(PAPER_MUTATION)
    asynchronous.steady_state_nsga2(study, rng, pop_size=10, max_births=45, initial=initial,
                                    in_flight=None, sigma_decay=0.5, variation=recording)
    seen = recording.seen
    # 35 offspring after the 10 random genomes of generation 0
    assert len(seen) == 35
    # bred after i insertions (i = 8, 9, ... : three in flight), labelled generation i // 10,
    # or 1 for those bred before the first snapshot: generation 0 is the random genomes alone
    generations = [max(1, i // 10) for i in range(10 - 3 + 1, 10 - 3 + 1 + len(seen))]
    assert study.labels == [0] * 10 + generations
    for generation, std in zip(generations, seen):
        assert np.allclose(std, np.array(Space.sigmas) * 0.5 ** (generation - 1)), (generation, std)
    # a snapshot after every 10 insertions and one at the end
    assert study.snapshots == [(0, 10, 10), (1, 10, 20), (2, 10, 30), (3, 10, 40), (4, 10, 45)]


def test_the_plugin_breeds_with_sbx_steady_unless_told_otherwise(monkeypatch):
    used = []
    real = plugin.steady_state_nsga2

    def recording(*args, variation, **kwargs):
        used.append(variation)
        return real(*args, variation=variation, **kwargs)

    monkeypatch.setattr(plugin, "steady_state_nsga2", recording)
    NSGA2Async(pop_size=6, max_births=20).run(InstantStudy(workers=2))
    assert used == [SBX_STEADY]
    used.clear()
    NSGA2Async(pop_size=6, max_births=20, variation="sbx-tuned").run(InstantStudy(workers=2))
    assert used == [SBX_TUNED]


def test_a_budget_not_above_pop_size_is_warned_about_once(tmp_path, capsys):
    """max_births counts generation 0: a budget of pop_size or less trains random genomes
    only, which is valid but rarely meant (a review's max_births 2 with pop_size 4)."""
    from cli_testutil import write_spec, zdt_spec

    from dnnp_hpo.cli import main

    for births, warned in ((4, True), (5, False)):
        spec = write_spec(tmp_path / f"s{births}.yaml", zdt_spec(
            tmp_path / f"run{births}", optimizer={"plugin": "nsga2-async", "pop_size": 4, "max_births": births}))
        assert main([str(spec), "--dry-run"]) == 0
        err = capsys.readouterr().err
        assert err.count("optimizer.max_births: 4 is not above pop_size 4: only random genomes") == warned, err
