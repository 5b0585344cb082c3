"""What hpo-run prints when its output is a batch job's log, not a terminal."""

from __future__ import annotations

import re
import subprocess

import pytest
from hpo_testutil import read_csv, run_cli, subprocess_env, write_spec, zdt_spec

#: long names, as DeePMD's (fitting_activ_func...), so the front table is wider than 80 columns
NAMES = [f"hyperparameter_with_a_long_name_{i}" for i in range(6)]


@pytest.mark.parametrize("colour", [{}, {"FORCE_COLOR": "1"}], ids=["plain", "FORCE_COLOR"])
def test_a_log_gets_the_front_table_at_its_natural_width(tmp_path, hpo_run_exe, monkeypatch, colour):
    # Rich assumes 80 columns off a terminal and would fold every name and value over
    # several lines; in a log nothing needs to fit, so each row stays on one line.  Also
    # with FORCE_COLOR (CI, batch set-ups), which rich takes for a terminal: the front
    # came in two 80-column tables (helper-123).
    monkeypatch.delenv("COLUMNS", raising=False)
    run_dir = tmp_path / "a-run-directory-whose-path-is-long-enough-to-wrap-at-eighty-columns"
    spec = zdt_spec(run_dir, n=len(NAMES), pop_size=6, generations=1, callable_="hpo_testfuncs:two_spheres")
    spec["space"] = {name: {"type": "float", "init": [0.0, 1.0], "sigma": 0.1} for name in NAMES}
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path, **colour)
    assert proc.returncode == 0, proc.stderr
    lines = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).splitlines()  # FORCE_COLOR's colours
    assert all(name in proc.stdout for name in NAMES)

    header = next((line for line in lines if NAMES[0] in line), proc.stdout)
    assert all(name in header for name in NAMES), header
    assert max(map(len, lines)) > 80  # the table really is wider than rich's default
    assert any(f"Run directory: {run_dir.resolve()} (" in line and line.endswith("final population)")
               for line in lines), proc.stdout

    final = max(int(r["pop_generation"]) for r in read_csv(run_dir / "pop.csv"))
    front = [r for r in read_csv(run_dir / "pop.csv") if int(r["pop_generation"]) == final and r["rank"] == "1"]
    rows = [line for line in lines if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert len(rows) == len(front)  # one line per solution of the front, none folded


def test_the_front_table_judges_chemical_accuracy_as_hpo_report_does(tmp_path, hpo_run_exe, monkeypatch):
    """Units with a default limit (here meV: 4 meV/atom, 40 meV/A) give the front table its
    'chemically accurate' column, as they give hpo-report its accurate set; hpo-run showed
    it only with report.chemical_accuracy in the spec, so the two disagreed."""
    monkeypatch.delenv("COLUMNS", raising=False)
    spec = zdt_spec(tmp_path / "run", pop_size=6, generations=1, callable_="hpo_testfuncs:two_spheres")
    spec["objectives"] = [{"name": "f1", "unit": "meV/atom"}, {"name": "f2", "unit": "meV/Å"}]
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("│") for line in proc.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    header = " ".join(line for line in proc.stdout.splitlines() if "chemically" in line or "accurate" in line)
    assert "chemically" in header and "accurate" in header, proc.stdout
    final = max(int(r["pop_generation"]) for r in read_csv(tmp_path / "run" / "pop.csv"))
    front = [r for r in read_csv(tmp_path / "run" / "pop.csv") if int(r["pop_generation"]) == final and r["rank"] == "1"]
    expected = sorted("yes" if float(r["f1"]) <= 4 and float(r["f2"]) <= 40 else "no" for r in front)
    assert sorted(row[-2].strip() for row in rows) == expected
    # and says which limits it judged by, under the table
    assert "chemically accurate: f1 <= 4 meV/atom, f2 <= 40 meV/Å" in proc.stdout, proc.stdout


def test_the_front_table_shows_a_value_on_its_side_of_the_limit(tmp_path, hpo_run_exe, monkeypatch):
    """0.0040004 eV/atom was printed "0.004" beside "no", and 0.0399999 eV/A "0.04" (a
    review's): as many digits as put each on its side of its limit, as summary.md does."""
    monkeypatch.delenv("COLUMNS", raising=False)
    spec = zdt_spec(tmp_path / "run", pop_size=2, generations=0, callable_="hpo_testfuncs:near_the_limits")
    spec["objectives"] = [{"name": "energy_rmse", "unit": "eV/atom"}, {"name": "force_rmse", "unit": "eV/A"}]
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [[cell.strip() for cell in line.split("│")] for line in proc.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert rows and all(row[-4:-1] == ["0.0040004", "0.0399999", "no"] for row in rows), proc.stdout


def test_square_brackets_in_the_users_text_are_printed_as_written(tmp_path, hpo_run_exe):
    """rich read '[/x]' in a run_dir as a closing tag: a finished run ended with
    'internal error: MarkupError', exit 4; a choice '[red]a' was shown as 'a'."""
    spec = zdt_spec(tmp_path / "mk[/x]:smile:", pop_size=4, generations=1, callable_="hpo_testfuncs:two_spheres")
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # ':smile:' was printed as an emoji: a run directory that does not exist
    assert f"Run directory: {(tmp_path / 'mk[/x]:smile:').resolve()} (" in proc.stdout, proc.stdout

    spec["space"]["label"] = {"type": "choice", "choices": ["[red]a", "[/]"], "sigma": 0.5}
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "choices.yaml", spec)), "--dry-run",
                   "--set", f"run_dir={tmp_path / 'other'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "[red]a" in proc.stdout or "[/]" in proc.stdout, proc.stdout


