"""Input templates with ``$name`` / ``${name}`` placeholders, whatever the input's format.

The syntax is :class:`string.Template`'s, as in the paper (section 2.2.4): ``$name`` or
``${name}``, ``$$`` for a literal dollar.  A trainer plugin parses its own format (where
its quoted strings and comments are) into a :class:`Template`: literal text pieces and
the :class:`Placeholder` s between them, each knowing whether it stands inside a quoted
string or as a whole value.  What is the same for every format lives here: the template
file read (:func:`load_template`), the names checked against the search space and the
settings (:func:`check_names`, :func:`check_setting_values`), and every value written as
JSON text for the place it goes to (:func:`json_fragment`): a whole value becomes a JSON
literal (a string gets its quotes), one inside a string the escaped characters only, so a
value holding a quote or a backslash cannot break the file.  A format whose values are
not JSON's turns that text into its own (``encode`` of :meth:`Template.render`).

Two formats are read here: JSON (DeePMD-kit's input, :func:`parse_text` with
``json_strings``) and plain text without quoting, such as the ``keyword value`` lines of
n2p2's ``input.nn`` (:func:`parse_text` and :func:`plain_text`), so that a trainer plugin
for such a code needs no parser of its own.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.errors import SpecError, shown, unreadable, yaml_shown
from dnnp_hpo.paths import MAX_INPUT_CHARACTERS, read_at_most


@attrs.frozen
class Placeholder:
    """One ``$name`` in the template text."""

    name: str
    in_string: bool  #: inside a quoted string ("${name}"), or a whole value
    line: int


@attrs.frozen
class Template:
    """A parsed template: literal text pieces interleaved with placeholders."""

    path: str  #: for messages
    pieces: tuple[str | Placeholder, ...]
    #: where a comment starts in this format ("" for none): a whole value holding it would
    #: be cut short there by the program that reads the input, so render refuses it
    comment: str = ""

    @property
    def names(self) -> frozenset[str]:
        """Every placeholder name the template uses."""
        return frozenset(p.name for p in self.pieces if isinstance(p, Placeholder))

    def render(self, values: Mapping[str, Any],
               encode: Callable[[str, Placeholder], str] | None = None) -> str:
        """Substitute ``values``; SpecError for a missing name or a value JSON cannot hold.

        Each value becomes its JSON text (:func:`json_fragment`); ``encode(fragment,
        placeholder)``, if given, turns that into the template's own format (YAML, say),
        and raises ValueError for a value that format cannot hold.
        The result is not checked here: the trainer parses it as its format.
        """
        out: list[str] = []
        for i, piece in enumerate(self.pieces):
            if isinstance(piece, str):
                out.append(piece)
                continue
            if piece.name not in values:
                raise SpecError(f"{self.path}: line {piece.line}: no value for ${piece.name}", "template")
            fragment = json_fragment(values[piece.name], piece, self.path, self._alone_in_list(i))
            try:
                text = encode(fragment, piece) if encode else fragment
            except ValueError as exc:  # a value the template's format cannot hold
                raise SpecError(f"{self.path}: line {piece.line}: ${piece.name}: {exc}", "template") from None
            if self.comment and not piece.in_string and self.comment in text:
                raise SpecError(f"{self.path}: line {piece.line}: ${piece.name}: its value {text!r} holds "
                                f"{self.comment!r}, where this input's comments start: the program would "
                                "read the rest of the line as a comment", "template")
            out.append(text)
        return "".join(out)

    def _alone_in_list(self, index: int) -> bool:
        """Whether placeholder ``index`` is the whole of a string that is the only item of a
        list: ``["${name}"]``."""
        before = self.pieces[index - 1] if index > 0 else ""
        after = self.pieces[index + 1] if index + 1 < len(self.pieces) else ""
        return (isinstance(before, str) and isinstance(after, str) and _OPENS_LIST.search(before) is not None
                and _CLOSES_LIST.match(after) is not None)


_PATTERN = string.Template.pattern


def parse_text(text: str, path: str, *, json_strings: bool = False, comment: str = "") -> Template:
    """Split ``text`` into pieces, noting for each placeholder whether it sits in a string.

    With ``json_strings`` a string starts and ends at an unescaped double quote, JSON's
    rule, so ``"a \\" $x"`` is still one string; without, the text has no quoting and
    every placeholder is a whole value (a ``keyword value`` input).  A ``$`` that is
    neither ``$$`` nor followed by a name is an error, as in ``string.Template``.
    ``comment``: where a comment starts (``#`` in n2p2's input.nn), outside a string, to
    the end of its line; it is copied as written, a ``$`` in it too (``# cost in $``), and
    a whole value holding it is refused when the template is rendered.
    """
    pieces: list[str | Placeholder] = []
    literal: list[str] = []
    in_string = False
    line = 1
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if comment and not in_string and text.startswith(comment, i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            literal.append(text[i:end])
            i = end
            continue
        if char == "$":
            match = _PATTERN.match(text, i)
            assert match is not None  # the pattern's last branch matches any "$"
            if match.group("escaped") is not None:
                literal.append("$")
            elif (name := match.group("named") or match.group("braced")) is not None:
                pieces.append("".join(literal))
                literal = []
                pieces.append(Placeholder(name, in_string, line))
            else:
                raise SpecError(
                    f"{path}: line {line}: a '$' must start a placeholder ($name or ${{name}}) "
                    "or be doubled ($$) for a literal dollar", "template",
                )
            i = match.end()
            continue
        if char == "\\" and in_string and i + 1 < n:
            literal.append(text[i : i + 2])
            line += text[i + 1] == "\n"
            i += 2
            continue
        if char == '"' and json_strings:
            in_string = not in_string
        elif char == "\n":
            line += 1
        literal.append(char)
        i += 1
    pieces.append("".join(literal))
    return Template(path, tuple(p for p in pieces if p != ""), comment)


def plain_text(fragment: str, placeholder: Placeholder) -> str:
    """:meth:`Template.render`'s ``encode`` for a format without quoting: a string value
    as its characters (``tanh``, not ``"tanh"``), a list as its items apart (``H O``,
    ``15 15``: n2p2's ``elements``), any other value (a number, true) as its JSON text.
    ValueError for what such a line cannot hold: a line break, an empty list, a list of
    lists or a mapping, and a placeholder inside a JSON string (a template parsed with
    ``json_strings``: render it without this encode)."""
    if placeholder.in_string:
        raise ValueError("plain_text writes whole values, and this placeholder is inside a quoted string")

    def word(value: Any) -> str:
        if isinstance(value, (list, dict)):
            # ValueError, as render expects of an encode: a value the format cannot hold
            raise ValueError(f"a plain-text input holds no nested list or mapping, got {json.dumps(value)}")  # noqa: TRY004
        text = value if isinstance(value, str) else json.dumps(value)
        if "\n" in text or "\r" in text:
            raise ValueError(f"a plain-text value cannot hold a line break, got {json.dumps(value)}")
        return text

    value = json.loads(fragment)
    if value == []:
        raise ValueError("an empty list would leave its keyword without a value")
    return " ".join(word(item) for item in value) if isinstance(value, list) else word(value)


_OPENS_LIST = re.compile(r'\[\s*"\Z')
_CLOSES_LIST = re.compile(r'"\s*\]')


def _plain(value: Any) -> Any:
    """NumPy scalars to the Python values json understands."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (list, tuple, dict)) else value


def json_fragment(value: Any, where: Placeholder, path: str, alone_in_list: bool = False) -> str:
    """``value`` as JSON text for the place ``where`` stands in (``alone_in_list``: the
    placeholder is written ``["${name}"]``, for the advice of an error)."""
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{path}: line {where.line}: ${where.name} is {value}, which JSON cannot hold",
                        "template")
    if not where.in_string:
        try:
            return json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise SpecError(f"{path}: line {where.line}: ${where.name}: {not_json_message(value, [where])}",
                            "template") from None
    if isinstance(value, str):
        return json.dumps(value)[1:-1]  # the escaped characters, without the quotes
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    what = f"{path}: line {where.line}: ${where.name} stands inside a JSON string, but its value {value!r}"
    if isinstance(value, (list, tuple)) and alone_in_list:
        # Without the quotes alone, ["$name"] would be a list in a list.
        raise SpecError(f"{what} is a list: write ${where.name} in place of the whole [\"${{{where.name}}}\"], "
                        "without the brackets and the quotes: a list value is written as a JSON list", "template")
    if isinstance(value, (list, tuple)):
        raise SpecError(f"{what} is a list: write ${where.name} without the quotes where a list belongs (it is "
                        "written as a JSON list; inside brackets it would be a list in a list)", "template")
    raise SpecError(f"{what} is not a string or a number: write it without the quotes", "template")


def not_json(value: Any, seen: frozenset[int] = frozenset()) -> Any:
    """The part of ``value`` (itself, or an item at any depth) that JSON cannot write as
    it is: not None, true/false, a number, a string, a list or a mapping (of keys JSON
    writes as strings), a float not finite, a list that holds itself; ``_NONE`` if there
    is none."""
    value = _plain(value)
    if value is None or isinstance(value, (str, bool, int)):
        return _NONE
    if isinstance(value, float):
        return _NONE if math.isfinite(value) else value
    if not isinstance(value, (list, tuple, dict)) or id(value) in seen:
        return value
    inner = seen | {id(value)}
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, (str, int, float))):  # what json.dumps writes as a key
                return key
            if (found := not_json(item, inner)) is not _NONE:
                return found
        return _NONE
    return next((found for item in value if (found := not_json(item, inner)) is not _NONE), _NONE)


