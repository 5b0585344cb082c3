"""The experiment spec: frozen attrs classes, structured from YAML by one cattrs call.

Plugin blocks (``trainer``, ``optimizer``, ``launcher``, each ``space`` entry) are
structured into the class their plugin registered, so every key anywhere in the file is
checked here, once, and reported with its path.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
import yaml
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from dnnp_hpo.constraints import Constraint, parse_constraint
from dnnp_hpo.errors import Invalid, SpecError, shortened, unreadable
from dnnp_hpo.hookspecs import Launcher, Optimizer, ParameterType, Trainer
from dnnp_hpo.paths import expand_path_text
from dnnp_hpo.registry import Registry
from dnnp_hpo.space import check_parameter_name

TOP_LEVEL_KEYS = (
    "name", "seed", "run_dir", "space", "constraints", "objectives",
    "trainer", "optimizer", "launcher", "report",
)


#: most evaluations one run may plan (pop_size, generations, max_births): more would take
#: years of training, and a typo of that size would hang --dry-run building generation 0
MAX_EVALUATIONS = 10_000_000
#: most characters a spec file may hold (a spec is a few kilobytes; /dev/zero is endless)
MAX_SPEC_CHARACTERS = 10_000_000
#: most workers (or workers per node) a launcher may ask for
MAX_WORKERS = 100_000
#: what the OS refuses in a path: longer components (NAME_MAX, in bytes) and paths (PATH_MAX)
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4095
#: most values (keys, items, scalars) a spec may hold with its aliases expanded: a real one
#: holds hundreds; ten aliases nested ten deep hold 10**10 in a file of 1 KB, which every
#: message quoting them, and the journal's copy of the spec, would write out whole
MAX_SPEC_VALUES = 100_000
#: what no key may hold: control characters (a newline split the one-line message)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def at_least(minimum: int):
    """An attrs validator: the field (when set) is ``minimum`` or more."""

    def check(_instance, attribute, value) -> None:
        if value is not None and value < minimum:
            raise Invalid(f"{attribute.name} must be at least {minimum}, got {value}", attribute.name)

    return check


def at_most(maximum: int):
    """An attrs validator: the field (when set) is ``maximum`` or less."""

    def check(_instance, attribute, value) -> None:
        if value is not None and value > maximum:
            raise Invalid(f"{attribute.name} must be at most {maximum:,}, got {value:,}", attribute.name)

    return check


@attrs.frozen
class Objective:
    """One minimised objective; ``name`` picks the trainer metric it takes."""

    name: str = attrs.field(validator=lambda _i, _a, v: _non_empty_name(v))
    unit: str = ""


def _non_empty_name(value: str) -> None:
    if not value.strip():
        raise Invalid("expected a non-empty name", "name")


def _positive_limits(_instance: Any, _attribute: Any, value: dict[str, float]) -> None:
    for name, limit in value.items():
        if not limit > 0:
            raise Invalid("expected a positive limit "
                          f"(an error at or below it is accurate), got {limit}", f"chemical_accuracy.{name}")


@attrs.frozen
class Report:
    """Settings of the final table and of ``hpo-report``."""

    #: objective name -> threshold; a solution is chemically accurate when every
    #: limited objective is at or below its threshold (paper: 0.004 eV/atom, 0.04 eV/A);
    #: one left out keeps the paper's for its unit (dnnp_hpo.front.accuracy_limits)
    chemical_accuracy: dict[str, float] = attrs.field(factory=dict, validator=_positive_limits)


def _default_launcher() -> Any:
    return {"plugin": "dask"}


def _seed_range(_instance: Any, _attribute: Any, value: int) -> None:
    # NumPy seeds (the per-trial training seeds) must be non-negative.
    if value < 0:
        raise SpecError(f"expected a whole number 0 or more, got {value}", "seed")


def _plain_name(_instance: Any, _attribute: Any, value: str) -> None:
    # The default run directory is runs/<name>: a name must not lead out of runs/.
    if value in ("", ".", "..") or any(c in value for c in "/\\\0"):
        raise SpecError(f"expected a plain name (it names the directory runs/<name>): no '/' or '\\', "
                        f"not '.' or '..', got {shortened(value)}", "name")
    size = len(_path_bytes(value, "name"))
    if size > MAX_NAME_BYTES:
        raise SpecError(f"expected at most {MAX_NAME_BYTES} bytes (it names the directory runs/<name>), "
                        f"got {size}", "name")


def _usable_path(_instance: Any, _attribute: Any, value: str) -> None:
    # What the OS would refuse later, with a traceback from Path.resolve() or mkdir.
    if "\0" in value:
        raise SpecError(f"expected a path without a NUL character, got {shortened(value)}", "run_dir")
    for part in _path_bytes(value, "run_dir").split(b"/"):
        if len(part) > MAX_NAME_BYTES:
            raise SpecError(f"expected a path whose every component is at most {MAX_NAME_BYTES} bytes, "
                            f"got one of {len(part)}: {shortened(os.fsdecode(part))}", "run_dir")
    if len(_path_bytes(os.path.abspath(value or "."), "run_dir")) > MAX_PATH_BYTES:
        raise SpecError(f"expected a path of at most {MAX_PATH_BYTES} bytes (made absolute), "
                        f"got {shortened(value)}", "run_dir")


def _path_bytes(value: str, key: str) -> bytes:
    """``value`` as the file system sees it; SpecError if it cannot be (a lone surrogate)."""
    try:
        return os.fsencode(value)
    except UnicodeError:
        raise SpecError(f"expected text the file system can name (no lone surrogate such as '\\ud800'), "
                        f"got {shortened(value)}", key) from None


def _parameter_names(_instance: Any, _attribute: Any, value: Mapping[str, Any]) -> None:
    for name in value:
        check_parameter_name(name)


@attrs.frozen
class Experiment:
    """A whole experiment spec, validated."""

    name: str = attrs.field(validator=_plain_name)
    seed: int = attrs.field(validator=_seed_range)
    space: dict[str, ParameterType] = attrs.field(validator=_parameter_names)
    objectives: tuple[Objective, ...]
    trainer: Trainer
    optimizer: Optimizer
    launcher: Launcher
    #: default: runs/<name>, relative to the working directory
    #: ``~`` and ``$VARIABLES`` expanded here, at the edge (core/paths.py)
    run_dir: str = attrs.field(default="", converter=lambda value: expand_path_text(value, "run_dir"),
                               validator=_usable_path)
    constraints: tuple[Constraint, ...] = ()
    report: Report = attrs.Factory(Report)


def _plugin_hook(registry: Registry, kind: str, converter: cattrs.Converter):
    def structure(block: Any, _type: Any) -> Any:
        if not isinstance(block, Mapping) or "plugin" not in block:
            raise Invalid("expected a mapping with a 'plugin' key")
        settings = {k: v for k, v in block.items() if k != "plugin"}
        cls = registry.lookup(kind, block["plugin"], "plugin")
        return converter.structure(settings, cls)

    return structure


def _space_hook(registry: Registry, converter: cattrs.Converter):
    def structure(block: Any, _type: Any) -> Any:
        if not isinstance(block, Mapping) or "type" not in block:
            raise Invalid("expected a mapping with a 'type' key (float, int, choice, ...)")
        settings = {k: v for k, v in block.items() if k != "type"}
        cls = registry.lookup("parameter_types", block["type"], "type")
        return converter.structure(settings, cls)

    return structure


def _strict_float(value: Any, _type: Any) -> float:
    # The spec's YAML reads 1e-3 as a number (SpecLoader); a number quoted as a string
    # ('1e-3') is still accepted where a float is expected.  Booleans are refused.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid(f"expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise Invalid(f"expected a number, got {shortened(value) if isinstance(value, str) else repr(value)}") from None
    except OverflowError:  # a whole number beyond any float
        raise Invalid(f"expected a finite number, got a whole number of {len(str(abs(value)))} digits") from None
    if not math.isfinite(number):
        raise Invalid(f"expected a finite number, got {value!r}")
    return number


def _strict_int(value: Any, _type: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected a whole number, got {value!r}")
    return value


def _strict_str(value: Any, _type: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {value!r}")
    return value


def _strict_bool(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {value!r}")
    return value


def _located(step: str, structure: Any) -> Any:
    """Run ``structure()``; a user error inside comes out as a SpecError under ``step``."""
    try:
        return structure()
    except Exception as exc:  # noqa: BLE001 - _first_error re-raises what is not a user error
        path, message = _first_error(exc)
        raise SpecError(message, ".".join((step, *path))) from None


def _mapping_hook(converter: cattrs.Converter):
    """dict[K, V]: refuse what is not a mapping (a list, a string) with a message."""

    def factory(cls: Any, _conv: Any) -> Any:
        args = typing.get_args(cls) or (Any, Any)

        def structure(value: Any, _type: Any) -> Any:
            if not isinstance(value, Mapping):
                raise Invalid(f"expected a mapping, got {value!r}")
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
                raise Invalid(f"expected {expected}, got {value!r}")
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
                              f"got {value!r}")
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


def _first_error(exc: BaseException, path: tuple[str, ...] = (),
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
        return _first_error(inner, path + step, absent, getattr(exc, "cl", None) if not step else None)
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        expected = f" (expected: {', '.join(known)})" if known else ""
        present = frozenset(getattr(exc, "present", ()))
        return path, f"unknown key(s): {_did_you_mean(exc.extra_fields, known, missing, present)}{expected}"
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
                  present: typing.Collection[str] = ()) -> str:
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
    one of the two, not to rename."""
    named = []
    for key in sorted(map(str, unknown)):
        starts = [k for k in known if k.startswith(key + "_")]
        match = (difflib.get_close_matches(key, missing, n=1)
                 or difflib.get_close_matches(key, starts, n=1, cutoff=0)
                 or _closest_preferring_absent(key, known, present))
        if not match:
            named.append(key)
        elif match[0] in present:
            named.append(f"{key} (did you mean {match[0]}? it is given too)")
        else:
            named.append(f"{key} (did you mean {match[0]}?)")
    return ", ".join(named)


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


