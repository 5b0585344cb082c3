"""Finding plugins: the ``dnnp_hpo`` entry-point group, loaded through pluggy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pluggy

from dnnp_hpo import hookspecs
from dnnp_hpo.errors import SpecError

KINDS = ("parameter_types", "trainers", "launchers", "optimizers")


@attrs.frozen
class Registered:
    """One named component and the distribution that provides it."""

    name: str
    cls: type
    distribution: str


@attrs.frozen
class Registry:
    """Every registered component by kind and name, plus the hook caller for observers."""

    manager: pluggy.PluginManager
    components: Mapping[str, Mapping[str, Registered]]

    def lookup(self, kind: str, name: Any, key: str) -> type:
        """The class registered as ``name``, or a SpecError listing what exists."""
        table = self.components[kind]
        if not isinstance(name, str) or name not in table:
            known = ", ".join(sorted(table)) or "none installed"
            raise SpecError(f"unknown {kind[:-1].replace('_', ' ')} {name!r} (expected one of: {known})", key)
        return table[name].cls

    @property
    def hook(self) -> Any:
        return self.manager.hook


def load_registry(extra_plugins: tuple[object, ...] = ()) -> Registry:
    """Load every plugin of the entry-point group (and ``extra_plugins``, for tests)."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra_plugins:
        manager.register(plugin)
    dists = {id(plugin): dist.project_name for plugin, dist in manager.list_plugin_distinfo()}
    components: dict[str, dict[str, Registered]] = {}
    for kind in KINDS:
        table: dict[str, Registered] = {}
        # Call each implementation on its own to know which distribution said what.
        for impl in getattr(manager.hook, f"dnnp_hpo_{kind}").get_hookimpls():
            for name, cls in (impl.function() or {}).items():
                if name in table:
                    raise RuntimeError(
                        f"two plugins register the {kind[:-1]} {name!r}: "
                        f"{table[name].distribution} and {dists.get(id(impl.plugin), impl.plugin_name)}"
                    )
                dist = dists.get(id(impl.plugin), impl.plugin_name)
                table[name] = Registered(name, cls, dist)
        components[kind] = table
    return Registry(manager, components)
