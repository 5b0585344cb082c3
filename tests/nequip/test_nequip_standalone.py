"""The NequIP plugin stands on core alone: it builds on dnnp_hpo.template, dnnp_hpo.curve
and dnnp_hpo.training, as a third-party trainer does, never on the DeePMD plugin's
modules (a DeePMD-specific change there broke NequIP, and the deepmd plugin could not be
left out without it)."""

from __future__ import annotations

import subprocess
import sys

IMPORTS = """
import sys
import dnnp_hpo.plugins.nequip_stub
print(" ".join(sorted(m for m in sys.modules if m.startswith("dnnp_hpo.plugins.deepmd"))))
"""


def test_the_nequip_plugin_imports_nothing_of_the_deepmd_plugin() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