class _SpecYAMLError(yaml.MarkedYAMLError):
    """A spec-specific refusal while reading YAML; ``problem`` says what is expected."""


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter where last-wins or a ValueError would surprise:
    a key given twice in one mapping is refused (YAML says keys are unique; PyYAML keeps
    the last silently), and so is an integer too long for Python to read.  Floats are
    also read as YAML 1.2 writes them (``1e-3``: :data:`YAML12_FLOAT`), not only 1.1's."""

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        # Checked as written, before merge keys are flattened into the mapping (a merged
        # key that the mapping overrides is what merging is for, not a duplicate).
        node = super().compose_mapping_node(anchor)
        seen: set[str] = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.value in seen:
                raise _SpecYAMLError(problem=f"the key {shortened(key_node.value)} is given twice: "
                                             "expected each key once in a mapping",
                                     problem_mark=key_node.start_mark)
            seen.add(key_node.value)
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        # Python reads and prints at most 4,300 decimal digits (0x... is read, then fails
        # to print in a message): a longer number is a typo, refused where it is written.
        limit = sys.get_int_max_str_digits()
        text = node.value.strip()
        if limit and sum(c.isalnum() for c in text) > limit + 2:  # before any int() of it
            raise _SpecYAMLError(problem=f"expected a whole number of at most {limit} digits",
                                 problem_mark=node.start_mark)
        if YAML11_ONLY_INT.match(text):
            try:
                as_yaml11 = super().construct_yaml_int(node)
            except ValueError:  # 089: not octal, so text to YAML 1.1
                as_yaml11 = None
            as_yaml12 = int(text) if re.fullmatch(r"[-+]?[0-9]+", text) else None  # None: text to YAML 1.2
            if as_yaml11 is None or as_yaml12 != as_yaml11:
                raise _SpecYAMLError(problem=_ambiguous_int(text, as_yaml11, as_yaml12), problem_mark=node.start_mark)
            return as_yaml11  # 007, 00: the same number in both
        if YAML12_OCTAL.match(text):  # 0o17: YAML 1.2's octal, which 1.1 reads as text
            sign, digits = (-1, text[3:]) if text.startswith("-") else (1, text.lstrip("+")[2:])
            return sign * int(digits, 8)
        try:
            value = super().construct_yaml_int(node)
        except ValueError:  # `!!int abc`: text under an explicit tag (plain text is never an int)
            raise _SpecYAMLError(problem=f"!!int {shortened(text)} is not a whole number",
                                 problem_mark=node.start_mark) from None
        if limit and value.bit_length() > limit * math.log2(10) + 1:
            raise _SpecYAMLError(problem=f"expected a whole number of at most {limit} digits",
                                 problem_mark=node.start_mark)
        return value


    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise what Python does on an explicit tag whose text is not
        # of its type (`!!float abc`: ValueError, `!!bool 2`: KeyError, `!!timestamp
        # 2020-13-45`): a traceback, where it is a YAML mistake at a line.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            why = f" ({' '.join(str(exc).split())})" if isinstance(exc, ValueError) else ""
            mark = node.start_mark
            written = (mark.buffer or "")[mark.pointer:mark.pointer + 200]
            if re.match(r"(&\S+\s+)?!", written):  # the tag is written there (after an anchor, perhaps)
                problem = f"!!{tag} {shortened(value)} is not a {tag} value{why}"
            else:  # 2020-13-45 looks like a date to YAML, which then reads it as one
                problem = f"{shortened(value)} reads as a {tag} in YAML but is not one{why}: quote it for text"
            raise _SpecYAMLError(problem=problem, problem_mark=node.start_mark) from None


