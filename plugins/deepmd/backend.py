"""Which DeePMD-kit backend a training command uses, as far as its arguments tell.

DeePMD-kit 3 trains with TensorFlow, PyTorch, JAX or Paddle, chosen by a flag of ``dp``
or its ``DP_BACKEND``; what the start-up checks accept (descriptors, losses, a cutoff
equal to its smoothing) depends on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: ``dp``'s flags naming the TensorFlow backend (deepmd/main.py; ``--backend`` takes the names too)
TF_NAMES = ("tf", "tensorflow")
#: ``dp``'s flags naming another backend (deepmd/main.py's BACKEND_TABLE, DeePMD-kit 3.2)
OTHER_BACKENDS = ("pt", "pytorch", "pt-expt", "pt_expt", "pytorch-exportable", "jax", "pd", "paddle", "tf2",
                  "tensorflow2", "dpmodel", "dp", "numpy", "np")


def named_backend(command: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    """The DeePMD-kit backend ``command`` trains with, as far as its arguments tell (the
    name as written, lower case): a flag (``--pt``, ``--backend tf``, ``-b tf``), or for
    ``dp`` with none its default, ``DP_BACKEND`` in ``trainer.env`` or else in hpo-run's
    environment, TensorFlow without it.  None: not known (a wrapper script without flags)."""
    # After dp itself when the command names it: a wrapper's own flags (mpirun --np 4) are
    # not dp's (helper-93)
    start = next((i + 1 for i, arg in enumerate(command) if Path(arg).name == "dp"), 0)
    for i, arg in enumerate(command[start:], start):
        following = command[i + 1] if i + 1 < len(command) else ""
        if arg.startswith("--backend"):
            return (arg.partition("=")[2] or following).lower()
        if arg.startswith("-b") and not arg.startswith("--"):  # -b pt, -bpt (not a wrapper's -bind-to)
            value = (arg[2:] or following).lower()
            if arg == "-b" or value in (*TF_NAMES, *OTHER_BACKENDS):
                return value
        name = arg[2:] if arg.startswith("--") else None
        if name in (*TF_NAMES, *OTHER_BACKENDS):
            return name
    if start:
        return env.get("DP_BACKEND", os.environ.get("DP_BACKEND", "tensorflow")).lower()
    return None


def tensorflow_backend(command: tuple[str, ...], env: Mapping[str, str]) -> bool:
    """Whether ``command`` trains with DeePMD-kit's TensorFlow backend, as far as its
    arguments tell (:func:`named_backend`)."""
    return named_backend(command, env) in TF_NAMES
