"""Checking a rendered input with DeePMD-kit's own argument checker, when it is installed.

``deepmd.utils.argcheck.normalize`` is what ``dp train`` runs first; calling it on the
driver at start-up reports a misspelt key (``strt_lr``) or a wrong value type before a
single training is launched, instead of as a hundred identical failed evaluations.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from dnnp_hpo.errors import SpecError
from dnnp_hpo.evaluation import one_line
from dnnp_hpo.template import Template


def check_with_deepmd(data: dict[str, Any], path: str, what: str = "",
                      placeholders: Mapping[str, str] | None = None, settings: Collection[str] = ()) -> None:
    """Run DeePMD-kit's ``normalize`` on ``data``; SpecError with its message if it refuses.

    ``what`` says which values were filled in (for the message). ``placeholders`` (the
    dotted key of each placeholder that is a whole value of the template: its name, from
    :func:`placeholder_keys`) and ``settings`` (the names of trainer.settings) let the
    message name the setting, parameter or ``$seed`` that gave the value refused: a
    refused setting is reported as ``trainer.settings.NAME``.  Does nothing if DeePMD-kit
    is not importable.
    """
    try:
        from deepmd.utils.argcheck import normalize
        from deepmd.utils.compat import update_deepmd_input
    except Exception:  # noqa: BLE001 - optional: the driver may run without DeePMD-kit
        return
    model = data.get("model")
    multi_task = isinstance(model, dict) and "model_dict" in model
    try:
        # As dp train does: older inputs (DeePMD-kit 1's training.systems, numb_test,
        # 3.1's training.warmup_steps) are converted first, then checked.  Checked as
        # written, they were refused at start-up although every training would have run.
        # Without a training section the conversion fails on its own (KeyError 'training'):
        # the checker's word on the input as written says more.
        given = copy.deepcopy(data)
        converted = update_deepmd_input(given, warning=False, dump=None) if isinstance(
            data.get("training"), dict) else given
        with _argument_tree_reused():
            normalize(converted, multi_task=multi_task)
    except Exception as exc:  # noqa: BLE001 - dargs raises several unrelated exception types
        detail = f" (with {what})" if what else ""
        if isinstance(exc, (TypeError, ValueError)) and not _is_dargs_error(exc):
            # DeePMD-kit's own checks of a section (the learning rate's compares decay_steps
            # with 0) run before dargs checks the types of its keys: a setting of the wrong
            # type gave Python's words ('<=' not supported between 'str' and 'int'), naming
            # no key.  dargs's type check alone says which key, and what it requires.
            exc = _first_wrong_type(data, multi_task) or exc
        key = _refused_key(exc)
        name = (placeholders or {}).get(key) if key else None
        if name is None:
            raise SpecError(
                f"{path}: DeePMD-kit rejects the rendered input{detail}: {one_line(str(exc), 400)}",
                "template",
            ) from None
        why = one_line(getattr(exc, "message", None) or str(exc), 400)
        value = one_line(repr(_value_at(data, key)), 60)
        if name in settings:
            raise SpecError(f"{value} (${name}, at {key} in {path}) is refused by DeePMD-kit{detail}: {why}",
                            f"settings.{name}") from None
        raise SpecError(f"{path}: DeePMD-kit rejects the rendered input{detail}: {key} is {value} (from "
                        f"{value_source(name, settings)}): {why}", "template") from None


_SWAP = threading.Lock()


@functools.cache
def _argument_tree(multi_task: bool, gen_args: Any) -> list[Any]:
    return gen_args(multi_task=multi_task)


@contextlib.contextmanager
def _argument_tree_reused() -> Iterator[None]:
    """``normalize`` builds DeePMD-kit's whole tree of arguments at each call (0.07 s),
    and a start-up checks a dozen or more sample inputs: 1 s of the 1.6 s a quickstart's
    ``--dry-run`` took.  The tree describes the arguments only (checking reads it, never
    changes it), so it is built once in a process and given to ``normalize`` while it
    runs; DeePMD-kit's ``gen_args`` is put back after, for any other caller."""
    from deepmd.utils import argcheck

    with _SWAP:  # one check at a time swaps it: overlapping ones would put back each other's
        built = argcheck.gen_args
        argcheck.gen_args = lambda multi_task=False: _argument_tree(multi_task, built)
        try:
            yield
        finally:
            argcheck.gen_args = built


