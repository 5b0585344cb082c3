"""A trainer from a separately installed package is found through its entry point.

The package in ``pkg/`` is installed, offline, into a fresh virtual environment that
sees this project's environment (a ``.pth`` file adds its site-packages), exactly as a
user would install a plugin beside dnnp-hpo.  Discovery is the real one: pluggy reads
the ``dnnp_hpo`` entry-point group with importlib.metadata, in hpo-run and in the Dask
workers it starts.  Nothing in dnnp-hpo names the plugin.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from dnnp_hpo.journal import Journal
from dnnp_hpo.registry import load_registry

PACKAGE = Path(__file__).resolve().parent / "pkg"
MAXINT = 2147483647.0
HPO_RUN = "import sys; from dnnp_hpo.entry import hpo_run; sys.argv[0] = 'hpo-run'; hpo_run()"


def run(argv: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTHONPATH", None)  # only what the venv itself sees
    # check=False: the tests assert on the exit status themselves
    return subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only toy-trainer-hpo, with this project's environment beside it."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed beside dnnp-hpo: the offline build of the "
                    "plugin package (pip --no-build-isolation) needs it")
    root = tmp_path_factory.mktemp("thirdparty")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root)
    site_packages = Path(purelib.stdout.strip())
    # addsitedir (not a bare path) so the project's own .pth files (its editable install) are read too
    project = sysconfig.get_paths()["purelib"]
    (site_packages / "dnnp_hpo_project.pth").write_text(f"import site; site.addsitedir({project!r})\n")
    # Install from a copy: building in place would leave build/ and *.egg-info in the repository.
    source = root / "pkg"
    shutil.copytree(PACKAGE, source)
    done = run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                "--no-index", str(source)], root)
    assert done.returncode == 0, done.stderr
    return python


def test_the_plugin_is_not_part_of_this_project() -> None:
    assert "toy" not in load_registry().components["trainers"]


def test_hpo_run_lists_the_installed_plugin(plugin_venv: Path, tmp_path: Path) -> None:
    done = run([str(plugin_venv), "-c", HPO_RUN, "--list-plugins"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {tuple(cell.strip() for cell in line.strip("│ ").split("│")) for line in done.stdout.splitlines()}
    assert ("trainer", "toy", "toy-trainer-hpo") in rows
    assert ("trainer", "deepmd", "dnnp-hpo") in rows


def zdt1(x: list[float]) -> tuple[float, float]:
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1 - math.sqrt(x[0] / g))


def test_an_experiment_runs_with_the_installed_trainer(plugin_venv: Path, tmp_path: Path) -> None:
    spec = {
        "name": "toy", "seed": 3, "run_dir": str(tmp_path / "run"),
        "space": {f"x{i}": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1} for i in range(3)},
        "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}],
        "trainer": {"plugin": "toy", "diverge_above": 0.8},
        "optimizer": {"plugin": "nsga2", "pop_size": 6, "generations": 1},
        "launcher": {"plugin": "dask", "workers": 2},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    done = run([str(plugin_venv), "-c", HPO_RUN, "spec.yaml"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        evaluations = journal.evaluations()
        versions = journal.meta("versions")
    assert len(evaluations) == 12
    # what filled in the spec's defaults, which a resume must find the same: dnnp-hpo's
    # (the launcher's and optimizer's distribution too) and the trainer's distribution
    assert versions == {"dnnp-hpo": importlib.metadata.version("dnnp-hpo"), "toy-trainer-hpo": "0.1.0"}, versions
    for evaluation in evaluations:
        x = [evaluation.trial.params[f"x{i}"] for i in range(3)]
        inputs = json.loads((evaluation.trial.workdir / "input.json").read_text())
        assert inputs["params"] == evaluation.trial.params and inputs["seed"] == evaluation.trial.seed
        if x[0] > 0.8:  # the toy code fails these: the failure policy of the core applies
            assert evaluation.status == "failed" and evaluation.fitness == (MAXINT, MAXINT)
            assert evaluation.reason == f"toy code exited with status 1: RuntimeError: the training " \
                                        f"diverged (x0={x[0]:.3f})"
        else:
            assert evaluation.status == "ok", evaluation.reason
            assert evaluation.fitness == pytest.approx(zdt1(x))
            assert evaluation.metrics["runtime"] > 0
    statuses = {e.status for e in evaluations}
    assert statuses == {"ok", "failed"}, "seed 3 draws both kinds of candidate"
    with open(tmp_path / "run" / "individuals.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 12
