"""The spec file read as YAML: text to the raw mapping that core/spec.py structures.

:class:`SpecLoader` is PyYAML's safe loader made strict where YAML 1.1 and 1.2 disagree or
PyYAML would keep the last of two keys; :func:`read_yaml` reads a spec file with it (at
most :data:`MAX_SPEC_CHARACTERS`), :func:`apply_override` applies ``--set key.path=value``
and :func:`check_text` refuses what no key can take.  Separate from the spec's classes
because it knows nothing of them: it is YAML and text, and the batch script's block
reader (plugins/launchers/batch_block.py) uses it without structuring anything.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from dnnp_hpo.errors import SpecError, shortened, unreadable
from dnnp_hpo.paths import MAX_INPUT_CHARACTERS, read_at_most

#: the keys of an experiment spec (the fields of spec.Experiment), named when a file is not a mapping
TOP_LEVEL_KEYS = (
    "name", "seed", "run_dir", "space", "constraints", "objectives",
    "trainer", "optimizer", "launcher", "report",
)

#: most characters a spec file may hold (a spec is a few kilobytes; /dev/zero is endless)
MAX_SPEC_CHARACTERS = MAX_INPUT_CHARACTERS
#: most values (keys, items, scalars) a spec may hold with its aliases expanded: a real one
#: holds hundreds; ten aliases nested ten deep hold 10**10 in a file of 1 KB, which every
#: message quoting them, and the journal's copy of the spec, would write out whole
MAX_SPEC_VALUES = 100_000
#: what no key, and no name or run_dir, may hold: control characters (a newline split the
#: one-line message, an escape reached the terminal) and the line separators (which end a line too)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _SpecYAMLError(yaml.MarkedYAMLError):
    """A spec-specific refusal while reading YAML; ``problem`` says what is expected."""


class UniqueKeysLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing a key given twice in one mapping (YAML says keys are
    unique; PyYAML keeps the last silently): a spec, and a trainer's YAML template."""

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        # Checked as written, before merge keys are flattened into the mapping (a merged
        # key that the mapping overrides is what merging is for, not a duplicate).
        node = super().compose_mapping_node(anchor)
        seen: set[tuple[str, str]] = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)  # 1: and "1": are two keys (an int, a string)
            if key in seen:
                raise _SpecYAMLError(problem=f"the key {shortened(key_node.value)} is given twice: "
                                             "expected each key once in a mapping",
                                     problem_mark=key_node.start_mark)
            seen.add(key)
        return node


