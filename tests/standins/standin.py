#!/usr/bin/env python3
"""STAND-INS for batch schedulers and job launchers that cannot exist on a test machine.

There is no LSF and no Slurm here, so the tests put ``tests/standins/bin`` first on PATH.
Its entries (``bsub bjobs bkill jsrun``, ``sbatch squeue scancel sacct srun``) are all
this one script, which looks at the name it was called by.  They are NOT schedulers:

* ``bsub SCRIPT`` / ``sbatch SCRIPT`` run the job script at once, locally, in the
  background (its own process group), with the caller's environment, the ``#BSUB -o/-e``
  or ``#SBATCH --output/--error`` files and the usual job variables (``LSB_JOBID``,
  ``SLURM_JOB_ID``, ``SLURM_JOB_NAME``...), and print the submission line Parsl parses.
* ``bjobs -noheader -o 'jobid stat' ID...`` prints ``ID RUN|DONE|EXIT`` lines and
  ``squeue --noheader --format='%i %t' --job ID,...`` prints ``ID R`` for live jobs
  (a finished job is absent, as with the real squeue); the formats are those Parsl's
  LSFProvider and SlurmProvider read.  ``sacct`` says accounting is disabled, so Parsl
  falls back to squeue as it does on many sites.
* ``bkill ID...`` / ``scancel ID...`` kill the job's process group.
* ``jsrun [options] CMD...`` / ``srun [options] CMD...`` record their arguments (one JSON
  line in ``$STANDIN_LOG``) and run CMD locally ``-n``/``--ntasks`` times (default once),
  returning the worst exit status: the tests assert through them that a command was
  launched with the configured prefix.

State (job ids, pids, exit codes) lives in ``$STANDIN_STATE_DIR``.  Standard library only.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path


def state_dir() -> Path:
    path = Path(os.environ.get("STANDIN_STATE_DIR") or f"/tmp/hpo-standins-{os.getuid()}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(tool: str, argv: list[str]) -> None:
    log = os.environ.get("STANDIN_LOG")
    if log:
        line = json.dumps({"tool": tool, "argv": argv, "cwd": os.getcwd(), "pid": os.getpid(),
                           "time": time.time()})
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def next_job_id() -> str:
    counter = state_dir() / "counter"
    with open(counter, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        value = int(handle.read().strip() or "1000") + 1
        handle.seek(0)
        handle.truncate()
        handle.write(str(value))
    return str(value)


def directives(script: Path, prefix: str) -> list[str]:
    """The words of every ``#BSUB`` / ``#SBATCH`` line, in order."""
    words: list[str] = []
    for line in script.read_text(encoding="utf-8").splitlines():
        if line.startswith(prefix):
            words += shlex.split(line[len(prefix):])
    return words


def option(words: list[str], *names: str, default: str = "") -> str:
    for i, word in enumerate(words):
        for name in names:
            if word == name and i + 1 < len(words):
                return words[i + 1]
            if name.startswith("--") and word.startswith(name + "="):
                return word.partition("=")[2]
    return default


def start_job(script: Path, stdout: str, stderr: str, env: dict[str, str]) -> str:
    job_id = env.get("LSB_JOBID") or env["SLURM_JOB_ID"]
    job = state_dir() / job_id
    job.mkdir()
    rc_file = job / "rc"
    with open(stdout or os.devnull, "ab") as out, open(stderr or os.devnull, "ab") as err:
        proc = subprocess.Popen(
            ["/bin/bash", "-c", 'bash "$1"; echo $? > "$2"', "standin-job", str(script), str(rc_file)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env={**os.environ, **env},
            start_new_session=True, cwd=os.getcwd(),
        )
    (job / "pid").write_text(str(proc.pid))
    return job_id


def job_state(job_id: str) -> str:
    """pending-free life cycle: running, done, failed or cancelled (unknown: missing)."""
    job = state_dir() / job_id
    if not job.is_dir():
        return "missing"
    if (job / "cancelled").exists():
        return "cancelled"
    rc = job / "rc"
    if rc.exists() and rc.read_text().strip():
        return "done" if rc.read_text().strip() == "0" else "failed"
    try:
        os.kill(int((job / "pid").read_text()), 0)
        return "running"
    except (OSError, ValueError):
        return "failed"


def cancel(job_ids: list[str]) -> int:
    status = 0
    for job_id in job_ids:
        job = state_dir() / job_id
        try:
            pgid = int((job / "pid").read_text())
        except (OSError, ValueError):
            print(f"{job_id}: no such job", file=sys.stderr)
            status = 1
            continue
        (job / "cancelled").touch()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.3)
    return status


# -- LSF ------------------------------------------------------------------------------


