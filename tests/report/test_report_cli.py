"""hpo-report end to end: on real runs made by hpo-run, merged runs, and bad input."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from report_journals import SPEC, one_generation, run_a

from dnnp_hpo.evaluation import Trial
from dnnp_hpo.journal import Journal
from dnnp_hpo.report.cli import main

BIN = Path(sys.executable).parent
FILES = [f"{stem}.{ext}" for stem in ("front", "generations", "parallel", "hypervolume", "failures")
         for ext in ("png", "svg")] + [f"{name}.csv" for name in (
             "final", "front", "accurate", "selected", "repeated", "hypervolume", "failures")] + ["summary.md"]


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def hpo_run(repo: Path, cwd: Path, name: str, seed: int) -> Path:
    # ZDT1 with a constraint that about half the random candidates break: real
    # "infeasible" failures (fitness MAXINT) for the report to count and leave out.
    proc = subprocess.run(
        [str(BIN / "hpo-run"), str(repo / "configs" / "zdt1-function.yaml"), "--set", f"run_dir={name}",
         "--set", f"seed={seed}", "--set", "optimizer.pop_size=12", "--set", "optimizer.generations=3",
         "--set", "launcher.workers=1", "--set", "constraints=[x1 < 0.5]"],
        cwd=cwd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    return cwd / name


def hpo_report(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hpo-report"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, repo_root):
    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("real")
    return cwd, hpo_run(repo_root, cwd, "r1", 3), hpo_run(repo_root, cwd, "r2", 4)


def test_report_of_a_real_run_writes_every_file(real_runs):
    cwd, run, _ = real_runs
    proc = hpo_report(run.name, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "summary.md" in proc.stdout
    out = run / "report"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    # the failure counts agree with the journal, read here independently
    with Journal.of(run, readonly=True) as journal:
        evaluations = journal.evaluations()
        last = journal.population(journal.generations()[-1])
    infeasible = Counter(e.trial.generation for e in evaluations if e.status == "infeasible")
    assert sum(infeasible.values()) > 0  # the constraint really bit
    counted = {int(r["generation"]): int(r["count"]) for r in rows(out / "failures.csv")}
    assert counted == dict(infeasible)
    assert len(rows(out / "final.csv")) == len(last)
    summary = (out / "summary.md").read_text()
    assert "f1" in summary and "No limits" in summary  # ZDT1 has no units, no chemical accuracy
    hv = [float(r["hypervolume"]) for r in rows(out / "hypervolume.csv")]
    assert len(hv) == 4 and all(v > 0 for v in hv)


def test_merged_real_runs_front_is_the_union_front(real_runs):
    cwd, _, _ = real_runs
    # in this process: the merged front is the subject, not the console script
    assert main([str(cwd / "r1"), str(cwd / "r2"), "--out", str(cwd / "merged"), "--accuracy", "f1=0.5",
                 "--accuracy", "f2=3"]) == 0
    final = [r for r in rows(cwd / "merged" / "final.csv") if float(r["f1"]) < 2e9]
    assert {r["run"] for r in final} == {"r1", "r2"}
    points = np.array([[float(r["f1"]), float(r["f2"])] for r in final])
    expected = {r["uuid"] for r, p in zip(final, points)
                if not any((q <= p).all() and (q < p).any() for q in points)}
    assert {r["uuid"] for r in rows(cwd / "merged" / "front.csv")} == expected
    accurate = {r["uuid"] for r in rows(cwd / "merged" / "accurate.csv")}
    assert accurate == {r["uuid"] for r, p in zip(final, points) if p[0] <= 0.5 and p[1] <= 3}
    series = {r["series"] for r in rows(cwd / "merged" / "hypervolume.csv")}
    assert series == {"r1", "r2", "all runs"}


def _bad(capsys, argv) -> str:
    with pytest.raises(SystemExit) as info:  # argparse errors exit; the rest return
        raise SystemExit(main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("hpo-report: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_not_a_run_directory_says_where_the_run_directories_are(tmp_path, capsys):
    """`hpo-report runs` and `hpo-report RUN_DIR/evals` said only "not a dnnp-hpo run
    directory" (helper-100); now the run it is in, or those in it, are named."""
    runs = tmp_path / "runs"
    for name in ("a", "b", "c", "d"):
        run_a(runs / name)
    (runs / "notes").mkdir()
    assert (f"{runs}: no journal.sqlite here, so not a dnnp-hpo run directory (run directories in it: "
            f"{runs / 'a'}, {runs / 'b'}, {runs / 'c'} and 1 more)") in _bad(capsys, [str(runs)])
    inside = runs / "b" / "evals"
    inside.mkdir()
    assert f"(it is inside the run directory {(runs / 'b').resolve()}: give that)" in _bad(capsys, [str(inside)])
    assert _bad(capsys, [str(runs / "notes")]).endswith("so not a dnnp-hpo run directory\n")


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert "no such directory" in _bad(capsys, [str(tmp_path / "missing")])
    (tmp_path / "file.txt").write_text("x")
    assert "not a directory" in _bad(capsys, [str(tmp_path / "file.txt")])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no journal.sqlite" in _bad(capsys, [str(empty)])
    assert list(empty.iterdir()) == []  # nothing created in a directory that is not a run
    young = tmp_path / "young"
    young.mkdir()
    with Journal.of(young) as journal:
        journal.set_meta("spec", SPEC)
    assert (f"{young}: the journal records no finished generation yet (0 evaluations recorded; a report reads "
            f"a generation's population, the first once {SPEC['optimizer']['pop_size']} have returned)") in _bad(
        capsys, [str(young)])
    with Journal.of(young) as journal:  # an optimizer that is no mapping: the line without the size
        journal.set_meta("spec", {**SPEC, "optimizer": ["nsga2"]})
    assert _bad(capsys, [str(young)]).endswith("(0 evaluations recorded; a report reads a generation's population)\n")
    with Journal.of(young) as journal:  # a run stopped while its generation 0 trained
        journal.set_meta("spec", SPEC)
        for birth in range(3):
            journal.started(Trial(uuid=f"u{birth}", birth_id=birth, generation=0, genome=(0.5, 0.5), params={},
                                  seed=birth, workdir=young / "evals" / f"u{birth}"))
    assert "(0 evaluations recorded, 3 sent out and not returned; a report reads" in _bad(capsys, [str(young)])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "journal.sqlite").write_bytes(b"this is not an SQLite database, not at all" * 10)
    assert "journal" in _bad(capsys, [str(broken)])
    run = run_a(tmp_path / "runA")
    assert "--out" in _bad(capsys, [str(run), str(run)])
    assert "expected 2 values" in _bad(capsys, [str(run), "--reference", "1"])
    assert "not a number" in _bad(capsys, [str(run), "--reference", "1,x"])
    # numpy's RuntimeWarning (overflow) and a hypervolume table of inf, exit 0
    assert ("--reference: the box from the best values to 1e+308, 1e+308 has a volume larger than the report shows "
            "(1e+300)") in _bad(capsys, [str(run), "--reference", "1e308,1e308"])
    # a volume a float holds but the plot's axis does not: matplotlib's ticks raised, a
    # traceback and exit 4 (helper-120)
    assert "has a volume larger than the report shows" in _bad(capsys, [str(run), "--reference", "1e154,1e154"])
    assert not (run / "report").exists()
    assert main([str(run), "--reference", "1e150,1e150", "--out", str(tmp_path / "far")]) == 0  # 1e300: drawn
    assert (tmp_path / "far" / "hypervolume.png").exists()
    shutil.rmtree(tmp_path / "far")
    assert "not an objective" in _bad(capsys, [str(run), "--accuracy", "f9=1"])
    assert "OBJECTIVE=LIMIT" in _bad(capsys, [str(run), "--accuracy", "energy_rmse"])
    # the last one silently won (helper-127)
    assert _bad(capsys, [str(run), "--accuracy", "energy_rmse=1", "--accuracy", "energy_rmse=2"]) == (
        "hpo-report: --accuracy energy_rmse is given twice: expected one limit per objective\n")
    _bad(capsys, [])  # no run directory at all
    assert not (run / "report").exists()


