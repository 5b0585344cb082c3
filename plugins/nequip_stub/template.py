"""NequIP YAML config templates, with the ``$name`` placeholder rules of every template.

The rules are those of :mod:`dnnp_hpo.template` (``$name`` or ``${name}``, ``$$`` for a
literal dollar, every value written for the place it stands in), applied to YAML where
the DeePMD plugin applies them to JSON:

* a placeholder that is a whole value (``r_max: $r_max``) becomes a YAML flow value: a
  number stays a number (floats always with a dot, ``1.0e-05``, since YAML 1.1 readers
  take ``1e-05`` for a string), a string is double-quoted, a list becomes ``[...]``;
* a placeholder inside a double-quoted string (``"${activation}"``) gets the escaped
  characters only, as in JSON (YAML's double-quoted escapes are JSON's);
* comments are copied as they are: a ``$`` or a quote in a comment is inert;
* a placeholder inside a single-quoted string is an error (YAML has no escapes there).
* so is one that is part of a longer unquoted value (``run_$x``) or in a ``|`` or ``>``
  block: its quoted rendering would stay in the text around it.

YAML itself tells which is which (:func:`parse_yaml_template`).

NequIP's own OmegaConf interpolations (``${model_type_names}``,
``${hydra:runtime.output_dir}``) use the same ``${...}`` syntax, so a template writes
them with the doubled dollar, ``$${model_type_names}``, and the rendered config has
``${model_type_names}`` for NequIP to resolve.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from dnnp_hpo.errors import SpecError
from dnnp_hpo.specfile import UniqueKeysLoader
from dnnp_hpo.template import Placeholder, Template, load_template
from dnnp_hpo.training import is_count

from .metrics import step_or_time_limit

#: Appended to messages about a ``$`` that names nothing: almost always an interpolation.
INTERPOLATION_HINT = "(NequIP's own interpolations are written $${...} in a template)"
_PATTERN = string.Template.pattern
#: a stand-in word (parse_yaml_template), as found inside a scalar's text
_WORD = re.compile(r"dnnp_hpo_dollar_[0-9]+_")


def parse_yaml_template(text: str, path: str) -> Template:
    """Split ``text`` into literal pieces and placeholders, as YAML reads the text.

    Each ``$`` form (``$name``, ``${name}``, ``$$``, or a ``$`` that starts none of them)
    is stood in for by a word of its own and the text composed by PyYAML: where each word
    lands says what the ``$`` is.  Alone as a plain scalar (after an anchor or a tag, if
    any): a whole value; inside a double-quoted scalar: part of a string, which gets the
    value's characters escaped; in no scalar: in a comment, copied as written.  Anywhere
    else (a single-quoted string, a ``|`` or ``>`` block, a plain value with more text
    around it) its rendering would not read as the value, and it is refused.  A scan of
    the text by hand, used before, took a quote inside a block or a plain value for an
    open string, and refused or misread what followed (helper-78, helper-80).  The result
    is a :class:`~dnnp_hpo.template.Template`, so the same name checks apply
    (:func:`~dnnp_hpo.template.check_names`); render it with :func:`render_yaml`.
    """
    matches = list(_PATTERN.finditer(text))
    words = [f"dnnp_hpo_dollar_{k}_" for k in range(len(matches))]
    stand_in, at = [], 0
    for match, word in zip(matches, words):
        stand_in += [text[at:match.start()], word]
        at = match.end()
    stand_in.append(text[at:])
    lines = [text.count("\n", 0, m.start()) + 1 for m in matches]
    places = _places("".join(stand_in), words, path, list(zip(matches, lines)))
    pieces: list[str | Placeholder] = []
    literal, at = [], 0
    for match, word, line in zip(matches, words, lines):
        literal.append(text[at:match.start()])
        at = match.end()
        place = places.get(word)
        name = match.group("named") or match.group("braced")
        if place is None:  # in a comment: inert
            literal.append(match.group(0))
        elif match.group("escaped") is not None:
            literal.append("$")
        elif name is None:
            raise SpecError(_not_a_placeholder(path, line), "template")
        elif place == "'":
            raise SpecError(f"{path}: line {line}: ${name} stands in a single-quoted string, which "
                            "has no escapes: use double quotes", "template")
        elif place not in ("whole", '"'):
            raise SpecError(f"{path}: line {line}: ${name} is part of a longer unquoted value (or a line of a "
                            f'| or > block): write the whole value in double quotes ("...${{{name}}}..."), '
                            f"or ${name} alone", "template")
        else:
            pieces.extend(("".join(literal), Placeholder(name, place == '"', line)))
            literal = []
    literal.append(text[at:])
    pieces.append("".join(literal))
    return Template(path, tuple(p for p in pieces if p != ""))


def _not_a_placeholder(path: str, line: int) -> str:
    return (f"{path}: line {line}: a '$' must start a placeholder ($name or ${{name}}) or be doubled ($$) "
            f"for a literal dollar {INTERPOLATION_HINT}")


def _places(stand_in: str, words: list[str], path: str,
            dollars: list[tuple[re.Match[str], int]]) -> dict[str, str]:
    """Where YAML reads each stand-in word: ``"whole"`` (a plain scalar of its own), the
    style of the scalar it is part of (``"``, ``'``, ``|``, ``>``, ``""`` for plain), or
    nowhere (a comment).  SpecError if the text is no YAML: a ``$`` that starts no
    placeholder is named first, as NequIP's own ``${...}`` written with one dollar is the
    likeliest cause."""
    try:
        root = yaml.compose(stand_in, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # A stray $ on the line YAML stopped at (or before it, where YAML gives no line),
        # not in a comment: any YAML error was blamed on the shipped template's comment
        # "reach NequIP as ${...}" at line 6 (helper-110).
        marked = {m.line + 1 for m in (mark, getattr(exc, "context_mark", None)) if m is not None}
        for match, line in dollars:
            if match.group("invalid") is not None and (not marked or line in marked) \
                    and not _after_comment(match.string, match.start()):
                raise SpecError(_not_a_placeholder(path, line), "template") from None
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}: the template is not valid YAML (each placeholder stood in for by a word): "
                        f"{getattr(exc, 'problem', None) or exc}{where}", "template") from None
    wanted = set(words)
    places: dict[str, str] = {}
    for node in _scalars(root):
        if node.style is None and node.value in wanted:
            places[node.value] = "whole"
            continue
        for word in _WORD.findall(node.value):
            places[word] = node.style or ""
    return places


def _after_comment(text: str, at: int) -> bool:
    """Whether position ``at`` follows a ``#`` that starts a comment on its line (at the
    line's start or after a blank; a ``#`` in a quoted string is taken for one too: this
    only decides what a YAML error is blamed on)."""
    line = text[text.rfind("\n", 0, at) + 1:at]
    return re.search(r"(?:^|\s)#", line) is not None


def _scalars(node: yaml.Node | None) -> Iterator[yaml.ScalarNode]:
    """Every scalar node under ``node``, keys included (an alias is its anchor's node)."""
    seen: set[int] = set()
    stack = [node] if node is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            yield node
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in node.value for item in pair)


