"""Plugin discovery against real installed distributions.

Each test writes a distribution as pip would leave it (``NAME-VERSION.dist-info`` with
METADATA and entry_points.txt, beside its module) into a directory put on PYTHONPATH,
and runs the real ``hpo-run``: importlib.metadata finds it exactly as an installed
plugin, with no pip run and nothing left in the project's environment.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from cli_testutil import VENV_BIN, from_a_terminal, run_exe, write_spec, zdt_spec

TRAINER = '''\
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.plugins.function import FunctionTrainer


@hookimpl
def dnnp_hpo_trainers():
    return {NAMES}
'''


def distribution(site: Path, name: str, entry_points: dict[str, str], module: str | None = None,
                 source: str = "") -> Path:
    """An installed distribution ``name`` in ``site``: its entry points in the dnnp_hpo group,
    and, if given, a module ``module`` with ``source``."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[dnnp_hpo]\n{lines}")
    if module:
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return site


def hpo_run_with(site: Path, *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None):
    """The real hpo-run with the distributions in ``site`` installed (first on PYTHONPATH)."""
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return run_exe([str(VENV_BIN / "hpo-run"), *args], cwd=cwd, timeout=timeout,
                   env={"PYTHONPATH": path, "COLUMNS": "200", **(env or {})})


def test_a_plugin_named_like_a_builtin_is_loaded_and_listed(tmp_path):
    # pluggy's own loader drops an entry point whose name is taken: this one would vanish.
    site = distribution(tmp_path / "site", "mycode-hpo", {"records": "mycode_plugin"}, "mycode_plugin",
                        TRAINER.replace("{NAMES}", '{"mycode": FunctionTrainer}'))
    listed = hpo_run_with(site, "--list-plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if " mycode " in line)
    assert "mycode-hpo" in row
    # and the built-in observer of that entry-point name is still there: it writes pop.csv
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=0))
    done = hpo_run_with(site, str(spec), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "pop.csv").exists()


