"""Plugin mistakes a reviewer made while writing a trainer by following the docs.

Each plugin is a real installed distribution (test_registry.distribution) run by the real
hpo-run console script.
"""

from __future__ import annotations

from cli_testutil import write_spec, zdt_spec
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