def load_yaml_template(path: Path) -> Template:
    """Read and parse a YAML template file; SpecError (key ``template``) if it cannot be read."""
    return load_template(path, parse_yaml_template)


#: An escaped surrogate pair whose backslash is not itself escaped (an even run before it).
_SURROGATE_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def yaml_escapes(json_text: str) -> str:
    """JSON string escapes as YAML reads them: YAML has no surrogate pairs, so a character
    beyond U+FFFF (``\\ud83d\\ude00``) becomes one 8-digit escape (``\\U0001f600``)."""

    def astral(match: re.Match[str]) -> str:
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        return f"{match.group(1)}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return _SURROGATE_PAIR.sub(astral, json_text)


def yaml_value(value: Any) -> str:
    """A JSON-like value (as :func:`json.loads` gives) as YAML flow text."""
    if isinstance(value, float):
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        return text if "." in mantissa or not e else f"{mantissa}.0e{exponent}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        # Explicit keys ("? key : value"): an implicit YAML key may not exceed 1024 characters.
        return "{" + ", ".join(f"? {yaml_value(k)} : {yaml_value(v)}" for k, v in value.items()) + "}"
    return yaml_escapes(json.dumps(value))  # null, true/false, integers, double-quoted strings


def render_yaml(template: Template, values: Mapping[str, Any]) -> str:
    """Substitute ``values``; SpecError for a missing name or a value YAML cannot hold.

    Every value first goes through :func:`~dnnp_hpo.template.json_fragment`, as in every
    template, so the same values are refused (NaN, infinity, objects) with the same messages.
    """
    return template.render(values, lambda fragment, piece: yaml_escapes(fragment) if piece.in_string
                           else yaml_value(json.loads(fragment)))