def test_runs_with_different_objectives_are_not_merged(real_runs, tmp_path, capsys):
    _, r1, _ = real_runs
    err = _bad(capsys, [str(run_a(tmp_path / "runA")), str(r1), "--out", str(tmp_path / "m")])
    assert "objectives" in err and "differ" in err


def test_console_script_exit_status(real_runs, tmp_path):
    cwd, _, _ = real_runs
    proc = hpo_report(str(tmp_path), cwd=cwd)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_runs_that_cannot_be_merged_honestly_are_refused(tmp_path, capsys):
    """Found by a review of the report: each of these was merged silently, with numbers
    that depended on the order of the arguments or counted evaluations twice."""
    from report_journals import run_b, write_run

    out = ["--out", str(tmp_path / "merged")]
    a, b = run_a(tmp_path / "runA"), run_b(tmp_path / "runB")
    # the same run twice, or a copy of it: every evaluation would count twice
    assert "is also in" in _bad(capsys, [str(a), str(a), *out])
    copy = tmp_path / "copyA"
    copy.mkdir()
    (copy / "journal.sqlite").write_bytes((a / "journal.sqlite").read_bytes())
    err = _bad(capsys, [str(a), str(copy), *out])
    assert "also in" in err and "a copy of it" in err
    # the same objective names in other units: meV plotted as eV, limits of the first run
    mev = {**SPEC, "objectives": [{"name": "energy_rmse", "unit": "meV/atom"}, {"name": "force_rmse", "unit": "eV/A"}]}
    journals = __import__("report_journals")
    in_mev = write_run(tmp_path / "runMeV", {0: [journals.ok("z", 0, 200, 2.0, 0.03, runtime=1.0)]}, {0: ["z"]},
                       spec=mev)
    assert "other units" in _bad(capsys, [str(a), str(in_mev), *out])
    # other chemical-accuracy limits: which run's would apply depended on the order
    strict = {**SPEC, "report": {"chemical_accuracy": {"energy_rmse": 0.001, "force_rmse": 0.02}}}
    tight = write_run(tmp_path / "runStrict", {0: [journals.ok("y", 0, 300, 0.0009, 0.01, runtime=1.0)]},
                      {0: ["y"]}, spec=strict)
    for first, second in ((b, tight), (tight, b)):
        err = _bad(capsys, [str(first), str(second), *out])
        assert "chemical-accuracy limits" in err and "--accuracy" in err
    main([str(b), str(tight), *out, "--accuracy", "energy_rmse=0.004", "--accuracy", "force_rmse=0.04"])
    assert (tmp_path / "merged" / "summary.md").exists(), "with limits given, they merge"
    # a limit at or below 0, which the spec refuses too
    assert "expected a positive limit" in _bad(capsys, [str(a), "--accuracy", "energy_rmse=-1"])