SpecLoader.add_constructor("tag:yaml.org,2002:int", SpecLoader.construct_yaml_int)

#: Integers YAML 1.1 (PyYAML) reads otherwise than YAML 1.2 does: a leading zero (octal in
#: 1.1: ``numb_steps: 0500`` became 320), ``_`` and base 60 (``1:30`` became 90), binary.
#: Refused with both readings rather than one chosen silently.
YAML11_ONLY_INT = re.compile(r"^[-+]?(?:0[0-9_]+|0b[01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+|[0-9]+_[0-9_]*)$")
#: YAML 1.2's octal integer (``0o17``), text to YAML 1.1
YAML12_OCTAL = re.compile(r"^[-+]?0o[0-7]+$")
# A zero-padded number that is not octal (089) is text to YAML 1.1 and a number to 1.2.
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0[0-9]+$"), list("-+0"))
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:int", YAML12_OCTAL, list("-+0"))


def _ambiguous_int(text: str, as_yaml11: int | None, as_yaml12: int | None) -> str:
    """Why ``text`` is refused: what each YAML version reads it as (None: text), and what to write."""
    readings = (f"YAML 1.1 reads it as {as_yaml11}" if as_yaml11 is not None else "YAML 1.1 reads it as text")
    readings += f", YAML 1.2 as {as_yaml12}" if as_yaml12 is not None else ", YAML 1.2 as text"
    return (f"{text} is ambiguous ({readings}): write the number without leading zeros, '_' or ':' "
            "(or quote it for text)")


