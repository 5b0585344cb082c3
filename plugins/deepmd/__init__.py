"""DeePMD-kit support: the ``deepmd`` trainer plugin and the ``hpo-demo-data`` dataset.

Modules: :mod:`.template` (``$name`` placeholders rendered as JSON), :mod:`.lcurve`
(fitness from ``lcurve.out`` by column name), :mod:`.inputcheck` (DeePMD-kit's own
argument checker), :mod:`.neighbours` (a fixed ``sel`` too small, measured and told),
:mod:`.backend` (which backend a command trains with), :mod:`.datacheck` and
:mod:`.modelcheck` (the start-up checks of a rendered input's data and model),
:mod:`.trainer` (the plugin), :mod:`.demo_data` (the quickstart's dataset).  docs/deepmd.md describes every ``trainer:`` key.
"""

from __future__ import annotations

from dnnp_hpo.hookspecs import hookimpl

from .neighbours import dnnp_hpo_evaluation_finished  # noqa: F401 - a hook: tells a sel too small
from .trainer import DeepmdTrainer


@hookimpl
def dnnp_hpo_trainers() -> dict[str, type]:
    """Register ``trainer: {plugin: deepmd, ...}``."""
    return {"deepmd": DeepmdTrainer}
