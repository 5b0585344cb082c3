"""The do-nothing "training" of the overhead benchmark: input.json in, a valid lcurve.out out.

Standard library only, so the command costs no more than starting Python.  The energy
and force columns are ZDT1 of the input's ``x`` so that the optimizer has a problem.
An optional argument is a time to sleep first, in seconds (the scaling benchmark: a
training that waits rather than computes).
"""

import json
import math
import sys
import time

if len(sys.argv) > 1:
    time.sleep(float(sys.argv[1]))

with open("input.json", encoding="utf-8") as fh:
    x = [float(v) for v in json.load(fh)["x"]]
g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
e, f = x[0], g * (1.0 - math.sqrt(x[0] / g))
with open("lcurve.out", "w", encoding="utf-8") as fh:
    fh.write("#  step      rmse_val    rmse_trn    rmse_e_val  rmse_e_trn    rmse_f_val  rmse_f_trn         lr\n")
    fh.write(f"{0:7d} {1:11.3e} {1:11.3e} {e:11.6e} {e:11.6e} {f:11.6e} {f:11.6e} {1e-3:10.1e}\n")
