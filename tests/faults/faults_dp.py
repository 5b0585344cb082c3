"""STAND-IN for ``dp train``: a training program that fails in the ways real ones do.

Real DeePMD-kit does not crash, hang or write a cut-short learning curve on demand, so
the fault tests give the real ``deepmd`` trainer this program as its ``command`` (the
trainer's own code path: input.json rendered, the program run in the evaluation
directory in its own process group, lcurve.out read by column name).

Which fault a run of it injects comes from a plan: ``$FAULTS_PLAN`` names a JSON list of
fault names, and each run claims the next unclaimed one (an O_EXCL file per slot, so
concurrent workers never take the same); once the plan is used up, runs are ``ok``.  The
fault taken is written to ``fault.txt`` in the working directory, so a test can tell
what each evaluation directory was given; ``seen.json`` there holds the program's
arguments and every ``FAULTS_ECHO*`` variable of its environment.  ``$FAULTS_FAULT`` instead forces one fault
for every run.

Faults: ``ok``, ``crash`` (exit 3 with a Python-style error line), ``sigkill`` (killed
by SIGKILL, as by the OOM killer), ``hang`` and ``hang_tree`` (never return; the tree
variant starts a child and a grandchild, and one more process that leaves the process
group with setsid, as daemonising helpers do), ``truncated`` (lcurve.out cut in its first
row), ``empty`` (lcurve.out of 0 bytes), ``nan`` (a NaN energy error), ``garbage``
(binary junk), ``no_lcurve`` (exit 0 and no file), ``wrong_columns`` (no rmse_f_val),
``negative`` (negative errors), ``binary_stderr`` (exit 5, stderr with a NUL, bytes that
are not UTF-8 and a colour code).
``sleep`` sleeps ``$FAULTS_SLEEP`` seconds, then behaves like ``ok``.  ``sel_short``
trains like ``ok`` and logs DeePMD-kit's warning about a ``sel`` too small, as dp 3.1 words
it (tests/deepmd/test_deepmd_trainer.py has the real dp say it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HEADER = "#  step      rmse_val    rmse_trn    rmse_e_val  rmse_e_trn    rmse_f_val  rmse_f_trn         lr\n"


def claim(plan_path: str) -> str:
    """The next unclaimed fault of the plan, or ``ok`` when it is used up."""
    plan = json.loads(Path(plan_path).read_text())
    for slot, fault in enumerate(plan):
        try:
            os.close(os.open(f"{plan_path}.slot-{slot}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        return fault
    return "ok"


def row(step: int, energy: float, force: float) -> str:
    return f"{step:7d} {1.0:11.2e} {1.0:11.2e} {energy:11.2e} {energy:11.2e} {force:11.2e} {force:11.2e} 1.0e-03\n"


def good_lcurve() -> str:
    """A complete learning curve whose last row depends on the rendered input."""
    x = float(json.loads(Path("input.json").read_text()).get("x", 0.5))
    return HEADER + row(0, 1.0, 2.0) + row(100, 0.01 + x, 1.01 - x)


def sleep_forever() -> None:
    while True:
        time.sleep(60)


def start_tree() -> None:
    """A child that starts a grandchild, and a process in a session of its own; every pid
    of the tree goes to ``tree.pids`` (one per line) so a test knows what to look for."""
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)']); "
            "open('tree.pids', 'a').write(f'{p.pid}\\n'); "
            "time.sleep(3600)")
    child = subprocess.Popen([sys.executable, "-c", code])
    detached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], start_new_session=True)
    with open("tree.pids", "a") as handle:
        handle.write(f"{os.getpid()}\n{child.pid}\n{detached.pid}\n")


def main() -> int:
    fault = os.environ.get("FAULTS_FAULT") or claim(os.environ["FAULTS_PLAN"])
    Path("fault.txt").write_text(fault)
    # what reached the program: its arguments and the variables set by the spec, as given
    seen = {"argv": sys.argv, **{k: v for k, v in os.environ.items() if k.startswith("FAULTS_ECHO")}}
    Path("seen.json").write_text(json.dumps(seen))
    if fault == "ok":
        Path("lcurve.out").write_text(good_lcurve())
    elif fault == "sleep":
        time.sleep(float(os.environ.get("FAULTS_SLEEP", "1")))
        Path("lcurve.out").write_text(good_lcurve())
    elif fault == "sel_short":
        for kind, expected, given in ((0, 32, 8), (1, 13, 4)):
            print(f"[2026-12-05 22:58:44,844] DEEPMD WARNING sel of type {kind} is not enough! The expected value is "
                  f"not less than {expected}, but you set it to {given}. The accuracy of your model may get worse.",
                  file=sys.stderr)
        Path("lcurve.out").write_text(good_lcurve())
    elif fault == "crash":
        print("Traceback (most recent call last):\n  File \"train.py\", line 1", file=sys.stderr)
        print("RuntimeError: injected crash of the training", file=sys.stderr)
        return 3
    elif fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault in ("hang", "hang_tree"):
        if fault == "hang_tree":
            start_tree()
        Path("lcurve.out").write_text(HEADER + row(0, 1.0, 2.0))  # a hung training has started its curve
        sleep_forever()
    elif fault == "truncated":
        Path("lcurve.out").write_text(HEADER + row(0, 1.0, 2.0)[:20])
    elif fault == "empty":
        Path("lcurve.out").write_bytes(b"")
    elif fault == "nan":
        Path("lcurve.out").write_text(HEADER + row(0, 1.0, 2.0) + row(100, float("nan"), 0.5))
    elif fault == "garbage":
        Path("lcurve.out").write_bytes(bytes(range(256)) * 4)
    elif fault == "no_lcurve":
        pass
    elif fault == "negative":  # well-formed numbers no training measures
        Path("lcurve.out").write_text(HEADER + row(0, 1.0, 2.0) + row(100, -1.0, -2.0))
    elif fault == "binary_stderr":  # a NUL, bytes that are not UTF-8 and a colour code
        sys.stderr.buffer.write(b"\xff\xfe\x00bad bytes\x80 \x1b[31mRuntimeError: oops\x1b[0m\n")
        return 5
    elif fault == "wrong_columns":
        Path("lcurve.out").write_text("#  step  rmse_e_val  lr\n      0  1.0e-01  1.0e-03\n")
    else:
        print(f"faults_dp: unknown fault {fault!r}", file=sys.stderr)
        return 99
    return 0


if __name__ == "__main__":
    sys.exit(main())
