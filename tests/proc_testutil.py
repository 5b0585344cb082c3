"""Finding the processes a test started, among every other test's (Linux /proc)."""

from __future__ import annotations

from pathlib import Path


def processes_with(variable: str, value: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose environment has ``variable=value``: (pid, command line).

    A process inherits its parent's environment, also one that left the process group,
    so a value unique to a test finds all that test started, and none of another test
    running beside it (pytest-xdist).
    """
    needle = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile, or not ours to read
        found.append((int(entry.name), cmdline.strip()))
    return found
