"""DeePMD ``input.json`` templates: the ``$name`` placeholders of :mod:`dnnp_hpo.template`
in JSON text.

The syntax is :class:`string.Template`'s, as in the paper (section 2.2.4), so the
paper's own templates work unchanged (``"rcut": $rcut,``,
``"activation_function": "${desc_activ_func}"``, ``$$`` for a literal dollar).  This
module knows where JSON's strings are (:func:`parse_template`), so that each value is
written as JSON for the place it goes to (:meth:`dnnp_hpo.template.Template.render`): a
placeholder outside a JSON string becomes a JSON literal (a string gets its quotes), one
inside a string gets the escaped characters only.  So a value holding a quote or a
backslash cannot break the file, and the rendered text is checked to parse
(:func:`parse_rendered`).
"""

from __future__ import annotations

import json
import string
from typing import Any

from dnnp_hpo.errors import SpecError
from dnnp_hpo.template import Placeholder, Template

_PATTERN = string.Template.pattern


def parse_template(text: str, path: str) -> Template:
    """Split ``text`` into pieces, noting for each placeholder whether it sits in a string.

    A JSON string starts and ends at an unescaped double quote; the scan follows that
    rule so ``"a \\" $x"`` is still one string.  A ``$`` that is neither ``$$`` nor
    followed by a name is an error, as in ``string.Template``.
    """
    pieces: list[str | Placeholder] = []
    literal: list[str] = []
    in_string = False
    line = 1
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
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
        if char == '"':
            in_string = not in_string
        elif char == "\n":
            line += 1
        literal.append(char)
        i += 1
    pieces.append("".join(literal))
    return Template(path, tuple(p for p in pieces if p != ""))


def parse_rendered(text: str, path: str) -> dict[str, Any]:
    """The rendered input as a JSON object; SpecError naming the line if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: the rendered input is not valid JSON: {exc.msg} at line {exc.lineno} "
                        f"column {exc.colno}", "template") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the rendered input is not a JSON object", "template")
    return data