#: what :func:`not_json` returns for a value JSON can write
_NONE = object()


def not_json_message(value: Any, places: list[Placeholder]) -> str:
    """What a value for the placeholders ``places`` (all of one name) must be, and what
    it is: ``expected a number, ... , got b'abc'``."""
    expected = ("a string or a number" if all(p.in_string for p in places)
                else "a number, a string, true/false, a list or a mapping")
    part = not_json(value)
    if part is _NONE or part is value:
        return f"expected {expected}, got {yaml_shown(value)}"
    return f"expected {expected}, got {shown(value)}, which holds {yaml_shown(part)}"


def check_setting_values(template: Template, settings: Mapping[str, Any]) -> None:
    """SpecError naming ``settings.NAME`` for a setting the template uses whose value JSON
    (so the rendered input) cannot hold: a date, bytes (``!!binary``), a set, a float
    not finite, at any depth.  Rendering would refuse it too, naming only the template's
    line; the spec's key is where the fix is."""
    for name, value in settings.items():
        places = [p for p in template.pieces if isinstance(p, Placeholder) and p.name == name]
        if places and not_json(value) is not _NONE:
            lines = ", ".join(str(p.line) for p in places[:3])
            raise SpecError(f"{not_json_message(value, places)} (for ${name}, line {lines} of {template.path})",
                            f"settings.{name}")