#: A float of YAML 1.2 (its core schema), with a dot or an exponent, which YAML 1.1 (what
#: PyYAML follows) may read as a string: no dot (``1e-3``, ``2E5``), an unsigned exponent
#: (``1.0e3``), no digit before the dot after a sign (``-.5``).  A learning rate written
#: ``2e-2`` must not reach a template or a choice as the text '2e-2'.  Tried after YAML
#: 1.1's own resolvers, so what they read (ints, 1.1 floats, dates) is read as before (a
#: zero-padded ``089``, neither a dot nor an exponent, is an int to the resolver above,
#: and refused as ambiguous).
YAML12_FLOAT = re.compile(r"^[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$")
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", YAML12_FLOAT, list("-+0123456789."))


def _yaml_problem(exc: yaml.YAMLError, text: str = "") -> str:
    """What is wrong, in one line: ``at line 3: the key 'seed' is given twice...``."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses: no mark, a position
        line = text.count("\n", 0, exc.position) + 1
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        return f"at line {line}: the character {character!r} is not allowed in YAML"
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    if isinstance(exc, yaml.composer.ComposerError) and "single document" in str(exc.context):
        return f"{where}: expected one YAML document, found a second".lstrip()
    problem = " ".join(str(getattr(exc, "problem", None) or "").split())
    if not where:  # "nested too deeply": no line to name
        return f": {problem}" if problem else ""
    return f"{where}: {problem}".lstrip() if problem else where.lstrip()


def parse_yaml(text: str) -> Any:
    """``text`` read as one YAML document with :class:`SpecLoader`; yaml.YAMLError if not."""
    try:
        return yaml.load(text, Loader=SpecLoader)  # safe: SpecLoader is a SafeLoader
    except RecursionError:  # nested hundreds of levels deep: PyYAML recurses once per level
        raise _SpecYAMLError(problem="nested too deeply: expected an experiment spec") from None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse the spec file into a mapping; SpecError if it is not YAML or not a mapping."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_SPEC_CHARACTERS + 1)  # /dev/zero, a 1 GB file: not read whole
    except FileNotFoundError:
        raise SpecError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read it: {unreadable(exc)}", file=str(path)) from None
    if len(text) > MAX_SPEC_CHARACTERS:
        raise SpecError(f"more than {MAX_SPEC_CHARACTERS:,} characters: expected an experiment spec "
                        "(a few kilobytes)", file=str(path))
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML{_yaml_problem(exc, text).replace('at line', ' at line', 1)}",
                        file=str(path)) from None
    if not isinstance(data, dict):
        raise SpecError("expected a YAML mapping of the keys " + ", ".join(TOP_LEVEL_KEYS), file=str(path))
    return data


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply ``--set key.path=value`` (value parsed as YAML) to the raw spec."""
    key, sep, text = assignment.partition("=")
    shown = f"--set {shortened(assignment)}"
    if not sep or not key:
        raise SpecError(f"{shown}: expected key.path=value")
    parts = key.split(".")
    if not all(parts):
        raise SpecError(f"{shown}: empty key in the path: expected key.path=value with a name between dots")
    try:
        value = parse_yaml(text)
    except yaml.YAMLError as exc:
        problem = _yaml_problem(exc, text).removeprefix("at line 1: ").removeprefix("at line 1").removeprefix(": ")
        raise SpecError(f"{shown}: the value is not valid YAML{': ' + problem if problem else ''}") from None
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            slot = _index(node, part, shown, ".".join(parts[:i]))
            child = node[slot]
        else:
            slot = part
            child = node.get(part)
            if child is None:
                child = {}
        if not isinstance(child, (dict, list)):
            raise SpecError(f"{shown}: {where} is not a mapping or a list")
        # A copy on the way down: a YAML alias or merge key (x1: *p, {<<: *p}) makes one
        # object of several keys, and the assignment must change the key named, not all.
        child = node[slot] = type(child)(child)
        node = child
    if isinstance(node, list):
        node[_index(node, parts[-1], shown, ".".join(parts[:-1]))] = value
    else:
        node[parts[-1]] = value


