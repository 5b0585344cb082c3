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
  line in ``$STANDIN_LOG``), read the options as the real tools do (``LAUNCH_OPTIONS``:
  ``-n1`` or ``-n 1``, ``--ntasks=8`` or ``--ntasks 8``, flags; an option the stand-in
  does not know is refused, exit 1) and run CMD locally once per task the real tool
  would start (jsrun: ``-n`` resource sets x ``-a`` tasks each, or ``-p``; srun: ``-n``,
  else one per node), returning the worst exit status: the tests assert through them
  that a command was launched with the configured prefix.  Their tasks get the step's
  variables (srun: ``SLURM_STEP_ID``, ``SLURM_PROCID``...; jsrun: ``JSM_NAMESPACE_RANK``...)
  and ``STANDIN_STEP``; a jsrun or srun started inside such a step is refused (exit 1,
  "would wait for resources held by step ..."), as a real cluster would block it until
  the time limit: the step holds its node's cores and GPUs.  ``srun --overlap`` (in the
  inner or the outer step) shares them and runs.

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
    return next_number("counter", 1000)


def next_number(name: str, before_first: int) -> str:
    """The next value of the counter file ``name`` in the state directory (locked)."""
    counter = state_dir() / name
    with open(counter, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        value = int(handle.read().strip() or str(before_first)) + 1
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

NONE, REQUIRED, OPTIONAL = "none", "required", "optional"

#: The options each launcher stand-in knows: (short letter or None, long name, argument).
#: Parsed as the real commands parse them (getopt_long, stopping at the first word that is
#: no option): a short option's value attached (``-n1``, ``-bpacked:7``) or the next word
#: (``-n 1``), short flags grouped (``-lu``), a long option's value after ``=`` or as the
#: next word (``--ntasks=8``, ``--nrs 1``), an unambiguous prefix of a long name, ``--``
#: ending the options.  An OPTIONAL argument is only taken attached (``-K1``,
#: ``--exclusive=user``).  Any other option is refused, as the real tool refuses it.
LAUNCH_OPTIONS: dict[str, list[tuple[str | None, str, str]]] = {
    # IBM JSM's jsrun (Summit): resource sets (-n) of -a tasks, -c CPUs and -g GPUs each.
    "jsrun": [
        ("n", "nrs", REQUIRED), ("a", "tasks_per_rs", REQUIRED), ("c", "cpu_per_rs", REQUIRED),
        ("g", "gpu_per_rs", REQUIRED), ("r", "rs_per_host", REQUIRED), ("K", "rs_per_socket", REQUIRED),
        ("m", "memory_per_rs", REQUIRED), ("b", "bind", REQUIRED), ("d", "launch_distribution", REQUIRED),
        ("l", "latency_priority", REQUIRED), ("p", "np", REQUIRED), ("h", "chdir", REQUIRED),
        ("E", "env", REQUIRED), ("F", "env_eval", REQUIRED), ("D", "env_no_propagate", REQUIRED),
        ("e", "stdio_mode", REQUIRED), ("o", "stdio_stdout", REQUIRED), ("k", "stdio_stderr", REQUIRED),
        ("M", "smpiargs", REQUIRED), ("X", "exit_on_error", REQUIRED), ("f", "erf_input", REQUIRED),
    ],
    # Slurm's srun (Frontier).
    "srun": [
        ("N", "nodes", REQUIRED), ("n", "ntasks", REQUIRED), ("c", "cpus-per-task", REQUIRED),
        (None, "ntasks-per-node", REQUIRED), ("G", "gpus", REQUIRED), (None, "gpus-per-task", REQUIRED),
        (None, "gpus-per-node", REQUIRED), (None, "gpu-bind", REQUIRED), (None, "cpu-bind", REQUIRED),
        (None, "gres", REQUIRED), (None, "mem", REQUIRED), (None, "mem-per-cpu", REQUIRED),
        (None, "mem-per-gpu", REQUIRED), ("t", "time", REQUIRED), ("J", "job-name", REQUIRED),
        ("o", "output", REQUIRED), ("e", "error", REQUIRED), ("i", "input", REQUIRED),
        ("D", "chdir", REQUIRED), ("p", "partition", REQUIRED), ("A", "account", REQUIRED),
        ("q", "qos", REQUIRED), ("C", "constraint", REQUIRED), ("w", "nodelist", REQUIRED),
        ("x", "exclude", REQUIRED), ("m", "distribution", REQUIRED), (None, "export", REQUIRED),
        (None, "mpi", REQUIRED), (None, "threads-per-core", REQUIRED), (None, "hint", REQUIRED),
        ("W", "wait", REQUIRED),
        ("l", "label", NONE), (None, "exact", NONE), (None, "overlap", NONE), ("u", "unbuffered", NONE),
        ("Q", "quiet", NONE), ("v", "verbose", NONE), ("s", "oversubscribe", NONE), ("X", "disable-status", NONE),
        ("E", "preserve-env", NONE), (None, "exclusive", OPTIONAL), ("K", "kill-on-bad-exit", OPTIONAL),
        ("I", "immediate", OPTIONAL),
    ],
}


class Refused(Exception):
    """A command line the real tool would refuse (its message; the exit status is 1)."""


def parse_launch(tool: str, args: list[str]) -> tuple[dict[str, str], list[str]]:
    """``{long name: value ('' for a flag)}`` and the command, as ``tool`` reads ``args``."""
    table = LAUNCH_OPTIONS[tool]
    shorts = {short: (name, arg) for short, name, arg in table if short}
    longs = {name: arg for _short, name, arg in table}
    known = ", ".join(f"-{s}/--{n}" if s else f"--{n}" for s, n, _ in table)
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--"):
            given, eq, value = word[2:].partition("=")
            matches = [given] if given in longs else [n for n in longs if n.startswith(given)]
            if len(matches) != 1:
                what = "is ambiguous" if matches else "is not an option"
                raise Refused(f"unrecognized option '--{given}': it {what} of the real {tool} "
                              f"(the stand-in knows {known})")
            name, arg = matches[0], longs[matches[0]]
            if arg == NONE and eq:
                raise Refused(f"option '--{name}' doesn't allow an argument")
            if arg == REQUIRED and not eq:
                if i + 1 >= len(args):
                    raise Refused(f"option '--{name}' requires an argument")
                i += 1
                value = args[i]
            options[name] = value
        elif word.startswith("-") and word != "-":
            j = 1
            while j < len(word):
                letter = word[j]
                if letter not in shorts:
                    raise Refused(f"invalid option -- '{letter}' in {word!r} (the stand-in knows {known})")
                name, arg = shorts[letter]
                rest = word[j + 1:]
                if arg == NONE:
                    options[name] = ""
                    j += 1
                    continue
                if arg == REQUIRED and not rest:
                    if i + 1 >= len(args):
                        raise Refused(f"option requires an argument -- '{letter}'")
                    i += 1
                    rest = args[i]
                options[name] = rest
                break
        else:
            break
        i += 1
    return options, args[i:]


def count(options: dict[str, str], name: str, default: int = 1) -> int:
    """A count option's value (a Slurm range ``2-4`` counts its minimum)."""
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value.split("-")[0] if name == "nodes" else value)
    except ValueError:
        raise Refused(f"--{name}: invalid number {value!r}") from None
    if number < 1:
        raise Refused(f"--{name}: must be at least 1, got {value!r}")
    return number


