"""Plugin mistakes a reviewer made while writing a trainer by following the docs.

Each plugin is a real installed distribution (test_registry.distribution) run by the real
hpo-run console script.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import stat
from pathlib import Path

import pytest
import test_plugin_example as example
import yaml
from cli_testutil import write_spec, zdt_spec
from test_plugin_bugs import HINT
from test_registry import distribution, hpo_run_with

FAKENNP = '''\
import attrs
from dnnp_hpo.hookspecs import hookimpl


@attrs.frozen
class FakeNNPTrainer:
    def prepare(self, run):
        return self

    def render(self, trial):
        return None

    def train(self, trial):
        return {"f1": 1.0, "f2": 2.0}


@hookimpl
def dnnp_hpo_trainers():
    RETURNED
'''

WHERE = "hpo-run: the plugin 'fakennp' of fakennp-hpo (fakennp_plugin)"


def fakennp(tmp_path, returned: str):
    site = distribution(tmp_path / "site", "fakennp-hpo", {"fakennp": "fakennp_plugin"}, "fakennp_plugin",
                        FAKENNP.replace("RETURNED", returned))
    spec = zdt_spec(tmp_path / "run", pop_size=2, generations=0)
    spec["trainer"] = {"plugin": "fakennp"}
    return site, write_spec(tmp_path / "s.yaml", spec)


def test_a_registration_hook_that_forgets_return_is_one_line_and_exit_2(tmp_path):
    site, spec = fakennp(tmp_path, '{"fakennp": FakeNNPTrainer}')  # the bug: no 'return'
    for args in (["--list-plugins"], [str(spec), "--dry-run"], [str(spec)]):
        done = hpo_run_with(site, *args, cwd=tmp_path)
        # was: --list-plugins exit 0 without it; the spec: unknown trainer 'fakennp'
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines() == [(
            f"{WHERE}: dnnp_hpo_trainers() returned None (did it forget 'return'?): expected a mapping of "
            "trainer names to attrs classes; return {} to register nothing")], args
    assert not (tmp_path / "run").exists()


def test_a_registration_hook_that_returns_an_empty_mapping_registers_nothing(tmp_path):
    """What a plugin with nothing to register (an optional dependency missing) returns."""
    site, _ = fakennp(tmp_path, "return {}")
    done = hpo_run_with(site, "--list-plugins", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "fakennp" not in done.stdout and " function " in done.stdout


RENDERS = '''\
import attrs
from dnnp_hpo.hookspecs import hookimpl


@attrs.frozen
class FakeNNPTrainer:
    returns: str = "dict"

    def prepare(self, run):
        return self

    def render(self, trial):
        if self.returns == "dict":
            return dict(trial.params)  # the bug: the values, not the input text
        if self.returns == "bytes":
            return b"x0: 1"
        return "x0: " + str(trial.params["x0"])

    def train(self, trial):
        return {"f1": trial.params["x0"], "f2": 1.0 - trial.params["x0"]}


@hookimpl
def dnnp_hpo_trainers():
    return {"fakennp": FakeNNPTrainer}
'''


@pytest.mark.parametrize("returns, shown", [("dict", "a dict, {'x0': "), ("bytes", "a bytes, b'x0: 1'")])
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_a_render_that_returns_no_str_is_an_internal_error_naming_it(tmp_path, returns, shown, dry_run):
    site = distribution(tmp_path / "site", "fakennp-hpo", {"fakennp": "fakennp_plugin"}, "fakennp_plugin", RENDERS)
    spec = zdt_spec(tmp_path / "run", pop_size=2, generations=0)
    spec["trainer"] = {"plugin": "fakennp", "returns": returns}
    done = hpo_run_with(site, str(write_spec(tmp_path / "s.yaml", spec)), *(["--dry-run"] if dry_run else []),
                        cwd=tmp_path)
    # was: exit 0, "Input of the first candidate: {'x0': ...}" (and a run trained every candidate)
    assert "Input of the first candidate" not in done.stdout
    assert done.returncode == 4, done.stderr
    assert "Traceback (most recent call last)" in done.stderr  # a plugin's bug, as test_plugin_bugs'
    last = done.stderr.splitlines()[-1]
    assert last.startswith("hpo-run: internal error: TypeError: FakeNNPTrainer.render (trainer plugin "
                           f"'fakennp') returned {shown}"), last
    assert last.endswith(": expected the input the training gets as a str, or None for a trainer without "
                         f"an input file {HINT}"), last
    assert not (tmp_path / "run").exists()  # refused before anything was launched


def test_a_render_that_returns_a_str_is_shown_by_dry_run(tmp_path):
    site = distribution(tmp_path / "site", "fakennp-hpo", {"fakennp": "fakennp_plugin"}, "fakennp_plugin", RENDERS)
    spec = zdt_spec(tmp_path / "run", pop_size=2, generations=0)
    spec["trainer"] = {"plugin": "fakennp", "returns": "str"}
    done = hpo_run_with(site, str(write_spec(tmp_path / "s.yaml", spec)), "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Input of the first candidate:\nx0: 0." in done.stdout


def example_spec(tmp_path, objectives: list[str]):
    """test_plugin_example's spec for the docs/plugins.md example, with these objectives."""
    path = example.spec(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["objectives"] = [{"name": name} for name in objectives]
    data["optimizer"] = {"plugin": "nsga2", "pop_size": 2, "generations": 0}
    return write_spec(path, data)


def test_the_docs_example_refuses_an_objective_it_does_not_measure_before_training(tmp_path):
    assert 'check_objectives(run, METRICS, key="")' in example.example_source()  # the page's block, as printed
    site = example.install_example(tmp_path)
    path = example_spec(tmp_path, ["enrgy_rmse", "force_rmse"])
    for args in ([str(path), "--dry-run"], [str(path)]):
        # no mycode-train on PATH: had anything been launched, each training would fail (exit 1)
        done = hpo_run_with(site, *args, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
        # was: every candidate trained, each recorded 'error', then exit 1
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines() == [(
            f"hpo-run: {path}: objectives.0.name: objective 'enrgy_rmse' is not a metric of this trainer "
            "(it measures: energy_rmse, force_rmse, runtime; did you mean energy_rmse?)")], args
    assert not (tmp_path / "run").exists()


def test_the_docs_example_runs_with_the_objectives_it_measures(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    program = tools / "mycode-train"
    program.write_text(example.MYCODE_TRAIN)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    path = example_spec(tmp_path, ["energy_rmse", "force_rmse", "runtime"])
    done = hpo_run_with(example.install_example(tmp_path), str(path), cwd=tmp_path, timeout=300,
                        env={"PATH": f"{tools}{os.pathsep}/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    recorded = example.evaluations(tmp_path)
    assert len(recorded) == 2 and all(e.ok for e in recorded)
    assert all(e.fitness[:2] == (e.trial.params["lr"] / 10, e.trial.params["lr"] * 2) for e in recorded)


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-trainer-plugin.md"
REPO = GUIDE.parents[1]


def guide_imports() -> dict[str, object]:
    """Every name the import lines of the guide's section 12 bind, imported for real."""
    section = GUIDE.read_text(encoding="utf-8").split("## 12. ", 1)
    assert len(section) == 2, "the guide lost its section 12 (where each name comes from)"
    lines = re.findall(r"`((?:from \S+ )?import [^`]+)`", section[1])
    assert lines
    bound: dict[str, object] = {}
    for line in lines:
        namespace: dict[str, object] = {}
        exec(line, namespace)  # noqa: S102 - the doc's own import lines, run as a reader would
        names = [n.strip().split(" as ")[-1] for n in line.partition("import ")[2].split(",")]
        for name in names:
            assert name in namespace, line
            bound[name.split(".")[0]] = namespace[name.split(".")[0]]
    return bound


def excerpts() -> list[tuple[str, str]]:
    """(path, block) of every code block of the guide that names its file."""
    found = []
    for body in re.findall(r"^```\w*\n(.*?)^```$", GUIDE.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL):
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            found.append((first.removeprefix("# file: ").strip(), rest))
    return found


def project_imports(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of what ``path`` imports from dnnp_hpo at its top level."""
    package = ".".join(("dnnp_hpo", *path.relative_to(REPO).parent.parts)).replace("dnnp_hpo.core", "dnnp_hpo")
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level:
            module = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *[module] * bool(module)])
        if module.split(".")[0] == "dnnp_hpo":
            found.update({alias.asname or alias.name: (module, alias.name) for alias in node.names})
    return found


def test_the_guide_gives_every_name_its_import_line():
    bound = guide_imports()
    # the names a reviewer could not place
    for name in ("fitness", "LcurveError", "read_metrics", "load_yaml_template", "render_yaml", "check_names"):
        assert name in bound, name
    checked = 0
    for path, block in excerpts():
        if not path.endswith(".py"):
            continue
        for name, (module, attribute) in project_imports(REPO / path).items():
            if not re.search(rf"(?<![\w.]){re.escape(name)}\b", block):
                continue
            checked += 1
            # the line the guide gives binds the very object the excerpt's file uses
            assert name in bound, f"{path} uses {name} (from {module}): the guide gives no import line for it"
            assert bound[name] is getattr(importlib.import_module(module), attribute), (path, name)
    assert checked >= 20