def bsub(args: list[str]) -> int:
    script = Path(args[-1]) if args else None
    if script is None or not script.is_file():  # `bsub < SCRIPT`
        text = sys.stdin.read()
        script = state_dir() / f"stdin-{time.time()}.lsf"
        script.write_text(text)
    words = directives(script, "#BSUB")
    job_id = next_job_id()
    name = option(words, "-J", default=script.name)
    env = {"LSB_JOBID": job_id, "LSB_JOBNAME": name, "LSB_HOSTS": "batch1 node1",
           "LSB_DJOB_HOSTFILE": str(state_dir() / "hostfile")}
    (state_dir() / "hostfile").write_text("batch1\nnode1\n")
    start_job(script, option(words, "-o"), option(words, "-e"), env)
    print(f"Job <{job_id}> is submitted to default queue <standin>.")
    return 0


LSF_STATES = {"running": "RUN", "done": "DONE", "failed": "EXIT", "cancelled": "EXIT"}


def bjobs(args: list[str]) -> int:
    ids = [a for a in args if re.fullmatch(r"\d+", a)]
    for job_id in ids:
        state = job_state(job_id)
        if state == "missing":
            print(f"Job <{job_id}> is not found", file=sys.stderr)
        else:
            print(f"{job_id} {LSF_STATES[state]}")
    return 0


def bkill(args: list[str]) -> int:
    ids = [a for a in args if re.fullmatch(r"\d+", a)]
    status = cancel(ids)
    for job_id in ids:
        print(f"Job <{job_id}> is being terminated")
    return status


# -- Slurm ----------------------------------------------------------------------------


def sbatch(args: list[str]) -> int:
    script = Path(args[-1])
    words = directives(script, "#SBATCH")
    job_id = next_job_id()
    nodes = option(words, "--nodes", "-N", default="1")
    env = {"SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id,
           "SLURM_JOB_NAME": option(words, "--job-name", "-J", default=script.name),
           "SLURM_JOB_NUM_NODES": nodes, "SLURM_NNODES": nodes,
           "SLURM_CPUS_ON_NODE": str(os.cpu_count() or 1), "SLURM_NODELIST": "node1"}
    start_job(script, option(words, "--output", "-o"), option(words, "--error", "-e"), env)
    print(f"Submitted batch job {job_id}")
    return 0


def squeue(args: list[str]) -> int:
    ids = option(args, "--job", "-j").split(",") if option(args, "--job", "-j") else []
    for job_id in ids:
        if job_state(job_id) == "running":
            print(f"{job_id} R")
    return 0


def sacct(args: list[str]) -> int:
    print("Slurm accounting storage is disabled", file=sys.stderr)
    return 1


def scancel(args: list[str]) -> int:
    return cancel([a for a in args if re.fullmatch(r"\d+", a)])


# -- job launchers ----------------------------------------------------------------------

#: options that take no value (everything else starting with '-' takes the next word)
FLAGS = {
    "jsrun": set(),
    "srun": {"-l", "--label", "--exclusive", "--exact", "--overlap", "-K", "--kill-on-bad-exit",
             "-u", "--unbuffered", "-Q", "--quiet", "-v", "--verbose"},
}
COUNT = {"jsrun": ("-n", "--nrs", "--np"), "srun": ("-n", "--ntasks")}


def launch(tool: str, args: list[str]) -> int:
    record(tool, args)
    copies, i = 1, 0
    while i < len(args) and args[i].startswith("-"):
        word = args[i]
        name, eq, value = word.partition("=")
        if word in FLAGS[tool]:
            i += 1
            continue
        if not eq:
            value = args[i + 1] if i + 1 < len(args) else ""
            i += 1
        if name in COUNT[tool]:
            copies = int(value)
        i += 1
    command = args[i:]
    if not command:
        print(f"{tool} (stand-in): no command given", file=sys.stderr)
        return 2
    procs = []
    for rank in range(copies):
        env = {**os.environ, "STANDIN_RANK": str(rank)}
        if tool == "srun":
            env.update(SLURM_PROCID=str(rank), SLURM_NTASKS=str(copies))
        else:
            env.update(JSM_NAMESPACE_RANK=str(rank), JSM_NAMESPACE_SIZE=str(copies))
        procs.append(subprocess.Popen(command, env=env))
    return max(p.wait() for p in procs)


TOOLS = {
    "bsub": bsub, "bjobs": bjobs, "bkill": bkill,
    "sbatch": sbatch, "squeue": squeue, "sacct": sacct, "scancel": scancel,
    "jsrun": lambda a: launch("jsrun", a), "srun": lambda a: launch("srun", a),
}


def main() -> int:
    tool = Path(sys.argv[0]).name
    if tool not in TOOLS:
        print(f"standin: called as {tool!r}; expected one of {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    if tool not in ("jsrun", "srun"):
        record(tool, sys.argv[1:])
    return TOOLS[tool](sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