def tasks(tool: str, options: dict[str, str]) -> int:
    """How many copies the real tool would start: jsrun runs -n resource sets of -a tasks
    each (or -p tasks); srun runs -n tasks (else --ntasks-per-node per node, else one per node)."""
    if tool == "jsrun":
        if "np" in options:
            return count(options, "np")
        return count(options, "nrs") * count(options, "tasks_per_rs")
    if "ntasks" in options:
        return count(options, "ntasks")
    return count(options, "nodes") * count(options, "ntasks-per-node")


def launch(tool: str, args: list[str]) -> int:
    record(tool, args)
    try:
        options, command = parse_launch(tool, args)
        copies = tasks(tool, options)
    except Refused as exc:
        print(f"{tool} (stand-in): {exc}", file=sys.stderr)
        return 1
    if not command:
        print(f"{tool} (stand-in): no command given", file=sys.stderr)
        return 2
    held = os.environ.get("STANDIN_STEP")
    overlap = "overlap" in options or os.environ.get("STANDIN_STEP_OVERLAP") == "1"
    if held and not (tool == "srun" and overlap):
        print(f"{tool} (stand-in): would wait for resources held by step {held}: this {tool} runs inside that "
              f"step, which holds its node's cores and GPUs, and a real cluster would block here until "
              f"the job's time limit" + (" (srun --overlap may share them)" if tool == "srun" else
                                         " (start it from the batch script, not from inside a jsrun step)"),
              file=sys.stderr)
        return 1
    job = os.environ.get("SLURM_JOB_ID" if tool == "srun" else "LSB_JOBID") or "0"
    step_id = next_number(f"steps-{job}", -1)
    procs = []
    for rank in range(copies):
        # What the real tools put in their tasks' environment (the step and rank), and the
        # stand-in's own mark of the step, so that a step started inside it is caught.
        env = {**os.environ, "STANDIN_RANK": str(rank), "STANDIN_STEP": f"{job}.{step_id} ({tool})",
               "STANDIN_STEP_OVERLAP": "1" if "overlap" in options else "0"}
        if tool == "srun":
            env.update(SLURM_STEP_ID=step_id, SLURM_STEPID=step_id, SLURM_PROCID=str(rank),
                       SLURM_LOCALID=str(rank), SLURM_NTASKS=str(copies), SLURM_NPROCS=str(copies),
                       SLURM_STEP_NUM_TASKS=str(copies))
        else:
            env.update(JSM_NAMESPACE_RANK=str(rank), JSM_NAMESPACE_SIZE=str(copies),
                       JSM_NAMESPACE_LOCAL_RANK=str(rank), JSM_NAMESPACE_LOCAL_SIZE=str(copies))
        try:
            procs.append(subprocess.Popen(command, env=env))
        except OSError as exc:
            print(f"{tool} (stand-in): cannot run {command[0]!r}: {exc}", file=sys.stderr)
            for proc in procs:
                proc.wait()
            return 127
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
