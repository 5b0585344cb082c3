"""Fixtures of the DeePMD-kit plugin tests: the demo dataset and small specs.

Everything here is real: the demo data come from the ``hpo-demo-data`` console script,
trainings from DeePMD-kit's ``dp``.  Tests that train are marked ``slow``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def demo_data(make_demo_data) -> Path:
    """A small demo dataset (80 frames: 60 training, 20 validation), made once per session."""
    return make_demo_data(80, 3)


@pytest.fixture(scope="session")
def small_sel_training(tmp_path_factory, demo_data):
    """(trainer, trial, metrics train() returned) of one real 60-step ``dp --tf train``
    through the plugin (~10 s CPU), made once per session: the quickstart template with a
    sel too small for the rcut and DeePMD-kit's neighbour statistics on (the quickstart
    skips them).  test_deepmd_trainer.py checks the training itself; the harvest tests of
    test_deepmd_harvest.py each read a copy of its directory.  Nothing may change it."""
    from deepmd_testutil import QUICKSTART, QUICKSTART_PARAMS, demo_overrides

    from dnnp_hpo.driver import prepare_run
    from dnnp_hpo.evaluation import Trial
    from dnnp_hpo.registry import load_registry

    directory = tmp_path_factory.mktemp("small-sel")
    template = (QUICKSTART.parent / "templates" / "deepmd_se_e2_a_demo.json").read_text()
    (directory / "small_sel.json").write_text(template.replace("[56, 24]", "[8, 4]"))
    # DeePMD-kit's start-up check of the samples on, as a user's run has it
    overrides = [*demo_overrides(directory, demo_data, steps=60, every=20),
                 f"trainer.template={directory / 'small_sel.json'}", "trainer.command=[dp, --tf, train, input.json]"]
    run, trainer = prepare_run(QUICKSTART, load_registry(), overrides)
    params = QUICKSTART_PARAMS
    trial = Trial(uuid="t0", birth_id=0, generation=0, genome=(0.5,) * len(params), params=params,
                  seed=42, workdir=run.evals_dir / "t0")
    return trainer, trial, trainer.train(trial)
