"""Registration mistakes of one plugin, found when the plugins are loaded (one line naming
the plugin, exit 2, for every command, as test_registry's), and a trainer's ``prepare`` that
returns no trainer, found before anything is launched (a plugin's bug: its traceback, then
the internal-error line, exit 4, as test_plugin_bugs').

Each plugin is a real installed distribution (test_registry.distribution) run by the real
hpo-run console script.
"""

from __future__ import annotations

import pytest
from cli_testutil import write_spec, zdt_spec
from test_plugin_bugs import assert_internal_error
from test_registry import distribution, hpo_run_with

HEADER = '''\
import attrs
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.plugins.function import FunctionTrainer
'''


def test_one_distribution_registering_a_name_twice_names_its_entry_points(tmp_path):
    site = distribution(tmp_path / "site", "other-hpo", {"first": "other_first", "second": "other_second"},
                        "other_first", HEADER + "\n\n@hookimpl\ndef dnnp_hpo_trainers():\n"
                        "    return {'other': FunctionTrainer}\n")
    (site / "other_second.py").write_text((site / "other_first.py").read_text())
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run"))
    for args in (["--list-plugins"], [str(spec), "--dry-run"]):
        done = hpo_run_with(site, *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        # was: two plugins register the trainer 'other': other-hpo and other-hpo; uninstall one of them
        assert done.stderr.splitlines() == [(
            "hpo-run: other-hpo registers the trainer 'other' twice, in its plugins 'first' (other_first) "
            "and 'second' (other_second): expected each name registered once")], args
    assert not (tmp_path / "run").exists()


WHERE = "hpo-run: the plugin 'lacking' of lacking-hpo (lacking_plugin)"


@pytest.mark.parametrize("source, line", [
    ('''
@attrs.frozen
class Settings:
    def render(self, trial):
        return None

    def train(self, trial):
        return {}


@hookimpl
def dnnp_hpo_trainers():
    return {"noprepare": Settings}
''', (f"{WHERE}: dnnp_hpo_trainers() registers 'noprepare' as Settings, which has no method prepare: "
      "expected a class with the methods of the Trainer protocol (prepare; see the module dnnp_hpo.hookspecs)")),
    ('''
@attrs.frozen
class Walk:
    def prepare(self, run):
        pass

    def planned_evaluations(self):
        return 1

    def initial_genomes(self, study):
        return []


@hookimpl
def dnnp_hpo_optimizers():
    return {"walk": Walk}
''', (f"{WHERE}: dnnp_hpo_optimizers() registers 'walk' as Walk, which has no method run: expected a "
      "class with the methods of the Optimizer protocol (prepare, planned_evaluations, initial_genomes, run; "
      "see the module dnnp_hpo.hookspecs)")),
], ids=["trainer-without-prepare", "optimizer-without-run"])
def test_a_registered_class_without_its_protocols_methods_is_one_line_and_exit_2(tmp_path, source, line):
    site = distribution(tmp_path / "site", "lacking-hpo", {"lacking": "lacking_plugin"}, "lacking_plugin",
                        HEADER + source)
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run"))
    for args in (["--list-plugins"], [str(spec)], [str(spec), "--dry-run"]):
        done = hpo_run_with(site, *args, cwd=tmp_path)
        # was accepted: 'NoTrain' object has no attribute 'render', exit 4, once the spec named it
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines() == [line], args
    assert not (tmp_path / "run").exists()


SPLIT = HEADER + '''
@attrs.frozen
class Prepared:
    lr: float

    def render(self, trial):
        return None

    def train(self, trial):
        return {"f1": trial.params["x0"], "f2": 1.0 - trial.params["x0"]}


@attrs.frozen
class Settings:
    lr: float = 0.1

    def prepare(self, run):
        return Prepared(self.lr)


@hookimpl
def dnnp_hpo_trainers():
    return {"split": Settings}
'''


def test_a_trainer_whose_prepare_returns_another_class_is_a_working_plugin(tmp_path):
    """render and train are called on what prepare returns: a settings class without them
    registers and runs (a review's: refusing it at registration stopped every command)."""
    site = distribution(tmp_path / "site", "split-hpo", {"split": "split_plugin"}, "split_plugin", SPLIT)
    spec = zdt_spec(tmp_path / "run", pop_size=2, generations=0)
    spec["trainer"] = {"plugin": "split"}
    done = hpo_run_with(site, str(write_spec(tmp_path / "s.yaml", spec)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr


FORGETFUL = HEADER + '''

@attrs.frozen
class Forgetful:
    returns: str = "none"

    def prepare(self, run):
        if self.returns == "dict":
            return {"lr": 0.1}
        # the bug: no 'return self'

    def render(self, trial):
        return None

    def train(self, trial):
        return {"f1": 1.0, "f2": 2.0}


@hookimpl
def dnnp_hpo_trainers():
    return {"forgetful": Forgetful}
'''


@pytest.mark.parametrize("returns, shown", [("none", "None"), ("dict", "{'lr': 0.1}")])
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_a_prepare_that_returns_no_trainer_is_an_internal_error_naming_it(tmp_path, returns, shown, dry_run):
    site = distribution(tmp_path / "site", "forgetful-hpo", {"forgetful": "forgetful_plugin"},
                        "forgetful_plugin", FORGETFUL)
    spec = zdt_spec(tmp_path / "run")
    spec["trainer"] = {"plugin": "forgetful", "returns": returns}
    path = write_spec(tmp_path / "s.yaml", spec)
    done = hpo_run_with(site, str(path), *(["--dry-run"] if dry_run else []), cwd=tmp_path)
    # was: AttributeError: 'NoneType' object has no attribute 'render' (or 'dict' object ...)
    assert_internal_error(done, (f"TypeError: Forgetful.prepare returned {shown}, without render and train: "
                                 "expected the trainer the workers get ('return self' if nothing changes)"),
                          "_check_prepared")
    assert not (tmp_path / "run").exists()  # refused before anything was launched


@pytest.mark.parametrize("value", ["nohooks_pkg", "nohooks_pkg.plugin:dnnp_hpo_trainers"], ids=["package", "function"])
def test_an_entry_point_that_names_no_hooks_is_one_line_and_exit_2(tmp_path, value):
    """The package instead of its module of hooks (a plugin author's slip), or a hook
    function itself: loaded, registered, silent, and the spec's trainer then "unknown ...
    must be installed with an entry point", which it was (helper-128)."""
    site = distribution(tmp_path / "site", "nohooks-hpo", {"mycode": value})
    package = site / "nohooks_pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""The package; its hooks are in plugin.py."""\n')
    (package / "plugin.py").write_text(HEADER + "\n\n@hookimpl\ndef dnnp_hpo_trainers():\n"
                                       "    return {'mycode': FunctionTrainer}\n")
    done = hpo_run_with(site, "--list-plugins", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        (f"hpo-run: the plugin 'mycode' of nohooks-hpo ({value}) implements no hook of dnnp-hpo: expected the "
        "entry point to name a module (or an object) holding @hookimpl functions such as dnnp_hpo_trainers")]
