"""Finding plugins: the ``dnnp_hpo`` entry-point group, loaded through pluggy."""

from __future__ import annotations

import difflib
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pluggy

from dnnp_hpo import hookspecs
from dnnp_hpo.entry import stop_received
from dnnp_hpo.errors import PluginError, SpecError, described, shown, yaml_shown

KINDS = ("parameter_types", "trainers", "launchers", "optimizers")
#: the protocol of core/hookspecs.py the class registered for each kind implements
PROTOCOLS = {"parameter_types": hookspecs.ParameterType, "trainers": hookspecs.Trainer,
             "launchers": hookspecs.Launcher, "optimizers": hookspecs.Optimizer}
PREFIX = "dnnp_hpo_"  #: every hook's name begins so
#: the names of the hooks of core/hookspecs.py
HOOKS = tuple(sorted(name for name in vars(hookspecs) if name.startswith(PREFIX)))


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
            close = difflib.get_close_matches(name, table, n=1) if isinstance(name, str) else []
            hint = f"did you mean {close[0]}? " if close else ""
            # A plugin of one's own that is not found is most often not installed in this
            # environment, or installed without its entry point (a plugin author's walk)
            own = ("; a plugin of your own must be installed in this Python environment with an entry point "
                   f"in the '{hookspecs.PROJECT}' group (hpo-run --list-plugins shows what is found)"
                   if isinstance(name, str) and not close else "")
            given = repr(name) if isinstance(name, str) else yaml_shown(name)
            raise SpecError(f"unknown {kind_name(kind)} {given} ({hint}expected one of: {known}){own}", key)
        return table[name].cls

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def versions(self, components: Iterable[object]) -> dict[str, str]:
        """dnnp-hpo's version and that of each distribution that provides one of
        ``components`` (a run's trainer, optimizer and launcher), by name: what filled in
        the spec's defaults, which a resume must find the same."""
        kinds = [type(c) for c in components]
        names = {"dnnp-hpo"} | {registered.distribution for kind in KINDS for registered in self.components[kind].values()
                                if registered.cls in kinds}
        versions = {name: _version(name) for name in sorted(names)}
        return {name: version for name, version in versions.items() if version is not None}


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:  # a plugin registered by a test, not installed
        return None


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else "an unknown distribution"


def _check_hook_names(manager: pluggy.PluginManager, plugin: object, where: str) -> None:
    """PluginError for what pluggy would silently ignore: a ``dnnp_hpo_*`` function that is
    no hook of dnnp-hpo (a misspelt hook name), or one not decorated with ``@hookimpl``."""
    for attr in sorted(dir(plugin)):
        if not attr.startswith(PREFIX):
            continue
        if not callable(getattr(plugin, attr, None)):
            continue
        decorated = manager.parse_hookimpl_opts(plugin, attr) is not None
        if attr not in HOOKS:
            close = difflib.get_close_matches(attr, HOOKS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            what = "is decorated with @hookimpl but" if decorated else "is named like a hook but"
            raise PluginError(f"{where}: {attr} {what} is no hook of dnnp-hpo{hint}; "
                              f"the hooks are in the module dnnp_hpo.hookspecs (core/hookspecs.py in its repository)")
        if not decorated:
            raise PluginError(f"{where}: {attr} is not decorated with @hookimpl "
                              "(from dnnp_hpo.hookspecs import hookimpl), so dnnp-hpo would never call it")


def _validation_problem(manager: pluggy.PluginManager, exc: Exception) -> str:
    """pluggy's message (three lines for arguments the hook does not pass) as one line."""
    text = str(exc)
    match = re.search(r"for hook '(\w+)'\s+hookimpl definition: (.*?)\s+Argument\(s\) (\{.*?\}) are declared",
                      text, re.DOTALL)
    if match is None:
        return " ".join(text.split())
    hook, definition, arguments = match.groups()
    spec = getattr(getattr(manager.hook, hook, None), "spec", None)
    passes = ", ".join(spec.argnames) if spec is not None and spec.argnames else "no arguments"
    return (f"{definition} takes argument(s) {arguments} that the hook {hook} does not pass "
            f"(it passes: {passes})")


def _register(manager: pluggy.PluginManager, plugin: object, name: str | None, where: str) -> None:
    _check_hook_names(manager, plugin, where)
    try:
        manager.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"{where} cannot be registered: {_validation_problem(manager, exc)}") from None
    if not manager.get_hookcallers(plugin):
        # An entry point naming the package instead of its module of hooks (mycode = "mycode"
        # for "mycode.plugin"), or a function: registered, it did nothing, and the spec's
        # trainer was then "unknown ... must be installed with an entry point" (helper-128).
        raise PluginError(f"{where} implements no hook of dnnp-hpo: expected the entry point to name a module "
                          "(or an object) holding @hookimpl functions such as dnnp_hpo_trainers")


def protocol_methods(kind: str) -> tuple[str, ...]:
    """The methods a registered class of ``kind`` must have: those of its protocol (its
    properties left out: an attrs field may provide one), but of a trainer ``prepare``
    alone.  A trainer's ``render`` and ``train`` are called on what ``prepare`` returns,
    which may be another class (checked then, by the driver), so a settings class
    without them is a working plugin."""
    if kind == "trainers":
        return ("prepare",)
    protocol = PROTOCOLS[kind]
    return tuple(name for name, value in vars(protocol).items()
                 if not name.startswith("_") and callable(value))


