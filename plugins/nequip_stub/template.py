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
  block: its quoted rendering would stay in the text around it (YAML itself is asked:
  :func:`_check_whole_values`).

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
from dnnp_hpo.template import Placeholder, Template, load_template
from dnnp_hpo.training import is_count

from .metrics import step_or_time_limit

#: Appended to messages about a ``$`` that names nothing: almost always an interpolation.
INTERPOLATION_HINT = "(NequIP's own interpolations are written $${...} in a template)"
_PATTERN = string.Template.pattern
#: After one of these (or at the start of a line) a quote opens a quoted YAML scalar;
#: anywhere else (``name: Al's``) it is part of a plain scalar.
_QUOTE_OPENERS = frozenset(":-[{,?")


def parse_yaml_template(text: str, path: str) -> Template:
    """Split ``text`` into literal pieces and placeholders, knowing YAML quotes and comments.

    The result is a :class:`~dnnp_hpo.template.Template`, so the same name checks apply
    (:func:`~dnnp_hpo.template.check_names`); render it with :func:`render_yaml`.
    """
    pieces: list[str | Placeholder] = []
    literal: list[str] = []
    quote = ""  # the quote of the scalar the scan is in: '"', "'" or ""
    previous = ""  # last non-blank character outside quotes on this line ("" at its start)
    line = 1
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "$":
            match = _PATTERN.match(text, i)
            assert match is not None  # the pattern's last branch matches any "$"
            name = match.group("named") or match.group("braced")
            if match.group("escaped") is not None:
                literal.append("$")
            elif name is None:
                raise SpecError(f"{path}: line {line}: a '$' must start a placeholder ($name or ${{name}}) "
                                f"or be doubled ($$) for a literal dollar {INTERPOLATION_HINT}", "template")
            elif quote == "'":
                raise SpecError(f"{path}: line {line}: ${name} stands in a single-quoted string, which "
                                "has no escapes: use double quotes", "template")
            else:
                pieces.extend(("".join(literal), Placeholder(name, quote == '"', line)))
                literal = []
            i = match.end()
            previous = previous if quote else "$"
            continue
        if quote == '"' and char == "\\" and i + 1 < n:
            literal.append(text[i : i + 2])
            line += text[i + 1] == "\n"
            i += 2
            continue
        if quote == "'" and text.startswith("''", i):
            literal.append("''")
            i += 2
            continue
        if char == "\n":
            line += 1
            previous = "" if not quote else previous
        elif quote:
            if char == quote:
                quote, previous = "", char
        elif char == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            end = n if end < 0 else end
            literal.append(text[i:end])  # a comment, copied untouched
            i = end
            continue
        elif char in "\"'" and (previous == "" or previous in _QUOTE_OPENERS):
            quote = char
        elif char not in " \t\r":
            previous = char
        literal.append(char)
        i += 1
    pieces.append("".join(literal))
    template = Template(path, tuple(p for p in pieces if p != ""))
    _check_whole_values(template)
    return template


def _check_whole_values(template: Template) -> None:
    """SpecError for a placeholder whose rendering YAML would not read as its value.

    An unquoted one is rendered as a whole YAML value (``"abc"``, ``[1, 2]``): inside more
    text it would stay there quotes and all (``run_$x`` gave ``run_"abc"``, and so did a
    line of a ``|`` block or a plain value continued on the next line), and nequip-train
    only failed on it at each training's start.  One in quotes gets JSON escapes, which
    only a double-quoted scalar reads (a ``"`` on a block's line is text, not a quote).
    YAML itself tells: each placeholder is given a word of its own and the text composed;
    an unquoted one must come back as a plain scalar that is its word alone (anchors and
    tags before it are YAML's, not part of the value), a quoted one inside a double-quoted
    scalar.  Text YAML cannot compose is left to the check of the rendered config
    (:func:`parse_config`), which names it.
    """
    words: dict[str, Placeholder] = {}
    text = []
    for piece in template.pieces:
        if isinstance(piece, str):
            text.append(piece)
        else:
            word = f"dnnp_hpo_placeholder_{len(words)}_"
            words[word] = piece
            text.append(word)
    if not words:
        return
    try:
        root = yaml.compose("".join(text), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return
    right: set[str] = set()
    for node in _scalars(root):
        if node.style is None and node.value in words and not words[node.value].in_string:
            right.add(node.value)
        elif node.style == '"':
            right.update(w for w, p in words.items() if p.in_string and w in node.value)
    for word, piece in words.items():
        if word in right:
            continue
        if piece.in_string:
            raise SpecError(f"{template.path}: line {piece.line}: ${piece.name} stands in quotes that YAML does not "
                            "read as a double-quoted string (a line of a | or > block, or a plain value): write "
                            f'the whole value in double quotes ("...${{{piece.name}}}..."), or ${piece.name} alone',
                            "template")
        raise SpecError(f"{template.path}: line {piece.line}: ${piece.name} is part of a longer unquoted value "
                        "(or a line of a | or > block): write the whole value in double quotes "
                        f'("...${{{piece.name}}}..."), or ${piece.name} alone', "template")


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
        data = yaml.safe_load(text)
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

