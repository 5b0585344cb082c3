"""Finding plugins: the ``dnnp_hpo`` entry-point group, loaded through pluggy."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from typing import Any

import attrs
import pluggy

from dnnp_hpo import hookspecs
from dnnp_hpo.errors import PluginError, SpecError

KINDS = ("parameter_types", "trainers", "launchers", "optimizers")


def kind_name(kind: str) -> str:
    """One component of a kind, as messages say it: ``parameter_types`` -> ``parameter type``."""
    return kind[:-1].replace("_", " ")


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
            raise SpecError(f"unknown {kind_name(kind)} {name!r} (expected one of: {known})", key)
        return table[name].cls

    @property
    def hook(self) -> Any:
        return self.manager.hook


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else "an unknown distribution"


def _register(manager: pluggy.PluginManager, plugin: object, name: str | None, where: str) -> None:
    try:
        manager.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"{where} cannot be registered: {exc}") from None


def load_registry(extra_plugins: tuple[object, ...] = ()) -> Registry:
    """Load every plugin of the entry-point group (and ``extra_plugins``, for tests).

    Entry points are loaded here rather than by pluggy's ``load_setuptools_entrypoints``,
    which skips, without a word, an entry point whose name another one already took:
    a plugin named ``deepmd`` or ``progress`` would vanish, or a built-in would.  Each
    is registered under ``distribution:name`` instead.  A plugin that cannot be imported,
    and a name two distributions register, are a PluginError (one line, exit 2), for
    every command: an observer that silently failed to load could lose records.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    dists: dict[int, str] = {}
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        dist = _distribution(ep)
        where = f"the plugin {ep.name!r} of {dist} ({ep.value})"
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - whatever a plugin's import raises, one line
            raise PluginError(f"{where} cannot be imported: {type(exc).__name__}: {exc}") from None
        if manager.is_registered(plugin):  # two entry points naming one module
            continue
        _register(manager, plugin, f"{dist}:{ep.name}", where)
        dists[id(plugin)] = dist
    for plugin in extra_plugins:
        _register(manager, plugin, None, f"the plugin {plugin!r}")
    components: dict[str, dict[str, Registered]] = {}
    for kind in KINDS:
        table: dict[str, Registered] = {}
        # Call each implementation on its own to know which distribution said what.
        for impl in getattr(manager.hook, f"dnnp_hpo_{kind}").get_hookimpls():
            dist = dists.get(id(impl.plugin), impl.plugin_name)
            for name, cls in (impl.function() or {}).items():
                if name in table:
                    both = " and ".join(sorted((table[name].distribution, dist)))
                    raise PluginError(f"two plugins register the {kind_name(kind)} {name!r}: "
                                      f"{both}; uninstall one of them")
                table[name] = Registered(name, cls, dist)
        components[kind] = table
    return Registry(manager, components)