def _index(items: list[Any], part: str, shown: str, where: str) -> int:
    """``part`` as a position in the list ``where`` (``objectives.0.name``), or SpecError."""
    # ASCII digits only ('１' is a digit to str.isdigit and int()), and no more of them
    # than a position in this list can have (int() refuses over 4,300 digits).
    if re.fullmatch(r"[0-9]+", part) is None or len(part.lstrip("0")) > len(str(len(items))) \
            or int(part) >= len(items):
        raise SpecError(f"{shown}: {where} is a list of {len(items)}: "
                        f"expected an index 0 to {len(items) - 1}, got {shortened(part)}")
    return int(part)


def check_text(data: Any) -> None:
    """SpecError for what no key of any plugin can take: a NUL character in a string (no
    path, argument or environment value can hold one), a control character in a key, or
    aliases that expand to more than :data:`MAX_SPEC_VALUES` values."""
    sizes: dict[int, int] = {}  # by id: an alias is the same object, counted, not walked, again

    def walk(node: Any, path: tuple[str, ...]) -> int:
        if isinstance(node, str):
            if "\0" in node:
                raise SpecError(f"expected text without a NUL character, got {shortened(node)}", ".".join(path))
            return 1
        if not isinstance(node, (dict, list)):
            return 1
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a recursive alias ends here (and is refused later by its key)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        size = 1
        for key, value in items:
            if isinstance(node, dict) and isinstance(key, str) and _CONTROL.search(key):
                raise SpecError(f"expected a key without control characters, got {shortened(key)}",
                                ".".join(path))
            size += walk(value, (*path, str(key)))
            if size > MAX_SPEC_VALUES:
                raise SpecError(f"more than {MAX_SPEC_VALUES:,} values once its aliases are expanded: "
                                "expected an experiment spec", ".".join(path))
        sizes[id(node)] = size
        return size

    walk(data, ())