def _registered(kind: str, impl: Any, where: str) -> Mapping[str, type]:
    """What the registration hook ``impl`` returns, checked: PluginError (one line naming the
    plugin) if it raises or returns anything but names mapped to attrs classes that have
    the methods of their protocol."""
    call = f"{PREFIX}{kind}()"
    expected = f"expected a mapping of {kind_name(kind)} names to attrs classes"
    try:
        table = impl.function()
    except Exception as exc:  # noqa: BLE001 - whatever a plugin's hook raises, one line
        raise PluginError(f"{where}: {call} raised {described(exc)} ({expected})") from None
    if table is None:
        # Most often a forgotten ``return`` (``def dnnp_hpo_trainers(): {"x": X}``): refused
        # rather than read as "nothing", which left the plugin silently missing.  A plugin
        # with nothing to register (an optional dependency missing) returns ``{}``.
        raise PluginError(f"{where}: {call} returned None (did it forget 'return'?): {expected}; "
                          "return {} to register nothing")
    if not isinstance(table, Mapping):
        raise PluginError(f"{where}: {call} returned {shown(table)}: {expected}")
    methods = protocol_methods(kind)
    for name, cls in table.items():
        if not isinstance(name, str) or not name:
            raise PluginError(f"{where}: {call} returned the name {shown(name)}: {expected}")
        if not (isinstance(cls, type) and attrs.has(cls)):
            raise PluginError(f"{where}: {call} registers {name!r} as {shown(cls)}: {expected} "
                              "(the class itself, decorated with @attrs.define or @attrs.frozen)")
        lacking = [m for m in methods if not callable(getattr(cls, m, None))]
        if lacking:
            protocol = PROTOCOLS[kind].__name__
            raise PluginError(f"{where}: {call} registers {name!r} as {cls.__name__}, which has no method "
                              f"{', '.join(lacking)}: expected a class with the methods of the {protocol} "
                              f"protocol ({', '.join(methods)}; see the module dnnp_hpo.hookspecs)")
    return table


def load_registry(extra_plugins: tuple[object, ...] = ()) -> Registry:
    """Load every plugin of the entry-point group (and ``extra_plugins``, for tests).

    Entry points are loaded here rather than by pluggy's ``load_setuptools_entrypoints``,
    which skips, without a word, an entry point whose name another one already took:
    a plugin named ``deepmd`` or ``progress`` would vanish, or a built-in would.  Each
    is registered under ``distribution:name`` instead.  A plugin that cannot be imported,
    a name two distributions register (or one registers twice), an entry point that
    implements no hook (the package named instead of its module of hooks), a ``dnnp_hpo_*`` function
    that is no hook (a misspelt name) or lacks ``@hookimpl``, a hook implementation taking
    arguments its hook does not pass, and a registration hook that raises or returns
    anything but ``{name: attrs class}`` with the methods of its protocol
    (:func:`protocol_methods`; None too, a forgotten ``return``: ``{}`` registers nothing)
    are a PluginError (one line naming the plugin, exit 2), for every hpo-run command: an observer
    that silently failed to load could lose records.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    dists: dict[int, str] = {}
    wheres: dict[int, str] = {}
    entries: dict[int, str] = {}  #: plugin -> its entry point, ``'name' (module)``
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        dist = _distribution(ep)
        where = f"the plugin {ep.name!r} of {dist} ({ep.value})"
        try:
            plugin = ep.load()
        except Exception as exc:  # whatever a plugin's import raises: one line
            if isinstance(exc, ImportError) and stop_received():
                raise  # a Ctrl-C that the import of a C extension (torch, TensorFlow) swallowed
            raise PluginError(f"{where} cannot be imported: {type(exc).__name__}: {exc}") from None
        if manager.is_registered(plugin):  # two entry points naming one module
            continue
        _register(manager, plugin, f"{dist}:{ep.name}", where)
        dists[id(plugin)] = dist
        wheres[id(plugin)] = where
        entries[id(plugin)] = f"{ep.name!r} ({ep.value})"
    for plugin in extra_plugins:
        wheres[id(plugin)] = f"the plugin {shown(plugin)}"
        _register(manager, plugin, None, wheres[id(plugin)])
    components: dict[str, dict[str, Registered]] = {}
    for kind in KINDS:
        table: dict[str, Registered] = {}
        entry: dict[str, str] = {}  #: name -> the entry point that registered it
        # Call each implementation on its own to know which distribution said what.
        for impl in getattr(manager.hook, f"dnnp_hpo_{kind}").get_hookimpls():
            dist = dists.get(id(impl.plugin), impl.plugin_name)
            where = wheres.get(id(impl.plugin), f"the plugin {impl.plugin_name!r}")
            this = entries.get(id(impl.plugin), repr(impl.plugin_name))
            for name, cls in _registered(kind, impl, where).items():
                if name in table and table[name].distribution == dist:
                    # one distribution's bug: uninstalling anything would not help
                    both = " and ".join(sorted((entry[name], this)))
                    raise PluginError(f"{dist} registers the {kind_name(kind)} {name!r} twice, in its "
                                      f"plugins {both}: expected each name registered once")
                if name in table:
                    both = " and ".join(sorted((table[name].distribution, dist)))
                    raise PluginError(f"two plugins register the {kind_name(kind)} {name!r}: "
                                      f"{both}; uninstall one of them")
                table[name] = Registered(name, cls, dist)
                entry[name] = this
        components[kind] = table
    return Registry(manager, components)
