"""``python -m dnnp_hpo.plugins.launchers.batch_block SPEC SCHEDULER_FILE NODES`` on bad input.

The batch scripts (configs/dask-batch-node.sh under configs/lsf and configs/slurm) run it
under ``set -euo pipefail`` after Dask has started, then hpo-run with its output.  A spec
that is wrong in any way must not stop it (a traceback, exit 1, would end the job before
hpo-run says what is wrong): it prints a block, and hpo-run, given that block as the
script gives it, says what is wrong in one line naming the file (and the key), exit 2.
What the script itself passes (NODES, the arguments) is refused here: one line, exit 2.
Each case is a real invocation of the module, as the script makes it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from launchers_testutil import REPO, VENV_BIN

HEAD = """\
name: t
seed: 42
run_dir: {run_dir}
space:
  x0: {{type: float, init: [0.0, 1.0], sigma: 0.1}}
  x1: {{type: float, init: [0.0, 1.0], sigma: 0.1}}
objectives:
  - {{name: f1}}
  - {{name: f2}}
trainer: {{plugin: function, callable: "dnnp_hpo.problems:zdt1"}}
optimizer: {{plugin: nsga2, pop_size: 4, generations: 1}}
"""


def batch_block(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dnnp_hpo.plugins.launchers.batch_block", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def dry_run(spec: Path, launcher: str) -> subprocess.CompletedProcess:
    """hpo-run as the batch script runs it, checking only (``--dry-run``)."""
    return subprocess.run([str(VENV_BIN / "hpo-run"), str(spec), "--set", f"launcher={launcher}", "--dry-run"],
                          capture_output=True, text=True, timeout=120, check=False, cwd=spec.parent)


def spec_file(tmp_path: Path, tail: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD.format(run_dir=tmp_path / "run") + tail, encoding="utf-8")
    return path


#: (the spec's last lines, what hpo-run's one line says)
BAD_SPECS = {
    "date": ("launcher: {plugin: dask, retries: 2020-01-01}\n",
             "launcher.retries: expected a whole number, got the date 2020-01-01 (unquoted, YAML reads it as a date"),
    "nan": ("launcher: {plugin: dask, wait_timeout: .nan}\n",
            "launcher.wait_timeout: expected a finite number, got nan"),
    "recursive-alias": ("launcher: &l {plugin: dask, retries: [*l]}\n",
                        "launcher.retries: expected a whole number"),
    "binary": ("launcher: {plugin: dask, shutdown: !!binary aGVsbG8=}\n", "launcher.shutdown:"),
    "tag-elsewhere": ("launcher: {plugin: dask, wait_timeout: 60}\nreport: !!float abc\n",
                      "not valid YAML at line 13: !!float 'abc' is not a float value"),
    "tag-launcher": ("launcher: {plugin: dask, wait_timeout: !!float abc}\n",
                     "not valid YAML at line 12: !!float 'abc' is not a float value"),
}


@pytest.mark.parametrize("case", BAD_SPECS, ids=str)
def test_a_bad_spec_falls_through_to_hpo_runs_one_line(tmp_path: Path, case: str) -> None:
    tail, said = BAD_SPECS[case]
    spec = spec_file(tmp_path, tail)
    done = batch_block(str(spec), str(tmp_path / "scheduler.json"), "4")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.count("\n") == 1
    checked = dry_run(spec, done.stdout.strip())
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert checked.stderr.startswith(f"hpo-run: {spec}: ") and said in checked.stderr
    assert checked.stderr.count("\n") == 1 and "Traceback" not in checked.stderr
    assert not (tmp_path / "run").exists()


def test_a_spec_that_is_not_utf8_falls_through(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(HEAD.format(run_dir=tmp_path / "run").encode() + b"launcher: {plugin: dask}  # \xff\n")
    done = batch_block(str(spec), "s.json", "4")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    checked = dry_run(spec, done.stdout.strip())
    assert checked.returncode == 2
    assert checked.stderr.startswith(f"hpo-run: {spec}: cannot read it: not UTF-8 text (byte 0xff at offset ")
    assert checked.stderr.count("\n") == 1


@pytest.mark.parametrize("path", ["missing.yaml", "/dev/zero", "."], ids=["missing", "endless", "directory"])
def test_a_spec_that_cannot_be_read_falls_through(tmp_path: Path, path: str) -> None:
    done = batch_block(path, "s.json", "2")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout == '{"plugin": "dask", "scheduler_file": "s.json", "min_workers": 2}\n'


def test_a_good_spec_keeps_its_dask_keys_as_json(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "launcher: {plugin: dask, workers: 2, wait_timeout: 9e2, shutdown: true, retries: 1}\n")
    done = batch_block(str(spec), "/w/scheduler.json", " 100")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == ('{"plugin": "dask", "wait_timeout": 900.0, "shutdown": true, "retries": 1, '
                           '"scheduler_file": "/w/scheduler.json", "min_workers": 100}\n')


@pytest.mark.parametrize("nodes", ["abc", "", "0", "-3", "2.5", "1_0", "\u0662", "2 "])
def test_nodes_not_a_count_is_one_line_exit_2(tmp_path: Path, nodes: str) -> None:
    spec = spec_file(tmp_path, "launcher: {plugin: dask}\n")
    done = batch_block(str(spec), "s.json", nodes)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"batch_block: NODES (the number of compute nodes, one Dask worker each) is "
                           f"{nodes!r}: expected a whole number, 1 or more\n")


@pytest.mark.parametrize("args", [[], ["spec.yaml", "s.json"], ["spec.yaml", "s.json", "4", "extra"]], ids=len)
def test_a_wrong_number_of_arguments_is_one_line_exit_2(args: list[str]) -> None:
    done = batch_block(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"batch_block: expected 3 arguments, got {len(args)}: usage: ")
    assert done.stderr.count("\n") == 1


def test_a_block_in_yaml_reads_back_as_it_was() -> None:
    """Strings hpo-run's loader reads as YAML 1.2 numbers stay strings; an !!omap's tuples are lists."""
    import datetime

    from dnnp_hpo.plugins.launchers.batch_block import as_text
    from dnnp_hpo.specfile import parse_yaml

    block = {"plugin": "dask", "retries": [datetime.date(2020, 1, 1), "1e3", "089", ("a", 1)],
             "wait_timeout": float("inf"), "scheduler_file": "1e3", "min_workers": 4}
    text = as_text(block)
    assert "\n" not in text
    assert parse_yaml(text) == {**block, "retries": [datetime.date(2020, 1, 1), "1e3", "089", ["a", 1]]}


def test_aliases_nested_deep_stay_aliases(tmp_path: Path) -> None:
    """Ten aliases nested nine deep: 10**9 values written out as JSON would; hpo-run refuses them."""
    levels = "".join(f"  - &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))
    spec = spec_file(tmp_path, f"lots:\n  - &l0 [1]\n{levels}launcher: {{plugin: dask, retries: *l9}}\n")
    done = batch_block(str(spec), "s.json", "4")
    assert (done.returncode, done.stderr) == (0, "")
    assert len(done.stdout) < 2000


SLURM = REPO / "configs" / "slurm" / "frontier-dask.sbatch"


def run_slurm_script(tmp_path: Path, worker_env: dict, spec: Path, nodes: str) -> subprocess.CompletedProcess:
    """The Slurm batch script as the first node of the job runs it (a real Dask scheduler)."""
    env = {**worker_env, "DNNP_HPO_DIR": str(REPO), "SPEC": str(spec), "VENV": str(VENV_BIN.parent),
           "WORKDIR": str(tmp_path / "job"), "DASK_SCRATCH": str(tmp_path / "scratch"), "NODES": nodes}
    return subprocess.run(["bash", str(SLURM)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180, start_new_session=True, check=False)


def test_the_job_with_a_wrong_kept_key_ends_with_hpo_runs_line(tmp_path: Path, worker_env: dict) -> None:
    spec = spec_file(tmp_path, "launcher: {plugin: dask, workers: 2, retries: 2020-01-01}\n")
    done = run_slurm_script(tmp_path, worker_env, spec, "1")
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.endswith(
        f"hpo-run: {spec}: launcher.retries: expected a whole number, got the date 2020-01-01 (unquoted, YAML reads "
        "it as a date: quote it for text)\n")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "job" / "run").exists() and not (tmp_path / "scratch").exists()


def test_the_job_with_nodes_not_a_number_ends_with_one_line(tmp_path: Path, worker_env: dict) -> None:
    spec = spec_file(tmp_path, "launcher: {plugin: dask, workers: 2}\n")
    done = run_slurm_script(tmp_path, worker_env, spec, "abc")
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.endswith("batch_block: NODES (the number of compute nodes, one Dask worker each) is "
                                "'abc': expected a whole number, 1 or more\n")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "job" / "run").exists() and not (tmp_path / "scratch").exists()