class SpecLoader(UniqueKeysLoader):
    """The spec's loader, stricter where last-wins or a ValueError would surprise: a key
    given twice in one mapping is refused (:class:`UniqueKeysLoader`), and so is an
    integer too long for Python to read.  Floats are also read as YAML 1.2 writes them
    (``1e-3``: :data:`YAML12_FLOAT`), not only 1.1's; what YAML 1.1 reads otherwise than
    1.2 (``0500``, ``1:30.0``, ``yes``) is refused."""

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
            as_yaml12 = int(text) if YAML12_INT.fullmatch(text) else None  # None: text to YAML 1.2
            if as_yaml11 is None or as_yaml12 != as_yaml11:
                raise _SpecYAMLError(problem=_ambiguous(text, as_yaml11, as_yaml12), problem_mark=node.start_mark)
            return as_yaml11  # 007, 00: the same number in both
        if YAML12_OCTAL.match(text):  # 0o17: YAML 1.2's octal, which 1.1 reads as text
            sign, digits = (-1, text[3:]) if text.startswith("-") else (1, text.lstrip("+")[2:])
            return sign * int(digits, 8)
        try:
            value = super().construct_yaml_int(node)
        except ValueError:  # `!!int abc`: text under an explicit tag (plain text is never an int)
            # or just over the limit (4,301 digits), which int() refuses: say which
            digits = text.lstrip("+-").replace("_", "")
            too_long = limit and digits.isdigit() and len(digits) > limit
            problem = (f"expected a whole number of at most {limit} digits" if too_long
                       else f"!!int {shortened(text)} is not a whole number")
            raise _SpecYAMLError(problem=problem, problem_mark=node.start_mark) from None
        if limit and value.bit_length() > limit * math.log2(10) + 1:
            raise _SpecYAMLError(problem=f"expected a whole number of at most {limit} digits",
                                 problem_mark=node.start_mark)
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        # YAML 1.1's floats with '_' or base 60 (1_0.5 is 10.5, 1:30.0 is 90.0) are text to 1.2
        value = super().construct_yaml_float(node)
        if "_" in node.value or ":" in node.value:
            raise _SpecYAMLError(problem=_ambiguous(node.value.strip(), value, None), problem_mark=node.start_mark)
        return value

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        # yes, no, on, off: true or false to YAML 1.1, text to 1.2 (choices: [on, off])
        value = super().construct_yaml_bool(node)
        if node.value.lower() not in ("true", "false"):
            raise _SpecYAMLError(problem=_ambiguous(node.value, value, None), problem_mark=node.start_mark)
        return value

    def construct_key_only(self, node: yaml.ScalarNode) -> Any:
        # = and << are keys to YAML 1.1 (a default value, a merge) and text to 1.2; PyYAML,
        # given one as a value, said "could not determine a constructor for the tag ..."
        meaning = "merge key (<<: *anchor)" if node.tag.endswith(":merge") else "value key"
        raise _SpecYAMLError(problem=f"{node.value} is YAML 1.1's {meaning}, not a value: "
                                     f"quote it ('{node.value}') for text", problem_mark=node.start_mark)

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
SpecLoader.add_constructor("tag:yaml.org,2002:float", SpecLoader.construct_yaml_float)
SpecLoader.add_constructor("tag:yaml.org,2002:bool", SpecLoader.construct_yaml_bool)
# merged and value keys are handled before construction (flatten_mapping): only values get here
SpecLoader.add_constructor("tag:yaml.org,2002:merge", SpecLoader.construct_key_only)
SpecLoader.add_constructor("tag:yaml.org,2002:value", SpecLoader.construct_key_only)

#: Integers YAML 1.1 (PyYAML) reads otherwise than YAML 1.2 does: a leading zero (octal in
#: 1.1: ``numb_steps: 0500`` became 320), ``_`` and base 60 (``1:30`` became 90), binary,
#: a signed or ``_`` hexadecimal (``-0x10``: YAML 1.2 has no sign before ``0x``).
#: Refused with both readings rather than one chosen silently.
YAML11_ONLY_INT = re.compile(r"^[-+]?(?:0[0-9_]+|0b[01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+|[0-9]+_[0-9_]*)$"
                             r"|^(?:[-+]0x[0-9a-fA-F_]+|0x[0-9a-fA-F]*_[0-9a-fA-F_]*)$")
#: YAML 1.2's octal integer (``0o17``), text to YAML 1.1
YAML12_OCTAL = re.compile(r"^[-+]?0o[0-7]+$")
# A zero-padded number that is not octal (089) is text to YAML 1.1 and a number to 1.2.
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0[0-9]+$"), list("-+0"))
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:int", YAML12_OCTAL, list("-+0"))


def _ambiguous(text: str, as_yaml11: float | None, as_yaml12: float | None) -> str:
    """Why ``text`` is refused: what each YAML version reads it as (None: text), and what to write."""

    def reading(value: float | None) -> str:
        return "text" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    fix = "true or false" if isinstance(as_yaml11, bool) else "the number in decimal without leading zeros, '_' or ':'"
    text = text if len(text) <= 60 else shortened(text)  # a float may have any number of digits
    # 6:00:00 is a walltime far more often than a number in base 60 (helper-81: the
    # hint to write it in decimal led to "walltime: expected a string")
    text_form = f'(or quote it for text, as a time is: "{text}")' if ":" in text else "(or quote it for text)"
    return (f"{text} is ambiguous (YAML 1.1 reads it as {reading(as_yaml11)}, YAML 1.2 as {reading(as_yaml12)}): "
            f"write {fix} {text_form}")