#: What nequip-train requires of a config (it asserts these before training).
REQUIRED_SECTIONS = ("run", "data", "trainer", "training_module")


def parse_config(text: str, path: str) -> dict[str, Any]:
    """The rendered config as a mapping; SpecError unless nequip-train could train with it.

    Checked: valid YAML, the sections nequip-train requires, ``train`` among the run
    types, a model, and a Lightning ``CSVLogger`` (the plugin reads its metrics file).
    """
    try:
        # A key given twice: PyYAML keeps the last, so a searched "r_max: $r_max" above a
        # fixed one was read by no training (helper-110); NequIP's own loader refuses it.
        data = yaml.load(text, Loader=UniqueKeysLoader)  # safe: a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{path}: the rendered config is not valid YAML: {problem}{where}", "template") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the rendered config is not a YAML mapping", "template")
    missing = [s for s in REQUIRED_SECTIONS if s not in data]
    if missing:
        raise SpecError(f"{path}: nequip-train needs the section(s) {', '.join(missing)}", "template")
    runs = data["run"] if isinstance(data["run"], list) else [data["run"]]
    if "train" not in runs:
        raise SpecError(f"{path}: run: expected a list with train in it, got {data['run']!r}", "template")
    if not isinstance(data["training_module"], dict) or "model" not in data["training_module"]:
        raise SpecError(f"{path}: training_module: expected a mapping with a model", "template")
    trainer = data["trainer"] if isinstance(data["trainer"], dict) else {}
    loggers = trainer.get("logger")
    loggers = loggers if isinstance(loggers, list) else [loggers]
    if not any(isinstance(lg, dict) and str(lg.get("_target_", "")).endswith("CSVLogger") for lg in loggers):
        raise SpecError(f"{path}: trainer.logger: expected a lightning.pytorch.loggers.CSVLogger (the "
                        "validation errors are read from the metrics.csv it writes)", "template")
    _check_validation_epochs(trainer, path)
    return data


def _check_validation_epochs(trainer: dict[str, Any], path: str) -> None:
    """SpecError unless the last epoch is validated: Lightning validates every
    ``check_val_every_n_epoch`` epochs, so with ``max_epochs`` not a multiple of it the
    fitness would be of an earlier model (or, with no validation epoch, none at all)."""
    epochs, every = trainer.get("max_epochs"), trainer.get("check_val_every_n_epoch", 1)
    # Lightning's max_epochs -1 trains until max_steps or max_time; without either, until
    # the time limit kills it: every training would fail.
    endless = epochs == -1 and not isinstance(epochs, bool) and not step_or_time_limit(trainer)
    if (epochs is not None and not is_count(epochs) and epochs != -1) or endless:
        raise SpecError(f"{path}: trainer.max_epochs must be a whole number of at least 1 (or -1 with max_steps "
                        f"or max_time), got {epochs!r}", "template")
    if every is not None and not is_count(every):  # None: validate by val_check_interval steps
        raise SpecError(f"{path}: trainer.check_val_every_n_epoch must be a whole number of at least 1, "
                        f"got {every!r}", "template")
    if is_count(epochs) and is_count(every) and epochs % every:
        last = (f"the last validated epoch would be {epochs // every * every}, not the trained model"
                if epochs >= every else "no epoch would be validated, so no training would give a fitness")
        raise SpecError(f"{path}: trainer.check_val_every_n_epoch {every} does not divide trainer.max_epochs "
                        f"{epochs}: {last}; make it a divisor", "template")

