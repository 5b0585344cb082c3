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
from typing import Any

from dnnp_hpo.errors import SpecError
from dnnp_hpo.template import Template, parse_text


def parse_template(text: str, path: str) -> Template:
    """``text`` split into pieces and placeholders, each knowing whether it sits in one of
    JSON's strings (:func:`dnnp_hpo.template.parse_text`)."""
    return parse_text(text, path, json_strings=True)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose every key is given once: ValueError naming one given twice.
    Not a key starting with ``_``, which DeePMD-kit ignores: its own example inputs give
    ``"_comment"`` several times in one object (helper-112)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data and not key.startswith("_"):
            raise _DuplicateKey(key)
        data[key] = value
    return data


class _DuplicateKey(ValueError):
    pass


def parse_rendered(text: str, path: str) -> dict[str, Any]:
    """The rendered input as a JSON object; SpecError naming the line if it is not one,
    or naming a key given twice in one object: JSON keeps the last, so ``"rcut": $rcut``
    before a ``"rcut": 6.0`` searched a parameter no training read (helper-110)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise SpecError(f"{path}: the key {str(exc)!r} is given twice in one object: JSON (and DeePMD-kit) keeps "
                        "the last and ignores the first; give it once", "template") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: the rendered input is not valid JSON: {exc.msg} at line {exc.lineno} "
                        f"column {exc.colno}", "template") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the rendered input is not a JSON object", "template")
    return data
