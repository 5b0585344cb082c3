"""Trainer callables and a third-party style plugin for the core tests.

Imported by Dask worker processes (see conftest.py), so keep it dependency-free.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

import attrs

from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.problems import zdt1


def failing_by_x0(params):
    """ZDT1, except that the band of x0 picks a failure mode (checked per row by the tests).

    x0 < 0.2 raises, 0.2 <= x0 < 0.4 returns NaN, 0.4 <= x0 < 0.6 returns three values.
    """
    x0 = params["x0"]
    if x0 < 0.2:
        raise RuntimeError(f"boom at x0={x0}")
    if x0 < 0.4:
        return (float("nan"), 1.0)
    if x0 < 0.6:
        return (1.0, 2.0, 3.0)
    return zdt1(params)


def zdt1_refusing_x0_ge_x1(params):
    """ZDT1 that raises when x0 >= x1: a trainer must never see an infeasible candidate."""
    if not params["x0"] < params["x1"]:
        raise AssertionError(f"the trainer received an infeasible candidate {params}")
    return zdt1(params)



def sum_of_widths(params):
    """Two objectives of a list-valued parameter ``widths`` and a float ``x``."""
    widths = params["widths"]
    assert isinstance(widths, list) and all(isinstance(w, int) for w in widths), widths
    return (float(sum(widths)), float(params["x"]) + 1000.0 / sum(widths))


# ---- a third-party parameter type: a list of layer widths from one gene ----------------


@attrs.frozen
class LayerWidths:
    """``{type: widths, depth: 3, init: [3, 7], sigma: 0.5}``: gene g -> [2**round(g)] * depth."""

    depth: int
    init: tuple[float, float]
    sigma: float

    @property
    def gene_init(self):
        return self.init

    @property
    def gene_bounds(self):
        return self.init

    def decode(self, gene):
        return [int(2 ** round(gene))] * self.depth


class WidthsPlugin:
    """Registered in-process through load_registry(extra_plugins=...)."""

    @hookimpl
    def dnnp_hpo_parameter_types(self):
        return {"widths": LayerWidths}





def two_spheres(params):
    """Two objectives of any numeric parameters: distance to 0 and to 1 (never fails)."""
    values = [float(v) for v in params.values()]
    return (sum(v * v for v in values) / len(values), sum((v - 1.0) ** 2 for v in values) / len(values))


def near_the_limits(params):
    """Energy just above the default 0.004 eV/atom limit, force just under 0.04 eV/A, for
    every candidate: 4 digits would print both as the limits themselves."""
    return (0.0040004, 0.0399999)


def slow_zdt1(params):
    """ZDT1 after half a second (``$HPO_TEST_SLEEP`` seconds if set): a run that lasts long
    enough to meet a second driver, or a signal; a resume that only has to finish sets 0."""
    import os
    import time

    time.sleep(float(os.environ.get("HPO_TEST_SLEEP", "0.5")))
    return zdt1(params)


def _scaled_zdt1(params, scale):
    return [scale * f for f in zdt1(params)]


@functools.wraps(_scaled_zdt1)
def decorated_zdt1(params):
    """A decorator's wrapper (functools.wraps): called with the parameters alone, though
    the function it wraps takes two arguments."""
    return _scaled_zdt1(params, 1.0)


def zdt1_crashing_its_worker(params):
    """ZDT1 that takes its Dask worker process down for x0 > 0.7, as a crash in an
    in-process trainer (a segfault in a C extension) does: Dask retries it on other
    workers until it gives up (KilledWorker), and the nannies restart the dead ones."""
    import os

    if params["x0"] > 0.7:
        os._exit(1)
    return zdt1(params)


def crashing_its_worker(params):
    """Every training takes its Dask worker down (a crash in an in-process trainer)."""
    import os

    os._exit(1)


def zdt1_as_mapping(params):
    """ZDT1's objectives named, as any trainer returns its metrics, with one more metric."""
    f1, f2 = zdt1(params)
    return {"f1": f1, "f2": f2, "g": f2 / max(1e-12, 1.0 - f1 ** 0.5) if f1 < 1 else 0.0}


def one_number(params):
    """A callable's mistake: one number, not one per objective."""
    return params["x0"]


def failing_generator(params):
    """Yields one value, then fails with its own TypeError."""
    yield params["x0"]
    yield params["x0"] + "text"


class _TermAtTeardown:
    """Sends its own process SIGTERM when the interpreter tears this module down, after
    it has put the signals that had Python handlers back to their defaults."""

    def __del__(self, kill=os.kill, getpid=os.getpid, term=signal.SIGTERM):
        kill(getpid(), term)


if os.environ.get("HPO_TEST_TERM_AT_TEARDOWN") and os.path.basename(sys.argv[0]) == "hpo-run":
    _TERM_AT_TEARDOWN = _TermAtTeardown()  # a module global: freed in the teardown


def zdt1_with_odd_metrics(params):
    """ZDT1 with metrics beside the objectives: one named like a column of the report's
    tables (``uuid``), one named like a parameter (``x1``), one NaN, and one recorded for
    some candidates only (as DeePMD's sel_shortfall is, when neighbours were cut)."""
    f1, f2 = zdt1(params)
    metrics = {"f1": f1, "f2": f2, "uuid": 1.0, "x1": 2.0, "spread": float("nan")}
    if params["x0"] > 0.5:
        metrics["cut"] = 7.0
    return metrics
