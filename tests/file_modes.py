"""Running a command with file modes obeyed, for tests of read-only files and directories.

Root ignores file modes, so as root the command runs under ``setpriv`` without the
capabilities that let it read and write anywhere.  A module at the top of tests/ (on
sys.path through tests/conftest.py) so that every test folder imports the one copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def unprivileged() -> list[str]:
    """The command prefix under which file modes are obeyed (none needed unless root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: read-only modes would not apply")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]


def journal_not_a_file(run: Path, kind: str) -> None:
    """Make ``run/journal.sqlite`` a directory or a FIFO (``kind``), in a new ``run``."""
    run.mkdir()
    if kind.lower() == "directory":
        (run / "journal.sqlite").mkdir()
    else:
        os.mkfifo(run / "journal.sqlite")