def test_two_distributions_registering_one_name_are_one_line_and_exit_2(tmp_path):
    site = distribution(tmp_path / "site", "mycode-hpo", {"mycode": "mycode_plugin"}, "mycode_plugin",
                        TRAINER.replace("{NAMES}", '{"function": FunctionTrainer}'))
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run"))
    for args in (["--list-plugins"], [str(spec)], [str(spec), "--dry-run"]):
        done = hpo_run_with(site, *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines() == [(
            "hpo-run: two plugins register the trainer 'function': dnnp-hpo and mycode-hpo; "
            "uninstall one of them")], args
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_plugin_that_fails_to_import_is_one_line_and_exit_2(tmp_path):
    site = distribution(tmp_path / "site", "broken-hpo", {"broken": "broken_plugin"}, "broken_plugin",
                        "import a_module_nobody_installed\n")
    done = hpo_run_with(site, "--list-plugins", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [(
        "hpo-run: the plugin 'broken' of broken-hpo (broken_plugin) cannot be imported: "
        "ModuleNotFoundError: No module named 'a_module_nobody_installed'")]


def test_an_entry_point_to_a_missing_module_is_one_line_and_exit_2(tmp_path):
    # a plugin uninstalled by hand, its dist-info left behind
    site = distribution(tmp_path / "site", "gone-hpo", {"gone": "gone_plugin:hooks"})
    done = hpo_run_with(site, "--list-plugins", cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "the plugin 'gone' of gone-hpo (gone_plugin:hooks) cannot be imported" in done.stderr


SWALLOWING = """\
import os, signal

# What a C extension's initialisation does with a Ctrl-C that comes while it imports
# (numpy's PyCapsule_Import): the KeyboardInterrupt is cleared, an ImportError raised.
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):  # the handler runs here
        pass
except KeyboardInterrupt:
    pass
raise ImportError("initialization failed")
"""


def test_a_ctrl_c_that_a_plugins_import_swallowed_is_the_stop_not_the_plugin(tmp_path):
    """hpo-run loads the plugins (torch, TensorFlow with them) in its first seconds: a
    Ctrl-C there that an extension turned into an ImportError said the plugin cannot be
    imported, exit 2, as if it were broken (helper-126).  The signal is real; the plugin
    plays the extension."""
    site = distribution(tmp_path / "site", "slow-hpo", {"slow": "slow_plugin"}, "slow_plugin", SWALLOWING)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    done = run_exe(from_a_terminal([str(VENV_BIN / "hpo-run"), "--list-plugins"]), cwd=tmp_path,
                   env={"PYTHONPATH": path})
    assert (done.returncode, done.stderr) == (130, "hpo-run: interrupted\n"), done.stderr


WHERE = "hpo-run: the plugin 'mycode' of mycode-hpo (mycode_plugin)"
HEADER = "from dnnp_hpo.hookspecs import hookimpl\nfrom dnnp_hpo.plugins.function import FunctionTrainer\n\n"


@pytest.mark.parametrize("source, line", [
    # a misspelt hook name: pluggy registers it and never calls it
    ("@hookimpl\ndef dnnp_hpo_trainer():\n    return {'mycode': FunctionTrainer}\n",
     (f"{WHERE}: dnnp_hpo_trainer is decorated with @hookimpl but is no hook of dnnp-hpo "
     "(did you mean dnnp_hpo_trainers?); the hooks are in the module dnnp_hpo.hookspecs (core/hookspecs.py in its repository)")),
    # the hook's own name without @hookimpl: pluggy does not see it
    ("def dnnp_hpo_trainers():\n    return {'mycode': FunctionTrainer}\n",
     (f"{WHERE}: dnnp_hpo_trainers is not decorated with @hookimpl (from dnnp_hpo.hookspecs import hookimpl), "
     "so dnnp-hpo would never call it")),
    ("def dnnp_hpo_evaluation_finishd(run, evaluation):\n    pass\n",
     (f"{WHERE}: dnnp_hpo_evaluation_finishd is named like a hook but is no hook of dnnp-hpo "
     "(did you mean dnnp_hpo_evaluation_finished?); the hooks are in the module dnnp_hpo.hookspecs (core/hookspecs.py in its repository)")),
    # an argument the hook does not pass: pluggy's message was three lines
    ("@hookimpl\ndef dnnp_hpo_evaluation_finished(run, evalution):\n    pass\n",
     (f"{WHERE} cannot be registered: dnnp_hpo_evaluation_finished(run, evalution) takes argument(s) "
     "{'evalution'} that the hook dnnp_hpo_evaluation_finished does not pass (it passes: run, evaluation)")),
], ids=["misspelt-hook", "no-hookimpl", "misspelt-undecorated", "wrong-argument"])
def test_a_hook_pluggy_would_ignore_or_refuse_is_one_line_and_exit_2(tmp_path, source, line):
    site = distribution(tmp_path / "site", "mycode-hpo", {"mycode": "mycode_plugin"}, "mycode_plugin",
                        HEADER + source)
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run"))
    for args in (["--list-plugins"], [str(spec), "--dry-run"]):
        done = hpo_run_with(site, *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines() == [line], args
    assert not (tmp_path / "run").exists()


EXPECTED = "expected a mapping of trainer names to attrs classes"


@pytest.mark.parametrize("body, line", [
    ("    raise RuntimeError('no licence\\nfor mycode')\n",
     f"{WHERE}: dnnp_hpo_trainers() raised RuntimeError: no licence for mycode ({EXPECTED})"),
    ("    return [FunctionTrainer]\n",
     f"{WHERE}: dnnp_hpo_trainers() returned [<class 'dnnp_hpo.plugins.function.FunctionTrainer'>]: {EXPECTED}"),
    ("    return {'mycode': FunctionTrainer(callable='dnnp_hpo.problems:zdt1')}\n",
     (f"{WHERE}: dnnp_hpo_trainers() registers 'mycode' as FunctionTrainer(callable='dnnp_hpo.problems:zdt1'): "
     f"{EXPECTED} (the class itself, decorated with @attrs.define or @attrs.frozen)")),
    ("    return {'mycode': dict}\n",
     (f"{WHERE}: dnnp_hpo_trainers() registers 'mycode' as <class 'dict'>: {EXPECTED} "
     "(the class itself, decorated with @attrs.define or @attrs.frozen)")),
    ("    return {3: FunctionTrainer}\n", f"{WHERE}: dnnp_hpo_trainers() returned the name 3: {EXPECTED}"),
], ids=["raises", "list", "instance", "not-attrs", "name-not-str"])
def test_a_registration_hook_that_raises_or_returns_the_wrong_thing_is_one_line_and_exit_2(tmp_path, body, line):
    site = distribution(tmp_path / "site", "mycode-hpo", {"mycode": "mycode_plugin"}, "mycode_plugin",
                        f"{HEADER}@hookimpl\ndef dnnp_hpo_trainers():\n{body}")
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run"))
    for args in (["--list-plugins"], [str(spec)]):
        done = hpo_run_with(site, *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines() == [line], args
    assert not (tmp_path / "run").exists()


CHECK_ONLY = """
import sys
from dnnp_hpo import cli
status = cli.main(sys.argv[1:])
print("imported:", ",".join(sorted(m for m in ("distributed", "parsl", "pandas") if m in sys.modules)))
sys.exit(status)
"""


def test_checking_a_spec_imports_no_launch_engine(tmp_path: Path) -> None:
    """hpo-run --dry-run loads every installed plugin (nsga2-async among them) and checks a
    spec of each optimizer without importing Dask's distributed, Parsl or pandas: they cost
    0.4 s of CPU at each refused spec, and are imported once a run launches on them."""
    for optimizer in ({"plugin": "nsga2", "pop_size": 4, "generations": 1},
                      {"plugin": "nsga2-async", "pop_size": 4, "max_births": 8}):
        spec = write_spec(tmp_path / "s.yaml", {**zdt_spec(tmp_path / "run"), "optimizer": optimizer})
        done = run_exe([str(VENV_BIN / "python"), "-c", CHECK_ONLY, str(spec), "--dry-run"], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "imported: ", done.stdout