#: the paper's search space (configs/paper-alcl3-kcl.yaml), whose front table is wider than 100 columns
PAPER_NAMES = ["start_lr", "stop_lr", "rcut", "rcut_smth", "scale_by_worker", "desc_activ_func", "fitting_activ_func"]


def test_a_front_too_wide_for_the_terminal_keeps_every_value_on_one_line(tmp_path, hpo_run_exe):
    """On an 80-column terminal rich folded every column of the paper's front table,
    numbers too ("0.0003" over "51234"); the headers now break at underscores, and the
    table is cut into tables that fit (hyperparameters, then results) where that is not
    enough.  Values of nine characters: the hyperparameters take two tables."""
    spec = zdt_spec(tmp_path / "run", n=len(PAPER_NAMES), pop_size=6, generations=1,
                    callable_="hpo_testfuncs:two_spheres")
    spec["space"] = {name: {"type": "float", "init": [0.0, 1e-6], "sigma": 1e-7} for name in PAPER_NAMES}
    spec["objectives"] = [{"name": "energy_rmse", "unit": "eV/atom"}, {"name": "force_rmse", "unit": "eV/A"}]
    proc = run_cli(hpo_run_exe, str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path, COLUMNS="80")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│└") <= 80, proc.stdout
    cells = {cell.strip() for line in lines if line.startswith("│") for cell in line.split("│")}

    final = max(int(r["pop_generation"]) for r in read_csv(tmp_path / "run" / "pop.csv"))
    front = [r for r in read_csv(tmp_path / "run" / "pop.csv") if int(r["pop_generation"]) == final and r["rank"] == "1"]
    values = {f"{float(r[name]):.4g}" for r in front for name in PAPER_NAMES}
    assert values <= cells, (values - cells, proc.stdout)  # each whole in its cell: none folded
    assert any(len(v) >= 8 for v in values)  # "1.234e-07": wide enough to have been folded
    assert "Pareto front of the final population: hyperparameters" in proc.stdout, proc.stdout
    results = lines[next(i for i, line in enumerate(lines) if "results" in line):]
    assert {f"{float(r['energy_rmse']):.4g}" for r in front} <= {c.strip() for line in results for c in line.split("│")}


def test_a_run_dir_the_output_encoding_lacks_is_shown_escaped(tmp_path, hpo_run_exe):
    """A run_dir named in Unicode, printed where the output's encoding is latin-1 (a
    batch system's locale, PYTHONIOENCODING): the finished run ended with
    UnicodeEncodeError, a traceback and exit 4 at its last line, and the same again when
    shown (helper-117).  Shown escaped, exit 0, by hpo-run and by hpo-report."""
    run_dir = tmp_path / "run-\u2603"
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(run_dir, pop_size=4, generations=0))
    for again in range(2):  # the run, then the finished run shown
        proc = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, capture_output=True, timeout=120,
                              env=subprocess_env(PYTHONIOENCODING="latin-1"), check=False)
        assert proc.returncode == 0, proc.stderr.decode("latin-1")
        assert f"{tmp_path}/run-\\u2603".encode("latin-1") in proc.stdout, (again, proc.stdout[-300:])
    report = subprocess.run([str(hpo_run_exe.parent / "hpo-report"), str(run_dir)], cwd=tmp_path,
                            capture_output=True, timeout=120, env=subprocess_env(PYTHONIOENCODING="latin-1"),
                            check=False)
    assert report.returncode == 0, report.stderr.decode("latin-1")
    assert b"Traceback" not in report.stderr
