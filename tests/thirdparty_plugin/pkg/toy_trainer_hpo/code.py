"""The toy "code": ``python -m toy_trainer_hpo.code input.json`` in a directory.

It stands for a training program: it reads its input file, and writes its errors to
``metrics.csv`` (ZDT1 of the parameters x0, x1, ...: two conflicting objectives).  A
candidate whose x0 is above the input's ``diverge_above`` fails as a diverged training
would: a message on stderr and exit status 1, no metrics.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def main(input_file: str) -> int:
    settings = json.loads(Path(input_file).read_text(encoding="utf-8"))
    x = [settings["params"][name] for name in sorted(settings["params"])]
    if x[0] > settings["diverge_above"]:
        print(f"RuntimeError: the training diverged (x0={x[0]:.3f})", file=sys.stderr)
        return 1
    g = 1 + 9 * sum(x[1:]) / max(1, len(x) - 1)
    energy, force = x[0], g * (1 - math.sqrt(x[0] / g))
    Path("metrics.csv").write_text(f"epoch,energy_rmse,force_rmse\n0,{energy!r},{force!r}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
