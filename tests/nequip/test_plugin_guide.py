"""docs/writing-a-trainer-plugin.md (and docs/nequip.md) stay true to the code.

Every python, toml and yaml block of the guide starts with ``# file: PATH`` and is a
verbatim excerpt of that file (``# ...`` lines mark left-out parts, in order), so a
change to the plugin that the guide shows fails here until the guide follows.  The
example it shows is importable and registered through the entry point.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nequip_testutil import REPO

from dnnp_hpo.registry import load_registry

GUIDE = REPO / "docs" / "writing-a-trainer-plugin.md"
NEQUIP_DOC = REPO / "docs" / "nequip.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
CHECKED = {"python", "toml", "yaml"}


def blocks(doc: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(doc.read_text(encoding="utf-8"))]


def excerpts(doc: Path) -> list[tuple[str, str]]:
    """(path, block) of every block with a ``# file:`` first line."""
    found = []
    for _, body in blocks(doc):
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            found.append((first.removeprefix("# file: ").strip(), rest))
    return found


def test_every_code_block_of_the_guide_names_its_file() -> None:
    checked = [(lang, body) for lang, body in blocks(GUIDE) if lang in CHECKED]
    assert len(checked) >= 10
    for lang, body in checked:
        assert body.startswith("# file: "), f"a {lang} block of the guide names no file:\n{body[:200]}"


@pytest.mark.parametrize(("path", "block"), excerpts(GUIDE) + excerpts(NEQUIP_DOC),
                         ids=lambda value: value.splitlines()[0][:40] if "\n" in value else value)
def test_each_block_is_a_verbatim_excerpt_of_its_file(path: str, block: str) -> None:
    source = (REPO / path).read_text(encoding="utf-8")
    position = 0
    for chunk in re.split(r"^[ \t]*# \.\.\.[ \t]*\n", block, flags=re.MULTILINE):
        chunk = chunk.strip("\n")
        found = source.find(chunk, position)
        assert chunk and found >= 0, f"{path} no longer holds (in this order):\n{chunk}"
        position = found + len(chunk)


def test_the_example_is_registered_through_the_entry_point() -> None:
    registered = load_registry().components["trainers"]["nequip"]
    assert registered.distribution == "dnnp-hpo"
    assert registered.cls.__module__ == "dnnp_hpo.plugins.nequip_stub.trainer"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'nequip = "dnnp_hpo.plugins.nequip_stub"' in pyproject


def test_the_guide_names_only_paths_that_exist() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for path in set(re.findall(r"`((?:core|plugins|tests|docs|configs)/[\w./-]+)`", text)):
        assert (REPO / path).exists(), f"the guide names {path}, which does not exist"