def value_source(name: str, settings: Collection[str]) -> str:
    """How a message names where the value of placeholder ``name`` came from: ``$seed``,
    ``$NAME`` (one of ``settings``, trainer.settings) or ``parameter space.NAME``."""
    return "$seed" if name == "seed" else f"${name}" if name in settings else f"parameter space.{name}"


def _is_dargs_error(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("dargs") for cls in type(exc).__mro__)


def _first_wrong_type(data: dict[str, Any], multi_task: bool) -> Exception | None:
    """dargs's ArgumentTypeError for the first key of ``data`` whose value has a type
    DeePMD-kit's arguments do not take, found with the types checked alone (no extra
    checks), as ``normalize`` would check them; None if there is none (or dargs's
    interface is not the one known)."""
    try:
        from dargs import Argument
        from deepmd.utils.argcheck import gen_args

        base = Argument("base", dict, gen_args(multi_task=multi_task))
        normalized = base.normalize_value(copy.deepcopy(data), trim_pattern="_*")

        def types_only(arg: Any, value: Any, where: list[str]) -> None:
            bare = copy.copy(arg)
            bare.extra_check = None
            bare._check_data(value, where)

        base.traverse_value(normalized, value_hook=types_only)
    except Exception as exc:  # noqa: BLE001 - what dargs raises; anything else: not known
        return exc if type(exc).__name__ == "ArgumentTypeError" else None
    return None


_KEY_IN_MESSAGE = re.compile(r"key `([^`]+)`")


def _refused_key(exc: BaseException) -> str | None:
    """The dotted key of the value a dargs error refuses (``learning_rate.decay_steps``)."""
    where = getattr(exc, "path", None)
    found = _KEY_IN_MESSAGE.search(str(getattr(exc, "message", "") or ""))
    if not isinstance(where, str) or found is None or type(exc).__name__ not in (
            "ArgumentTypeError", "ArgumentValueError"):
        return None
    return ".".join([*filter(None, where.split("/")), found.group(1)])


def _value_at(data: Any, key: str) -> Any:
    for part in key.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def placeholder_keys(template: Template) -> dict[str, str]:
    """The dotted key (``learning_rate.decay_steps``, list items by index) of every
    placeholder that is the whole value there (``"decay_steps": $decay_steps``,
    ``"activation_function": "${act}"``): its name.  Empty if the template renders to no
    JSON object with every placeholder a string."""
    marks = {name: f"\x00{name}\x00" for name in template.names}
    try:
        data = json.loads(template.render(marks))
    except Exception:  # noqa: BLE001 - a template that renders only with numbers: no keys named
        return {}
    names = {mark: name for name, mark in marks.items()}
    found: dict[str, str] = {}

    def walk(node: Any, where: str) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, str) and value in names:
                found[f"{where}{key}"] = names[value]
            walk(value, f"{where}{key}.")

    walk(data, "")
    return found


def keys_named(data: Any, name: str, where: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every key ``name`` in a rendered input, at any depth
    (list items by their index: ``model.descriptor.list.0.activation_function``)."""
    if isinstance(data, dict):
        return [found for key, value in data.items()
                for found in ([(f"{where}{key}", value)] if key == name else [])
                + keys_named(value, name, f"{where}{key}.")]
    if isinstance(data, list):
        return [found for i, value in enumerate(data) for found in keys_named(value, name, f"{where}{i}.")]
    return []


def check_activations(data: dict[str, Any], path: str, params: Mapping[str, Any]) -> None:
    """SpecError naming a value of an ``activation_function`` key that DeePMD-kit does not
    know, and the parameter (of ``params``, the values rendered) that gave it: DeePMD-kit's
    argcheck takes any string, and the trainings that drew it failed.  Valid: a name of
    ``deepmd.common.VALID_ACTIVATION`` in any case, or ``silut...`` (DeePMD-kit's
    get_activation_func).  Does nothing if DeePMD-kit is not importable."""
    try:
        from deepmd.common import VALID_ACTIVATION
    except Exception:  # noqa: BLE001 - optional: a cluster's login node may lack DeePMD-kit
        return
    for key, value in keys_named(data, "activation_function"):
        if not isinstance(value, str) or value.lower() in VALID_ACTIVATION or value.lower().startswith("silut"):
            continue
        names = [name for name, given in params.items() if given == value]
        source = f"parameter {names[0]}" if names else "the template or trainer.settings"
        raise SpecError(f"{path}: {key} is {value!r} (from {source}), not an activation function of DeePMD-kit: "
                        f"it knows {', '.join(sorted(VALID_ACTIVATION))}", "template")
