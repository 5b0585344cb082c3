"""Checking a rendered input with DeePMD-kit's own argument checker, when it is installed.

``deepmd.utils.argcheck.normalize`` is what ``dp train`` runs first; calling it on the
driver at start-up reports a misspelt key (``strt_lr``) or a wrong value type before a
single training is launched, instead of as a hundred identical failed evaluations.
"""

from __future__ import annotations

import copy
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