def test_a_reused_out_keeps_no_figure_of_an_earlier_report(tmp_path):
    """A run whose every evaluation failed has no hypervolume figure: one an earlier report
    left in the same --out would pass for this run's."""
    from report_journals import failed, write_run

    out = tmp_path / "report"
    assert main([str(one_generation(tmp_path / "runA")), "--out", str(out)]) == 0
    assert (out / "hypervolume.png").exists()
    dead = write_run(tmp_path / "dead", {0: [failed("x", 0, 0, "failed", "dp exited with status 1")]}, {0: ["x"]})
    assert main([str(dead), "--out", str(out)]) == 0
    assert not [p for p in out.glob("hypervolume.*") if p.suffix != ".csv"]
    assert (out / "hypervolume.csv").read_text().count("\n") == 1, "the table: its header alone"


def test_out_is_refused_where_it_would_overwrite_what_is_not_a_report(tmp_path, capsys):
    """--out a folder of the user's wrote over its summary.md, and --out another run's
    directory wrote the report's files into it.  A new, empty or earlier report's
    directory is written (the same report twice in one place: every file it writes is
    one an earlier report may hold)."""
    run = one_generation(tmp_path / "runA")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "summary.md").write_text("MY NOTES")
    assert "holds a summary.md that no report of hpo-report writes" in _bad(capsys, [str(run), "--out", str(notes)])
    assert (notes / "summary.md").read_text() == "MY NOTES"
    other = run_a(tmp_path / "runB")
    before = sorted(p.name for p in other.iterdir())
    line = _bad(capsys, [str(run), "--out", str(other)])
    assert "which no report of hpo-report writes: expected a new or empty directory" in line, line
    assert sorted(p.name for p in other.iterdir()) == before
    # Inside a run directory, only its report/: --out RUN_DIR/journal.sqlite-wal made a
    # directory that left the run unreadable to hpo-run, hpo-report and sqlite3 (helper-120)
    for name in ("journal.sqlite-wal", "journal.sqlite-shm", "evals", "analysis"):
        line = _bad(capsys, [str(run), "--out", str(other / name)])
        assert line == (f"hpo-report: {other / name}: inside the run directory {other}, where only its report/ is "
                        f"hpo-report's: give {other / 'report'} (the default) or a directory elsewhere\n"), line
    assert sorted(p.name for p in other.iterdir()) == before
    assert main([str(run), "--out", str(run / "report")]) == 0, capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"\0")  # a desktop's litter is no one's work
    for out in (empty, empty, tmp_path / "new"):
        assert main([str(run), "--out", str(out)]) == 0, capsys.readouterr().err
    assert (empty / "summary.md").read_text().startswith("# dnnp-hpo report")
    (empty / "summary.md").unlink()  # a report stopped half-way: summary.md is written last
    assert main([str(run), "--out", str(empty)]) == 0, capsys.readouterr().err