def load_template(path: Path, parse: Callable[[str, str], Template]) -> Template:
    """Read a template file and parse it with ``parse(text, path)``, the trainer's parser
    of its format; SpecError (key ``template``) if it cannot be read."""
    try:
        text = read_at_most(path)  # template: /dev/zero read until the OOM killer came (helper-110)
    except FileNotFoundError:
        raise SpecError(f"template {path} not found", "template") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the template {path}: {unreadable(exc)}", "template") from None
    if text is None:
        raise SpecError(f"the template {path} holds more than {MAX_INPUT_CHARACTERS:,} characters: expected a "
                        "training program's input (a few kilobytes)", "template")
    return parse(text, str(path))


def check_names(template: Template, parameters: set[str], settings: set[str], reserved: set[str]) -> None:
    """Every placeholder must have a value, and every parameter and setting must be used.

    An unused search parameter would be searched without effect; an unused setting is
    almost always a misspelt placeholder.  Both are errors, reported in one line.
    """
    provided = parameters | settings | reserved
    unknown = sorted(template.names - provided)
    unused_parameters = sorted(parameters - template.names)
    unused_settings = sorted(settings - template.names)
    problems = []
    if unknown:
        problems.append("placeholder(s) with no value: " + ", ".join(f"${n}" for n in unknown)
                        + " (expected a space parameter, a trainer.settings key or $seed)")
    if unused_parameters:
        problems.append("search parameter(s) the template does not use: " + ", ".join(unused_parameters))
    if unused_settings:
        problems.append("trainer.settings the template does not use: " + ", ".join(unused_settings))
    if problems:
        raise SpecError(f"{template.path}: " + "; ".join(problems), "template")