def structure_experiment(data: Mapping[str, Any], registry: Registry) -> Experiment:
    """Turn the raw mapping into an :class:`Experiment`; SpecError names the key."""
    data = dict(data)
    data.setdefault("launcher", _default_launcher())
    try:
        experiment = make_converter(registry).structure(data, Experiment)
    except Exception as exc:  # noqa: BLE001 - _first_error re-raises what is not a user error
        path, message = _first_error(exc)
        raise SpecError(message, ".".join(path)) from None
    return check_experiment(experiment)


def check_experiment(experiment: Experiment) -> Experiment:
    """Cross-field checks that no single class can make."""
    if not experiment.space:
        raise SpecError("expected at least one parameter", "space")
    if len(experiment.objectives) < 2:
        raise SpecError("expected two or more objectives (NSGA-II is multi-objective)", "objectives")
    names = [o.name for o in experiment.objectives]
    if len(set(names)) != len(names):
        raise SpecError("objective names must be unique", "objectives")
    for i, constraint in enumerate(experiment.constraints):
        for name in constraint.names():
            if name not in experiment.space:
                raise SpecError(
                    f"{constraint.text!r} names {name!r}, which is not a parameter in space",
                    f"constraints.{i}",
                )
            for value in _sample_values(experiment.space[name]):
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise SpecError(
                        f"{constraint.text!r} compares {name!r}, which can take the value {value!r}: "
                        "constraints compare numbers", f"constraints.{i}",
                    )
    for name in experiment.report.chemical_accuracy:
        if name not in names:
            # Either side may be the misspelt one: name both (the objective's own check
            # against the trainer's metrics comes later, when the trainer is prepared).
            raise SpecError(f"{name!r} is not an objective: expected one of {', '.join(names)} (or is an "
                            "objective's name misspelt?)", f"report.chemical_accuracy.{name}")
    return experiment


def _sample_values(parameter: ParameterType) -> list[Any]:
    """Values a parameter can decode to: every choice, else both ends and the middle."""
    choices = getattr(parameter, "choices", None)
    if isinstance(choices, (list, tuple)):
        return list(choices)
    low, high = parameter.gene_init
    return [parameter.decode(low + (high - low) * f) for f in (0.0, 0.5, 1.0)]


def load_experiment(path: Path, registry: Registry, overrides: tuple[str, ...] = ()) -> tuple[Experiment, dict]:
    """Read, override and structure a spec file; returns it and the raw mapping as run."""
    data = read_yaml(path)
    if "launcher" not in data and any(a.startswith("launcher.") for a in overrides):
        # --set launcher.workers=4 on a spec that relies on the default launcher sets a
        # key of that default (only then: the raw spec a run records stays as written)
        data["launcher"] = _default_launcher()
    try:
        for assignment in overrides:
            apply_override(data, assignment)
        check_text(data)
        return structure_experiment(data, registry), data
    except SpecError as exc:
        raise exc.located(str(path)) from None