def test_ctrl_c_is_one_line_and_exit_130(real_runs, tmp_path):
    """Ctrl-C while hpo-report works (here: as soon as numpy is loaded, while it imports;
    a report of a real run then takes a second more) gave a KeyboardInterrupt traceback
    and exit 1."""
    import os
    import signal
    import time

    from cli_testutil import from_a_terminal  # SIGINT at its default, whatever the runner ignores

    _, run, _ = real_runs
    for _attempt in range(5):
        report = subprocess.Popen(from_a_terminal([str(BIN / "hpo-report"), str(run), "--out", str(tmp_path / "out")]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        while report.poll() is None and "_multiarray_umath" not in Path(f"/proc/{report.pid}/maps").read_text():
            time.sleep(0.001)
        if report.poll() is None:
            os.killpg(report.pid, signal.SIGINT)
            break
    _, stderr = report.communicate(timeout=60)
    assert report.returncode == 130 and stderr.splitlines() == ["hpo-report: interrupted"], stderr


def test_another_run_s_report_is_not_replaced(real_runs, tmp_path, capsys):
    """--out runs/b/report for a report of runs/a replaced b's report with a's: a folder
    named for one run describing another (helper-127).  A merged report of both may go
    there, as may a's own."""
    _, first, second = real_runs
    a, b = shutil.copytree(first, tmp_path / "a"), shutil.copytree(second, tmp_path / "b")
    assert main([str(b)]) == 0, capsys.readouterr().err
    before = (b / "report" / "summary.md").read_text()
    capsys.readouterr()
    assert main([str(a), "--out", str(b / "report")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        (f"hpo-report: {b / 'report'}: the report of the run in {b}, which is not reported here: give the report "
        "of a run reported (the default) or a directory elsewhere")]
    assert (b / "report" / "summary.md").read_text() == before
    # nor through a symbolic link to it, nor a path with .. in it (helper-130)
    (tmp_path / "link").symlink_to(b / "report")
    for out in (tmp_path / "link", b / "evals" / ".." / "report"):
        assert main([str(a), "--out", str(out)]) == 2, out
        assert "the report of the run in" in capsys.readouterr().err
    assert (b / "report" / "summary.md").read_text() == before
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")  # where the check resolves --out: one line too
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    assert "loop1: a symbolic link to" in _bad(capsys, [str(a), "--out", str(tmp_path / "loop1")])
    assert main([str(a), str(b), "--out", str(b / "report")]) == 0, capsys.readouterr().err
    assert main([str(a), "--out", str(a / "report")]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_a_report_as_ctrl_c_does(real_runs, tmp_path, stop):
    """A batch system's SIGTERM or a dropped ssh session's SIGHUP while the report was
    being written ended hpo-report by the signal, with no line, and left its half-written
    hidden folder beside --out, which no later report removed (helper-127)."""
    import os
    import signal
    import time

    from cli_testutil import from_a_terminal

    _, run, _ = real_runs
    for attempt in range(5):
        where = tmp_path / str(attempt)
        where.mkdir()
        # from_a_terminal: SIGHUP at its default whatever the runner inherited (under nohup,
        # as the fresh-clone CI here runs, it is ignored, and hpo-report keeps it so)
        report = subprocess.Popen(from_a_terminal([str(BIN / "hpo-report"), str(run), "--out", str(where / "out")]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        while report.poll() is None and not list(where.glob(".out.*")) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert report.poll() is None, "the report was written before it could be stopped"
        os.killpg(report.pid, getattr(signal, stop))
        _, stderr = report.communicate(timeout=60)
        if report.returncode == 0:
            # The signal came after the report was written (this test held off the CPU
            # meanwhile): a stop then ends the process with the work's status.  The report
            # is whole; try again.
            assert (where / "out" / "summary.md").exists() and not list(where.glob(".out.*")), stderr
            continue
        assert report.returncode == 128 + getattr(signal, stop), stderr
        assert stderr.splitlines() == [f"hpo-report: stopped by {stop}"]
        assert list(where.iterdir()) == []  # nothing half-written is left
        return
    pytest.fail("every report was written before the signal reached it")


def test_a_stdout_that_cannot_be_written_is_one_line_and_exit_2(real_runs, tmp_path):
    """A log on a full disk: the report was written whole, then its closing line gave a
    traceback and "internal error", exit 4 (helper-127)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    _, run, _ = real_runs
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(BIN / "hpo-report"), str(run), "--out", str(tmp_path / "out")], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=180, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["hpo-report: cannot write to stdout (No space left on device)"]
    assert (tmp_path / "out" / "summary.md").exists()


def test_a_report_stopped_half_way_leaves_the_earlier_one_whole(tmp_path, capsys, monkeypatch):
    """A report stopped half-way over an earlier one (Ctrl-C, a full disk) left a folder
    of both, one run's figures beside the other's tables, and nothing said so (helper-120).
    The report is written beside its --out and put in its place once whole: the earlier
    one stays as it was, nothing of the stopped one is left, and a file of the user's in
    the folder (hidden) stays through a report that ends."""
    from dnnp_hpo.report import plots

    out = tmp_path / "out"
    first, second = one_generation(tmp_path / "runA"), one_generation(tmp_path / "runB")
    assert main([str(first), "--out", str(out)]) == 0, capsys.readouterr().err
    (out / ".notes").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(plots, "plot_parallel", stopped)  # after front.* and generations.*
        with pytest.raises(KeyboardInterrupt):
            main([str(second), "--out", str(out)])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "runA", "runB"], "a part-written report left"
    assert main([str(second), "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / ".notes").read_text() == "mine"
    assert str(second) in (out / "summary.md").read_text() and str(first) not in (out / "summary.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "runA", "runB"]


def test_an_empty_path_and_a_dangling_link_as_out_are_named(tmp_path, capsys):
    """`--out "$DIR"` with DIR unset was the current directory (Path("") is "."), and a
    symbolic link to a directory not yet made said "front.png: cannot write the report
    (No such file or directory)" (helper-120).  A link to a directory gets the report in
    that directory, the link kept as the user made it."""
    run = one_generation(tmp_path / "runA")
    assert _bad(capsys, [str(run), "--out", ""]) == (
        "hpo-report: argument --out: an empty path: give the report directory (see hpo-report --help)\n")
    assert _bad(capsys, [""]) == "hpo-report: argument RUN_DIR: an empty path: give a run directory (see hpo-report --help)\n"
    link = tmp_path / "link"
    link.symlink_to(Path("scratch") / "report")  # relative: shown from the link's folder
    assert _bad(capsys, [str(run), "--out", str(link)]) == (
        f"hpo-report: {link}: a symbolic link to {tmp_path / 'scratch' / 'report'}, which does not exist: make that "
        "directory or choose another --out\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "runA"], "nothing made"
    (tmp_path / "scratch" / "report").mkdir(parents=True)
    assert main([str(run), "--out", str(link)]) == 0, capsys.readouterr().err
    assert link.is_symlink() and (tmp_path / "scratch" / "report" / "summary.md").is_file()


def test_a_control_character_in_a_path_is_shown_escaped_in_the_one_line(tmp_path, capsys):
    """A RUN_DIR holding a newline split the refusal in two lines, and an --out holding an
    escape sequence reached the terminal raw in the closing line (helper-120)."""
    odd = tmp_path / "a\nb"
    odd.mkdir()
    assert _bad(capsys, [str(odd)]) == (f"hpo-report: {tmp_path}/a\\nb: no journal.sqlite here, so not a dnnp-hpo "
                                        "run directory\n")
    out = tmp_path / "r\x1b[31m ü"
    assert main([str(one_generation(tmp_path / "runA")), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"Report of 1 run in {tmp_path}/r\\x1b[31m ü: ") and said.count("\n") == 1, said
    assert (out / "summary.md").is_file()
