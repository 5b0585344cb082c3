"""A fixed ``sel`` too small for a candidate's ``rcut``: measured, and told once per run.

DeePMD-kit counts the neighbours within ``rcut`` before training (unless
``--skip-neighbor-stat``); when a type's count exceeds the template's fixed ``sel`` it
trains all the same, with the neighbour lists cut to ``sel``, and only logs "sel of type
0 is not enough! The expected value is not less than 32, but you set it to 8".  Such a
model can rank well while being unfit for dynamics, and a search over ``rcut`` favours
or punishes it for a reason that is not the cutoff.  Each training's shortfall is
recorded as the metric :data:`SEL_SHORTFALL` (the largest number of neighbours cut, over
the types), and the first one of a run is told on stderr and in launcher.log.
"""

from __future__ import annotations

import re
from pathlib import Path

from dnnp_hpo.evaluation import Evaluation
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.notice import notice
from dnnp_hpo.run import RunContext
from dnnp_hpo.training import STDERR, STDOUT

#: metric: how many neighbours DeePMD-kit cut, for the type short by the most (absent: none)
SEL_SHORTFALL = "sel_shortfall"

_NOT_ENOUGH = re.compile(r"sel of type (\d+) is not enough! The expected value is not less than (\d+), "
                         r"but you set it to (\d+)")

#: the run directories already told of a shortfall (the hook runs in the driver)
_told: set[Path] = set()


def sel_shortfall(workdir: Path) -> int:
    """The largest ``expected - sel`` DeePMD-kit logged in ``workdir`` (0: none)."""
    shortfall = 0
    for name in (STDERR, STDOUT):  # DeePMD-kit logs to stderr; a launcher may merge the two
        try:
            # line by line: a long training's log may be large, and it is read for every
            # evaluation (DeePMD-kit writes the message on one line)
            with open(workdir / name, encoding="utf-8", errors="replace") as log:
                for line in log:
                    for _type, expected, given in _NOT_ENOUGH.findall(line):
                        shortfall = max(shortfall, int(expected) - int(given))
        except OSError:
            continue
    return shortfall


def cutoffs(params: dict[str, object]) -> str:
    """The candidate's cutoff parameters, as the warning names them: ``rcut=4.296``, not
    the 16 digits of a searched float."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items() if "rcut" in k)


@hookimpl
def dnnp_hpo_evaluation_finished(run: RunContext, evaluation: Evaluation) -> None:
    from .trainer import DeepmdTrainer

    short = evaluation.metrics.get(SEL_SHORTFALL, 0.0)
    if not short > 0 or run.run_dir in _told or not isinstance(run.experiment.trainer, DeepmdTrainer):
        return
    _told.add(run.run_dir)
    params = cutoffs(evaluation.trial.params)
    notice(run, f"warning: birth {evaluation.trial.birth_id}{f' ({params})' if params else ''}: DeePMD-kit cut "
                f"its neighbour lists to the template's sel, up to {short:g} neighbours short (its stderr.log "
                "says which type); such a model may rank well and be unfit for dynamics: use sel: \"auto\" or a "
                "sel that fits the largest rcut searched; the journal's metrics record each training's "
                f"{SEL_SHORTFALL} (docs/deepmd.md)")
