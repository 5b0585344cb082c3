"""Paths as a spec writes them: ``~`` and ``$VARIABLES`` expanded, as a shell would.

On a cluster the places to write are named by variables (``$MEMBERWORK/abc123``,
``$SCRATCH``), and a spec is shared between users: every path key of a spec and of the
shipped plugins (``run_dir``, ``trainer.template``, ``trainer.paths`` settings, a joined
Dask scheduler's file, ``replicates.source``) goes through :func:`expand_path_text`, so none of them makes a directory named
``$MEMBERWORK`` under the working directory.
"""

from __future__ import annotations

import os
import re

from dnnp_hpo.errors import SpecError

#: what os.path.expandvars leaves in place: a variable that is not set
_UNSET_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def expand_path_text(text: str, key: str) -> str:
    """``text`` with ``~`` and ``$NAME``/``${NAME}`` expanded; SpecError (``key``) naming a
    variable that is not set, rather than a path holding ``$NAME`` literally."""
    expanded = os.path.expandvars(os.path.expanduser(text))
    unset = _UNSET_VARIABLE.search(expanded)
    if unset:
        raise SpecError(f"environment variable {unset.group(1)} is not set (in {text!r})", key)
    return expanded
