"""NequIP support: the ``nequip`` trainer plugin, the worked example of a second DNNP code.

Modules: :mod:`.template` (the ``$name`` placeholders of :mod:`dnnp_hpo.template`, in YAML),
:mod:`.metrics` (validation errors from Lightning's ``metrics.csv`` by column name),
:mod:`.trainer` (the plugin).  It is a "stub" in the sense of the smallest faithful
adapter: it fakes nothing, and trains real NequIP models when ``nequip`` is installed
(``pip install "dnnp-hpo[nequip]"``).  docs/nequip.md describes every ``trainer:`` key;
docs/writing-a-trainer-plugin.md walks through this package as the example of a plugin.
"""

from __future__ import annotations

from dnnp_hpo.hookspecs import hookimpl

from .trainer import NequipTrainer


@hookimpl
def dnnp_hpo_trainers() -> dict[str, type]:
    """Register ``trainer: {plugin: nequip, ...}``."""
    return {"nequip": NequipTrainer}