#: a whole number as YAML 1.2 writes it in decimal (YAML12_FLOAT: one with a dot or an exponent)
YAML12_INT = re.compile(r"^[-+]?[0-9]+$")
#: A float of YAML 1.2 (its core schema), with a dot or an exponent, which YAML 1.1 (what
#: PyYAML follows) may read as a string: no dot (``1e-3``, ``2E5``), an unsigned exponent
#: (``1.0e3``), no digit before the dot after a sign (``-.5``).  A learning rate written
#: ``2e-2`` must not reach a template or a choice as the text '2e-2'.  Tried after YAML
#: 1.1's own resolvers, so what they read (ints, 1.1 floats, dates) is read as before (a
#: zero-padded ``089``, neither a dot nor an exponent, is an int to the resolver above,
#: and refused as ambiguous).
YAML12_FLOAT = re.compile(r"^[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$")
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", YAML12_FLOAT, list("-+0123456789."))


class SpecDumper(yaml.SafeDumper):
    """PyYAML's safe dumper that quotes every string :class:`SpecLoader` would read as
    something else (``1e3``, ``089``: YAML 1.2 numbers, which PyYAML's own resolvers leave
    plain), and writes a tuple as a list: what it writes, hpo-run reads back as it was."""


SpecDumper.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in SpecLoader.yaml_implicit_resolvers.items()}
SpecDumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def dump_yaml(data: Any) -> str:
    """``data`` (a spec) as YAML that :func:`parse_yaml` reads back equal: a ``note:
    "089"`` in RUN_DIR/spec.yaml came out plain, and that copy of the spec was refused as
    ambiguous; ``"1e3"`` came back a number.  Characters beyond ASCII are escaped
    (PyYAML's default): written as they are, a NEL (U+0085) came back a space."""
    return yaml.dump(data, Dumper=SpecDumper, sort_keys=False)


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
        text = read_at_most(path, MAX_SPEC_CHARACTERS)  # /dev/zero, a 1 GB file: not read whole
    except FileNotFoundError:
        raise SpecError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read it: {unreadable(exc)}", file=str(path)) from None
    if text is None:
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
                if POSITION.fullmatch(parts[i + 1]):
                    # A position in a list the spec lacks: it made the mapping {'0': ...},
                    # refused as "expected a list, got {'0': ...}" (helper-82).
                    raise SpecError(f"{shown}: the spec has no {where}, so no item {parts[i + 1]} of it: give the "
                                    f"whole list, --set '{where}=[...]'")
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


#: a position in a list, as --set names one (objectives.0.name): ASCII digits only ('１'
#: is a digit to str.isdigit and int())
POSITION = re.compile(r"[0-9]+")


def _index(items: list[Any], part: str, shown: str, where: str) -> int:
    """``part`` as a position in the list ``where`` (``objectives.0.name``), or SpecError."""
    # No more digits than a position in this list can have (int() refuses over 4,300).
    if POSITION.fullmatch(part) is None or len(part.lstrip("0")) > len(str(len(items))) \
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
            if isinstance(node, dict) and isinstance(key, str) and CONTROL_CHARACTERS.search(key):
                raise SpecError(f"expected a key without control characters, got {shortened(key)}",
                                ".".join(path))
            size += walk(value, (*path, str(key)))
            if size > MAX_SPEC_VALUES:
                raise SpecError(f"more than {MAX_SPEC_VALUES:,} values once its aliases are expanded: "
                                "expected an experiment spec", ".".join(path))
        sizes[id(node)] = size
        return size

    walk(data, ())
