"""A raw spec mapping structured into attrs classes, every user error reported with its key path.

:func:`make_converter` builds the cattrs converter: strict scalars (a quoted number only
as YAML 1.2 writes it, ``"3"`` but not ``"3.0"`` for a whole number, no ``true`` for a
number), unknown keys refused, and plugin blocks (``trainer``, ``optimizer``,
``launcher``, each ``space`` entry) structured into the class their plugin registered.
:func:`first_error` turns what cattrs raises into one key path and one message
(``space.rcut.init: ...``, with "did you mean" for a misspelt key).
Separate from core/spec.py because it knows no spec class: it structures whatever attrs
class it is given, and the spec's classes only use it.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from dnnp_hpo.constraints import Constraint, parse_constraint
from dnnp_hpo.errors import Invalid, SpecError, shortened, yaml_shown
from dnnp_hpo.hookspecs import Launcher, Optimizer, ParameterType, Trainer
from dnnp_hpo.registry import Registry
from dnnp_hpo.specfile import YAML12_FLOAT, YAML12_INT


def _plugin_hook(registry: Registry, kind: str, converter: cattrs.Converter):
    def structure(block: Any, _type: Any) -> Any:
        if not isinstance(block, Mapping) or "plugin" not in block:
            raise Invalid("expected a mapping with a 'plugin' key")
        settings = {k: v for k, v in block.items() if k != "plugin"}
        return _structure_component(registry, kind, block["plugin"], "plugin", settings, converter)

    return structure


def _space_hook(registry: Registry, converter: cattrs.Converter):
    def structure(block: Any, _type: Any) -> Any:
        if not isinstance(block, Mapping) or "type" not in block:
            raise Invalid("expected a mapping with a 'type' key (float, int, choice, ...)")
        settings = {k: v for k, v in block.items() if k != "type"}
        return _structure_component(registry, "parameter_types", block["type"], "type", settings, converter)

    return structure


def _structure_component(registry: Registry, kind: str, name: Any, key: str, settings: Mapping[str, Any],
                         converter: cattrs.Converter) -> Any:
    """``settings`` structured into the class registered as ``name``; an unknown key in them
    learns the keys of the other components of ``kind``, for :func:`_did_you_mean` to say
    whose key it is (``generations`` under nsga2-async is nsga2's)."""
    cls = registry.lookup(kind, name, key)
    try:
        return converter.structure(settings, cls)
    except ClassValidationError as exc:
        for error in exc.exceptions:
            if isinstance(error, ForbiddenExtraKeysError) and error.cl is cls:
                error.component = name
                error.siblings = {other: [a.name for a in attrs.fields(registered.cls)]
                                  for other, registered in registry.components[kind].items()
                                  if other != name and attrs.has(registered.cls)}
        raise


def _got(value: Any) -> str:
    """A value as a message shows it: YAML's null, which an empty value is (`seed:` or
    `--set seed=`), in YAML's word, not Python's None (helper-82); a date or !!binary
    data as YAML has them, not datetime.date(2020, 1, 1) (helper-110)."""
    return repr(value) if isinstance(value, (str, int, float, list, dict)) else yaml_shown(value)


def _strict_float(value: Any, _type: Any) -> float:
    # The spec's YAML reads 1e-3 as a number (SpecLoader); a number quoted as a string
    # ('1e-3') is still accepted where a float is expected, written as YAML 1.2 writes
    # numbers: float() also reads '1_0' (10.0), ' 1.5' or '١٢', which quoting made text.
    # Booleans are refused.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid(f"expected a number, got {_got(value)}")
    try:
        number = float(value)
    except ValueError:
        raise Invalid(f"expected a number, got {shortened(value) if isinstance(value, str) else repr(value)}") from None
    except OverflowError:  # a whole number beyond any float
        raise Invalid(f"expected a finite number, got a whole number of {len(str(abs(value)))} digits") from None
    if isinstance(value, str) and not (YAML12_INT.fullmatch(value) or YAML12_FLOAT.fullmatch(value)):
        raise Invalid(f"expected a number, got {shortened(value)} (quoted: text to YAML, {number} to Python's "
                      "float()): write the number unquoted, in decimal (10, 0.5, 1e-3)")
    if not math.isfinite(number):
        raise Invalid(f"expected a finite number, got {_got(value)}")
    return number


def spec_int(value: Any) -> int | None:
    """``value`` as a spec's whole number reads (an int, not a bool), None if it is none.
    A quoted whole number ('20') is taken as YAML 1.2 writes it, as a quoted float is
    (docs/spec.md): --set 'optimizer.pop_size="20"' was refused while "0.3" passed."""
    if isinstance(value, str) and YAML12_INT.fullmatch(value) and len(value) <= _MAX_QUOTED_DIGITS:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _strict_int(value: Any, _type: Any) -> int:
    whole = spec_int(value)
    if whole is None:
        raise Invalid(f"expected a whole number, got {_got(value)}")
    return whole


#: the longest quoted whole number read (int() of a few thousand digits raises ValueError)
_MAX_QUOTED_DIGITS = 100


def _strict_str(value: Any, _type: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {_got(value)}")
    return value


def _strict_bool(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {_got(value)}")
    return value


def _located(step: str, structure: Any) -> Any:
    """Run ``structure()``; a user error inside comes out as a SpecError under ``step``."""
    try:
        return structure()
    except Exception as exc:  # noqa: BLE001 - first_error re-raises what is not a user error
        path, message = first_error(exc)
        raise SpecError(message, ".".join((step, *path))) from None


def _mapping_hook(converter: cattrs.Converter):
    """dict[K, V]: refuse what is not a mapping (a list, a string) with a message."""

    def factory(cls: Any, _conv: Any) -> Any:
        args = typing.get_args(cls) or (Any, Any)

        def structure(value: Any, _type: Any) -> Any:
            if not isinstance(value, Mapping):
                raise Invalid(f"expected a mapping, got {_got(value)}")
            return {
                _located(str(k), lambda k=k: converter.structure(k, args[0])):
                _located(str(k), lambda k=k, v=v: converter.structure(v, args[1]))
                for k, v in value.items()
            }

        return structure

    return factory


def _tuple_hook(converter: cattrs.Converter):
    """tuple[X, ...] and tuple[X, Y]: a YAML list, never a string or a mapping."""

    def factory(cls: Any, _conv: Any) -> Any:
        args = typing.get_args(cls)
        homogeneous = not args or (len(args) == 2 and args[1] is Ellipsis)
        item = (args[0] if args else Any) if homogeneous else None

        def structure(value: Any, _type: Any) -> Any:
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
                expected = "a list" if homogeneous else f"a list of {len(args)} values"
                raise Invalid(f"expected {expected}, got {_got(value)}")
            if not homogeneous and len(value) != len(args):
                raise Invalid(f"expected a list of {len(args)} values, got {list(value)!r}")
            types = [item] * len(value) if homogeneous else list(args)
            return tuple(
                _located(str(i), lambda v=v, t=t: converter.structure(v, t))
                for i, (v, t) in enumerate(zip(value, types))
            )

        return structure

    return factory


def _attrs_hook(converter: cattrs.Converter):
    """attrs classes (Objective, Report, plugin settings): the block must be a mapping."""

    def factory(cls: Any, _conv: Any) -> Any:
        inner = make_dict_structure_fn(cls, converter)

        def structure(value: Any, _type: Any) -> Any:
            if not isinstance(value, Mapping):
                raise Invalid(f"expected a mapping of the keys {', '.join(a.name for a in attrs.fields(cls))}, "
                              f"got {_got(value)}")
            try:
                return inner(value, cls)
            except ClassValidationError as exc:
                # The keys the block has, so that "did you mean" can say a key it offers
                # is given too (a block with sigma and sgima: delete one, not rename).
                for error in exc.exceptions:
                    if isinstance(error, ForbiddenExtraKeysError):
                        error.present = frozenset(map(str, value))
                raise

        return structure

    return factory


def make_converter(registry: Registry) -> cattrs.Converter:
    """A converter that refuses unknown keys and resolves plugin blocks by name."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(Constraint, lambda v, _t: parse_constraint(v))
    converter.register_structure_hook_factory(
        lambda t: isinstance(t, type) and attrs.has(t) and t is not Constraint, _attrs_hook(converter)
    )
    converter.register_structure_hook_factory(
        lambda t: typing.get_origin(t) in (dict, Mapping), _mapping_hook(converter)
    )
    converter.register_structure_hook_factory(lambda t: typing.get_origin(t) is tuple, _tuple_hook(converter))
    for kind, protocol in (("trainers", Trainer), ("optimizers", Optimizer), ("launchers", Launcher)):
        converter.register_structure_hook_func(
            lambda t, p=protocol: t is p, _plugin_hook(registry, kind, converter)
        )
    converter.register_structure_hook_func(
        lambda t: t is ParameterType, _space_hook(registry, converter)
    )
    return converter


def first_error(exc: BaseException, path: tuple[str, ...] = (),
                 missing: tuple[str, ...] = (), owner: Any = None) -> tuple[tuple[str, ...], str]:
    """Walk cattrs' exception groups to the first leaf: its key path and message.

    ``missing``: the required keys the same block lacks, the likeliest meaning of an
    unknown key beside them.  ``owner``: the attrs class of the block the leaf was
    raised in, whose field an attrs validator names (:func:`_refused_field`)."""
    if isinstance(exc, (ClassValidationError, IterableValidationError)) or (
        isinstance(exc, BaseExceptionGroup) and not isinstance(exc, ForbiddenExtraKeysError)
    ):
        # An unknown key first: a misspelt required key is also reported missing, and
        # only the unknown one shows the user which line to fix.
        inner = next((e for e in exc.exceptions if isinstance(e, ForbiddenExtraKeysError)), exc.exceptions[0])
        absent = tuple(name for e in exc.exceptions if isinstance(e, KeyError) for name in _note_keys(e))
        step = _note_keys(inner)[-1:]
        return first_error(inner, path + step, absent, getattr(exc, "cl", None) if not step else None)
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        expected = f" (expected: {', '.join(known)})" if known else ""
        present = frozenset(getattr(exc, "present", ()))
        hints = _did_you_mean(exc.extra_fields, known, missing, present,
                              getattr(exc, "component", ""), getattr(exc, "siblings", {}))
        return path, f"unknown key(s): {hints}{expected}"
    if isinstance(exc, SpecError):
        return path + tuple(k for k in exc.key.split(".") if k), exc.message
    if isinstance(exc, Invalid) and exc.key:
        return path + tuple(exc.key.split(".")), str(exc)
    if isinstance(exc, KeyError) and _missing_key(exc):
        return path, "required key is missing"
    if isinstance(exc, Invalid):
        return path, str(exc) or type(exc).__name__
    if isinstance(exc, (TypeError, ValueError)):
        field, message = _refused_field(exc, owner)
        return path + field, message
    raise exc  # not a user error: a bug, let the traceback through


def _refused_field(exc: TypeError | ValueError, owner: Any) -> tuple[tuple[str, ...], str]:
    """The field of ``owner`` whose validator raised ``exc`` (none if that is not known), and
    the message, for a validator that raised a plain ValueError or TypeError: attrs' own
    (``attrs.validators.in_``, ``gt``...) or a plugin's.

    attrs' validators raise ``ValueError(message, attribute, ...)`` (``in_``,
    ``instance_of``, ``matches_re``: ``str()`` of that is the tuple of the arguments) or a
    message alone (``gt``, ``max_len``, ``or_``).  Every attrs validator is called as
    ``validator(instance, attribute, value)``: the field is the ``attrs.Attribute`` in the
    exception's arguments, else the one among the arguments of the innermost frame of its
    traceback that has one (the validator, or one that called the helper that raised)."""
    args = exc.args
    message = args[0] if len(args) > 1 and isinstance(args[0], str) else str(exc)
    message = " ".join(message.split()) or type(exc).__name__
    if owner is None or not attrs.has(owner):
        return (), message
    fields = attrs.fields_dict(owner)
    attribute = next((a for a in args if isinstance(a, attrs.Attribute)), None)
    if attribute is None:
        attribute = _validator_attribute(exc.__traceback__)
    if attribute is None or fields.get(attribute.name) is not attribute:
        return (), message
    return (attribute.name,), message


def _validator_attribute(tb: Any) -> Any:
    """The ``attrs.Attribute`` passed to the innermost frame of ``tb`` that was passed one."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        code = frame.f_code
        names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        found = [frame.f_locals.get(n) for n in names if isinstance(frame.f_locals.get(n), attrs.Attribute)]
        if found:
            return found[0]
    return None


def _missing_key(exc: KeyError) -> bool:
    """Whether ``exc`` is cattrs' own "the block lacks this required key": raised for the
    attribute its note names, with that key.  Any other KeyError (a plugin's
    ``__attrs_post_init__`` reading ``self.settings["numb_steps"]``) is a bug to be shown
    with its traceback, not a key the user left out."""
    return any(isinstance(note, AttributeValidationNote) and exc.args == (note.name,)
               for note in getattr(exc, "__notes__", []))


def _note_keys(exc: BaseException) -> tuple[str, ...]:
    """The keys (or list indices) cattrs' notes on ``exc`` name, in order."""
    keys: list[str] = []
    for note in getattr(exc, "__notes__", []):
        # cattrs also adds plain-string notes; only its note objects carry the key.
        if isinstance(note, AttributeValidationNote):
            keys.append(str(note.name))
        elif isinstance(note, IterableValidationNote):
            keys.append(str(note.index))
    return tuple(keys)


def _did_you_mean(unknown: typing.Iterable[Any], known: list[str], missing: typing.Sequence[str] = (),
                  present: typing.Collection[str] = (), component: str = "",
                  siblings: Mapping[str, typing.Collection[str]] | None = None) -> str:
    """The unknown keys, each with the known key closest to it if any:
    ``objectves (did you mean objectives?), colour``.

    The key offered is looked for, in this order: among the required keys the block
    lacks (the likelier meaning: ``objectves`` beside no ``objectives``); then among the
    keys the unknown one begins, whole words before an ``_`` (``workers`` is the start of
    ``workers_per_node``, which difflib ranks below ``worker_init``); then the closest of
    all the keys the block takes, one it lacks rather than one it has (``crossover_rate``
    beside ``crossover_eta`` means the absent ``crossover_prob``: deleting it, as "given
    too" would suggest, would drop the probability meant) unless the one it has is much
    the closer (``worker`` beside ``workers`` meant ``workers``, not ``min_workers``).  A
    key the block has is offered saying that it is given too: the fix is then to delete
    one of the two, not to rename.

    Before that closest key, a key of another component of the same kind (``siblings``,
    by name, of the block's ``component``) is said to be that one's, with the keys the
    block's component has that it lacks: ``generations`` under nsga2-async is nsga2's, and
    nsga2-async has ``max_births``; the closest key (``variation``) was no help.

    Each unknown key is shown quoted when it holds more than letters, digits, ``_``,
    ``-`` and ``.``: ``'seed '`` (a trailing space) is not the ``seed`` it is offered."""
    named = []
    for key in sorted(map(str, unknown)):
        shown = key if len(key) <= 60 and re.fullmatch(r"[\w.-]+", key) else shortened(key)
        starts = [k for k in known if k.startswith(key + "_")]
        match = difflib.get_close_matches(key, missing, n=1) or difflib.get_close_matches(key, starts, n=1, cutoff=0)
        owners = [] if match else sorted(name for name, keys in (siblings or {}).items() if key in keys)
        if owners:
            named.append(f"{shown} {_belongs_elsewhere(owners, component, known, siblings)}")
            continue
        match = match or _closest_preferring_absent(key, known, present)
        if not match:
            named.append(shown)
        elif match[0] in present:
            named.append(f"{shown} (did you mean {match[0]}? it is given too)")
        else:
            named.append(f"{shown} (did you mean {match[0]}?)")
    return ", ".join(named)


#: most keys a component is said to have that the owner of a key lacks (parsl has 25 dask lacks)
_OWN_KEYS_SHOWN = 3


def _belongs_elsewhere(owners: list[str], component: str, known: list[str],
                       siblings: Mapping[str, typing.Collection[str]]) -> str:
    """``(a key of nsga2, not nsga2-async, which has max_births, init_pop_size)``: whose key
    an unknown one is, and the keys of the block's component that none of those has."""
    own = [k for k in known if not any(k in siblings[owner] for owner in owners)]
    # Not when they are all its keys: the line's "(expected: ...)" lists them already.
    which = f", which has {', '.join(own)}" if 0 < len(own) <= _OWN_KEYS_SHOWN and own != known else ""
    return f"(a key of {', '.join(owners)}, not {component}{which})"


#: how much closer (difflib's ratio) a key the block has must be than the closest one it
#: lacks to be offered instead: worker -> workers 0.92 against min_workers 0.71, while
#: crossover_rate -> crossover_eta 0.81 against crossover_prob 0.79 is no reason
_GIVEN_MARGIN = 0.1


def _closest_preferring_absent(key: str, known: list[str], present: typing.Collection[str]) -> list[str]:
    """[the key offered for ``key``] or []: see :func:`_did_you_mean`."""

    def closest(candidates: list[str]) -> tuple[float, str | None]:
        match = difflib.get_close_matches(key, candidates, n=1)
        return (difflib.SequenceMatcher(None, key, match[0]).ratio(), match[0]) if match else (0.0, None)

    absent_score, absent = closest([k for k in known if k not in present])
    given_score, given = closest([k for k in known if k in present])
    if given is not None and (absent is None or given_score >= absent_score + _GIVEN_MARGIN):
        return [given]
    return [absent] if absent is not None else []
