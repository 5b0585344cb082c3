"""A third-party parameter type that lists its values (the optional ``values`` of the
ParameterType protocol) has each one tried at start-up, as a built-in choice has; a type
that does not is tried at the ends and middle of its range."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo.errors import SpecError
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.registry import load_registry
from dnnp_hpo.space import SearchSpace
from dnnp_hpo.spec import load_experiment
from dnnp_hpo.training import sample_params


@attrs.frozen
class Unlisted:
    """``{type: options, options: [...]}``: ``options[floor(gene) % n]``, without saying which."""

    options: tuple[Any, ...]
    sigma: float | None = None

    @property
    def gene_init(self) -> tuple[float, float]:
        return (0.0, float(len(self.options)))

    @property
    def gene_bounds(self) -> tuple[float, float]:
        return self.gene_init

    def decode(self, gene: float) -> Any:
        return self.options[math.floor(gene) % len(self.options)]


@attrs.frozen
class Listed(Unlisted):
    @property
    def values(self) -> tuple[Any, ...]:
        return self.options


class OptionsPlugin:
    @hookimpl
    def dnnp_hpo_parameter_types(self):
        return {"options": Unlisted, "listed-options": Listed}


def _spec(tmp_path, kind: str):
    spec = zdt_spec(tmp_path / "run", n=2)
    # 1 and 2 sit at the ends and middle of the gene range; "many" does not
    spec["space"]["workers"] = {"type": kind, "options": [1, 2, "many"]}
    spec["constraints"] = ["workers < 4"]
    return write_spec(tmp_path / "spec.yaml", spec)


def test_each_listed_value_is_tried_in_the_constraints(tmp_path):
    registry = load_registry(extra_plugins=(OptionsPlugin(),))
    with pytest.raises(SpecError) as error:
        load_experiment(_spec(tmp_path, "listed-options"), registry)
    assert error.value.key == "constraints.0" and "numbers" in error.value.message, str(error.value)
    # Not listed: tried at the gene range's ends and middle (1, 2, 1), so the string is missed.
    experiment, _ = load_experiment(_spec(tmp_path, "options"), registry)
    assert list(experiment.space) == ["x0", "x1", "workers"]


def test_each_listed_value_is_rendered_at_start_up(tmp_path):
    registry = load_registry(extra_plugins=(OptionsPlugin(),))
    spec = zdt_spec(tmp_path / "run", n=2)
    for kind, labels in (("listed-options", ["", "workers=1", "workers=2", "workers='many'"]), ("options", [""])):
        spec["space"]["workers"] = {"type": kind, "options": [1, 2, "many"]}
        experiment, _ = load_experiment(write_spec(tmp_path / f"{kind}.yaml", spec), registry)
        assert [label for _, label in sample_params(SearchSpace(experiment.space))] == labels
