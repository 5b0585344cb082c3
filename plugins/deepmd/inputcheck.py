"""Checking a rendered input with DeePMD-kit's own argument checker, when it is installed.

``deepmd.utils.argcheck.normalize`` is what ``dp train`` runs first; calling it on the
driver at start-up reports a misspelt key (``strt_lr``) or a wrong value type before a
single training is launched, instead of as a hundred identical failed evaluations.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from dnnp_hpo.errors import SpecError
from dnnp_hpo.evaluation import one_line


def check_with_deepmd(data: dict[str, Any], path: str, what: str = "") -> None:
    """Run DeePMD-kit's ``normalize`` on ``data``; SpecError with its message if it refuses.

    ``what`` says which values were filled in (for the message). Does nothing if
    DeePMD-kit is not importable.
    """
    try:
        from deepmd.utils.argcheck import normalize
    except Exception:  # noqa: BLE001 - optional: the driver may run without DeePMD-kit
        return
    model = data.get("model")
    multi_task = isinstance(model, dict) and "model_dict" in model
    try:
        normalize(copy.deepcopy(data), multi_task=multi_task)
    except Exception as exc:  # noqa: BLE001 - dargs raises several unrelated exception types
        detail = f" (with {what})" if what else ""
        raise SpecError(
            f"{path}: DeePMD-kit rejects the rendered input{detail}: {one_line(str(exc), 400)}",
            "template",
        ) from None


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
