"""Paths as a spec writes them: ``~`` and ``$VARIABLES`` expanded, as a shell would.

On a cluster the places to write are named by variables (``$MEMBERWORK/abc123``,
``$SCRATCH``), and a spec is shared between users: every path key of a spec and of the
shipped plugins (``run_dir``, ``trainer.template``, ``trainer.paths`` settings, a joined
Dask scheduler's file, ``replicates.source``) goes through :func:`expand_path_text`, so
none of them makes a directory named ``$MEMBERWORK`` under the working directory.
"""

from __future__ import annotations

import os
import re

from dnnp_hpo.errors import SpecError, shortened

#: ``$$`` (a literal ``$``), ``${NAME}`` or ``$NAME``; else (group 4) what follows a ``$``
#: that is none of them: ``{...}`` to its closing brace or the end (``${X:-/tmp}``,
#: ``${X/y``, ``${}``), or one character (``$1``, ``$/``), or nothing (a final ``$``)
_REFERENCE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?|.?))",
                        re.DOTALL)


def expand_path_text(text: str, key: str) -> str:
    """``text`` with ``~`` and ``$NAME``/``${NAME}`` expanded and ``$$`` read as ``$``.

    SpecError (``key``) for a variable that is not set, or set to nothing: either would
    put the path somewhere else than meant (``$MEMBERWORK/x`` would be ``/x``).  Each
    variable is looked up once, in the text as written: a value holding ``$`` is kept
    as it is, as a shell keeps it.  SpecError too for any other ``$``: a shell's
    ``${NAME:-default}``, ``$1`` or a lone ``$`` would otherwise be kept as written and
    become a directory named ``${SCRATCH:-`` (a shell would expand it, or fail).
    """

    def value(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        if match.group(4) is not None:
            form = "$" + match.group(4)
            unclosed = " (no closing '}')" if form.startswith("${") and not form.endswith("}") else ""
            raise SpecError(f"{shortened(form)}{unclosed} is not expanded here (in {text!r}): "
                            "write $NAME or ${NAME} for a variable, $$ for a literal $", key)
        name = match.group(2) or match.group(3)
        found = os.environ.get(name)
        if not found:
            state = "is not set" if found is None else "is empty"
            raise SpecError(f"environment variable {name} {state} (in {text!r}; write $$ for a literal $)", key)
        return found

    expanded = _REFERENCE.sub(value, text)
    # ~ as a shell reads it: written at the start, not found in a variable's value
    return os.path.expanduser(expanded) if text.startswith("~") else expanded


def data_location(path: str) -> str:
    """The file or directory a data path names: ``path`` itself, or for ``FILE#INNER``
    (a group inside an HDF5 file, as DeePMD-kit reads ``data.h5#/water``) the ``FILE``,
    when ``path`` is not itself there.  What is checked for and digested: the path as
    a whole never exists, and every training failed with "data path(s) not found"."""
    outer, hash_mark, _ = path.partition("#")
    return outer if hash_mark and outer and not os.path.exists(path) else path


def absent(path: str) -> str | None:
    """Why ``path`` is not found from here: ``"does not exist"``, or ``"cannot be looked at
    from here (Permission denied)"``; None if it is there.  ``os.stat``, not
    ``Path.exists``, which on Python 3.11 raises PermissionError for a path under a
    directory this user cannot enter: data only the workers' account reads gave a
    traceback where a warning was meant."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "does not exist"
    except (OSError, ValueError) as exc:  # EACCES, ELOOP, a name too long; ValueError: a NUL
        return f"cannot be looked at from here ({getattr(exc, 'strerror', None) or exc})"
    return None


#: the most characters an input file of a spec (the spec, a template) is read to: a few
#: kilobytes are expected, and /dev/zero or a dataset named by mistake would be read whole
MAX_INPUT_CHARACTERS = 10_000_000


def read_at_most(path: str | os.PathLike[str], limit: int = MAX_INPUT_CHARACTERS) -> str | None:
    """The text of ``path`` (UTF-8), or None if it holds more than ``limit`` characters,
    which are not read beyond; OSError and UnicodeDecodeError for the caller to say."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read(limit + 1)
    return None if len(text) > limit else text
