"""A bad spec: one line on stderr (file, key path, what is expected), exit 2, nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from hpo_testutil import run_cli, write_spec, zdt_spec

from dnnp_hpo.cli import main
from dnnp_hpo.journal import Journal
from dnnp_hpo.specfile import parse_yaml


def _set(spec: dict, dotted: str, value) -> dict:
    node = spec
    *head, last = dotted.split(".")
    for part in head:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return spec


def _del(spec: dict, dotted: str) -> dict:
    node = spec
    *head, last = dotted.split(".")
    for part in head:
        node = node[part]
    del node[last]
    return spec


def _rename(spec: dict, dotted: str, new_name: str) -> dict:
    *head, last = dotted.split(".")
    node = spec
    for part in head:
        node = node[part]
    node[new_name] = node.pop(last)
    return spec


# (id, mutation of a valid spec, key path expected in the message, words of what is expected)
BAD_SPECS = [
    ("unknown-top-key", lambda s: _set(s, "colour", "red"), None, ["unknown", "colour"]),
    ("unknown-param-key", lambda s: _set(s, "space.x0.sigmaa", 0.1), "space.x0", ["unknown", "sigmaa"]),
    ("unknown-optimizer-key", lambda s: _set(s, "optimizer.popsize", 4), "optimizer", ["unknown", "popsize"]),
    ("wrong-type-seed", lambda s: _set(s, "seed", "abc"), "seed", ["whole number"]),
    ("wrong-type-negative-seed", lambda s: _set(s, "seed", -1), "seed", ["0 or more"]),
    ("wrong-type-sigma", lambda s: _set(s, "space.x1.sigma", "wide"), "space.x1.sigma", ["number"]),
    ("wrong-type-init-scalar", lambda s: _set(s, "space.x1.init", 5), "space.x1.init", ["2 values"]),
    ("wrong-type-init-3", lambda s: _set(s, "space.x1.init", [0, 1, 2]), "space.x1.init", ["2 values"]),
    ("wrong-type-space-list", lambda s: _set(s, "space", [1, 2]), "space", ["mapping"]),
    ("wrong-type-objectives-str", lambda s: _set(s, "objectives", "f1"), "objectives", ["list"]),
    ("wrong-type-objective-str", lambda s: _set(s, "objectives", ["f1", "f2"]), "objectives.0", ["mapping"]),
    ("wrong-type-pop-size", lambda s: _set(s, "optimizer.pop_size", 2.5), "optimizer.pop_size", ["whole number"]),
    ("wrong-type-log", lambda s: _set(s, "space.x0.log", "yes please"), "space.x0.log", ["true or false"]),
    ("wrong-type-choices-str", lambda s: _set(s, "space.c", {"type": "choice", "choices": "abc", "sigma": 1}),
     "space.c.choices", ["list"]),
    ("missing-key", lambda s: _del(s, "objectives"), "objectives", ["missing"]),
    # an empty value is YAML's null, said so, not Python's None (helper-82: --set seed=)
    ("empty-value", lambda s: _set(s, "seed", None), "seed", ["seed: expected a whole number, got null (an empty value)"]),
    # The key at fault, not `log` (the review's space.lr.log for a 0 in init).
    ("log-init-not-positive", lambda s: _set(s, "space.x0", {"type": "float", "log": True, "init": [0, 1],
                                                             "sigma": 0.1}),
     "space.x0.init", ["log: true needs positive values (their log10 is the gene), got [0.0, 1.0]"]),
    ("log-bounds-not-positive", lambda s: _set(s, "space.x0", {"type": "float", "log": True, "init": [0.1, 1],
                                                               "bounds": [-1, 2], "sigma": 0.1}),
     "space.x0.bounds", ["log: true needs positive values", "got [-1.0, 2.0]"]),
    # Silently drawn twice as often before.
    ("choice-listed-twice", lambda s: _set(s, "space.c", {"type": "choice", "choices": ["a", "b", "a"], "sigma": 1}),
     "space.c.choices.2", ["'a' is listed already (choices.0): list each value once"]),
    # Written into individuals.csv's header and the terminal's tables (helper-110).
    ("objective-name-control", lambda s: _set(s, "objectives", [{"name": "f1\nX"}, {"name": "f2"}]),
     "objectives.0.name", ["expected text without control characters (newline, tab, escape), got 'f1\\nX'"]),
    ("objective-unit-escape", lambda s: _set(s, "objectives", [{"name": "f1", "unit": "eV\x1b[31m"}, {"name": "f2"}]),
     "objectives.0.unit", ["expected text without control characters"]),
    # Drawn, it failed every training, blamed on the template's line (helper-110).
    ("choice-not-finite", lambda s: _set(s, "space.c", {"type": "choice", "choices": [0.5, float("nan")], "sigma": 1}),
     "space.c.choices.1", ["nan is not a finite number, which no training input holds (quote it, 'nan',"]),
    ("choice-inf", lambda s: _set(s, "space.c", {"type": "choice", "choices": [float("inf")], "sigma": 1}),
     "space.c.choices.0", ["inf is not a finite number"]),
    ("choice-null", lambda s: _set(s, "space.c", {"type": "choice", "choices": ["a", None], "sigma": 1}),
     "space.c.choices.1", ["null must be a string or a number"]),
    # A misspelt required key is reported as the unknown key, with the one meant.
    ("misspelt-top-key", lambda s: _rename(s, "objectives", "objectves"), None,
     ["unknown", "objectves (did you mean objectives?)"]),
    ("misspelt-sigma", lambda s: _rename(s, "space.x0.sigma", "sgima"), "space.x0",
     ["unknown", "sgima (did you mean sigma?)"]),
    # Each unknown key with its own match; a key the block already has is offered, saying so.
    ("two-misspelt-keys", lambda s: _rename(_rename(s, "optimizer.pop_size", "popsize"), "optimizer.generations", "generatons"),
     "optimizer", ["unknown key(s): generatons (did you mean generations?), popsize (did you mean pop_size?)"]),
    ("misspelt-key-beside-it", lambda s: _set(s, "space.x0.sgima", 0.2), "space.x0",
     ["unknown key(s): sgima (did you mean sigma? it is given too) (expected:"]),
    # sigma is optional, but variation: paper mutates by it.
    ("missing-sigma-paper", lambda s: _set(_del(s, "space.x0.sigma"), "optimizer.variation", "paper"),
     "optimizer.variation", [("paper mutates each gene by its parameter's sigma, and space.x0 gives none: "
                              "give every parameter a sigma"), "or choose another variation"]),
    ("missing-sigma-paper-async", lambda s: _set(_del(s, "space.x1.sigma"), "optimizer",
                                                 {"plugin": "nsga2-async", "variation": "paper"}),
     "optimizer.variation", ["and space.x1 gives none"]),
    ("empty-range", lambda s: _set(s, "space.x1.init", [1.0, 1.0]), "space.x1.init", ["empty", "low < high"]),
    ("reversed-range", lambda s: _set(s, "space.x1.init", [1.0, 0.0]), "space.x1.init", ["empty"]),
    ("empty-bounds", lambda s: _set(s, "space.x1.bounds", [2.0, -1.0]), "space.x1.bounds", ["empty"]),
    ("init-outside-bounds", lambda s: _set(s, "space.x1.bounds", [0.5, 2.0]), "space.x1.bounds", ["within"]),
    ("empty-space", lambda s: _set(s, "space", {}), "space", ["at least one"]),
    ("one-objective", lambda s: _set(s, "objectives", [{"name": "f1"}]), "objectives", ["two or more"]),
    ("constraint-unknown-param", lambda s: _set(s, "constraints", ["x0 < x9"]), "constraints.0", ["x9"]),
    ("constraint-unparsable", lambda s: _set(s, "constraints", ["x0 <> x1"]), "constraints.0", ["OP"]),
    # A typo for x0 < x1: the run went on with every candidate infeasible, then exit 1.
    ("constraint-never-holds", lambda s: _set(s, "constraints", ["x1 < x0", "x0 < x0"]), "constraints.1",
     ["'x0 < x0' compares x0 with itself, so it never holds (every candidate would be infeasible)"]),
    ("constraint-always-holds", lambda s: _set(s, "constraints", ["x0>=x0"]), "constraints.0",
     ["compares x0 with itself, so it always holds"]),
    ("constraint-string-not-list", lambda s: _set(s, "constraints", "x0 < x1"), "constraints", ["list"]),
    # each alone can hold, together none: every candidate infeasible, nothing trained (helper-110)
    ("constraints-exclusive", lambda s: _set(s, "constraints", ["x0 < 0.3", "x0 > 0.7"]), "constraints",
     [("'x0 < 0.3', 'x0 > 0.7' cannot hold together (each alone can): every candidate would be infeasible, nothing "
       "trained; drop or correct one")]),
    ("constraints-cycle", lambda s: _set(s, "constraints", ["x0 < x1", "x1 < x2", "x2 < x0"]), "constraints",
     ["'x0 < x1', 'x2 < x0', 'x1 < x2' cannot hold together (each alone can)"]),
    # != beside bounds that leave one value (helper-114: these passed, every candidate infeasible)
    ("constraints-unequal-forced", lambda s: _set(s, "constraints", ["x0 == x1", "x0 != x1"]), "constraints",
     [("'x0 != x1' cannot hold beside the other constraints and the ranges, which leave x0 one value, that of "
       "x1: every candidate would be infeasible")]),
    ("constraints-unequal-range-end", lambda s: _set(s, "constraints", ["x0 >= 1.0", "x0 != 1.0"]), "constraints",
     ["'x0 != 1.0' cannot hold beside the other constraints and the ranges, which leave x0 one value, 1:"]),
    # a range in the cycle: x1 > x0 >= 1 leaves x1 above its range
    ("constraints-and-a-range", lambda s: _set(s, "constraints", ["x1 > x0", "x0 >= 1.0"]), "constraints",
     ["'x1 > x0', 'x0 >= 1.0' cannot hold together with x1 from 0 to 1 (space.x1) (each alone can)"]),
    ("constraint-on-strings", lambda s: _set(_set(s, "space.c", {"type": "choice", "choices": ["a", "b"],
                                                              "sigma": 1}), "constraints", ["c < 1"]),
     "constraints.0", ["numbers"]),
    # A plugin of one's own not installed (or without its entry point) is said to be one
    # (a plugin author's walk: the line named only the built-in trainers).
    ("unknown-trainer", lambda s: _set(s, "trainer.plugin", "tensorflow"), "trainer.plugin",
     ["function", ("a plugin of your own must be installed in this Python environment with an entry point in the "
                   "'dnnp_hpo' group (hpo-run --list-plugins shows what is found)")]),
    ("unknown-optimizer", lambda s: _set(s, "optimizer.plugin", "cmaes"), "optimizer.plugin", ["nsga2"]),
    ("unknown-launcher", lambda s: _set(s, "launcher.plugin", "slurmish"), "launcher.plugin", ["dask"]),
    # A misspelt plugin name gets the "did you mean" a misspelt key gets (helper-79).
    ("misspelt-trainer", lambda s: _set(s, "trainer.plugin", "fucntion"), "trainer.plugin",
     ["unknown trainer 'fucntion' (did you mean function? expected one of: deepmd, function, nequip)"]),
    ("misspelt-optimizer", lambda s: _set(s, "optimizer.plugin", "nsga2async"), "optimizer.plugin",
     ["(did you mean nsga2-async? expected one of:"]),
    ("unknown-param-type", lambda s: _set(s, "space.x0.type", "complex"), "space.x0.type", ["float", "choice"]),
    ("unimportable-callable", lambda s: _set(s, "trainer.callable", "no_such_mod:f"), "trainer.callable",
     ["import"]),
    ("callable-of-two-arguments", lambda s: _set(s, "trainer.callable", "shutil:copyfile"), "trainer.callable",
     ["shutil:copyfile has the signature (src, dst", "expected a function of one argument"]),
    ("unknown-objective-threshold", lambda s: _set(s, "report", {"chemical_accuracy": {"zz": 1}}),
     "report.chemical_accuracy.zz", ["'zz' is not an objective: expected one of f1, f2", "(or is an objective's name misspelt?)"]),
    # the objective may be the misspelt side: named when the limit's key is close to it
    ("threshold-of-a-misspelt-objective", lambda s: _set(s, "report", {"chemical_accuracy": {"f11": 1}}),
     "report.chemical_accuracy.f11", ["'f11' is not an objective: expected one of f1, f2 (or is objectives.0.name 'f1' misspelt?)"]),
    ("negative-threshold", lambda s: _set(s, "report", {"chemical_accuracy": {"f1": -0.004}}),
     "report.chemical_accuracy.f1", ["report.chemical_accuracy.f1: expected a positive limit", "-0.004"]),
    ("empty-objective-name", lambda s: _set(s, "objectives", [{"name": " "}, {"name": "f2"}]),
     "objectives.0.name", ["objectives.0.name: expected a non-empty name"]),
    # A validator's error names the field, as a type error does, not only its block.
    ("validator-names-the-field", lambda s: _set(s, "optimizer.pop_size", 0), "optimizer.pop_size",
     ["pop_size must be positive, got 0"]),
    ("validator-names-the-field-prob", lambda s: _set(s, "optimizer.crossover_prob", 2.0),
     "optimizer.crossover_prob", ["must lie in [0, 1]"]),
    ("validator-names-the-launcher-field", lambda s: _set(s, "launcher.workers", 0), "launcher.workers",
     ["workers must be at least 1"]),
    # Sizes that would hang --dry-run or ask for absurd clusters have documented limits.
    ("huge-pop-size", lambda s: _set(s, "optimizer.pop_size", 10**9), "optimizer.pop_size",
     ["at most 10,000, got 1,000,000,000"]),
    ("huge-planned-evaluations", lambda s: _set(s, "optimizer.generations", 10**7), "optimizer.generations",
     ["at most 10,000,000 evaluations"]),
    ("huge-max-births", lambda s: _set(s, "optimizer", {"plugin": "nsga2-async", "max_births": 10**12}),
     "optimizer.max_births", ["at most 10,000,000"]),
    ("huge-workers", lambda s: _set(s, "launcher.workers", 10**30), "launcher.workers", ["at most 100,000"]),
    # A range wider than a float: generation 0 overflowed (high - low) with a traceback.
    ("init-wider-than-a-float", lambda s: _set(s, "space.x0", {"type": "float", "init": [-1e308, 1e308],
                                                               "sigma": 0.1}),
     "space.x0.init", ["wider than a float", "width high - low"]),
    ("bounds-wider-than-a-float", lambda s: _set(s, "space.x0.bounds", [-1e308, 1e308]),
     "space.x0.bounds", ["wider than a float"]),
    ("int-beyond-a-float", lambda s: _set(s, "space.x0", {"type": "int", "init": [0, 10**400], "sigma": 1}),
     "space.x0.init", ["wider than a float"]),
    # importlib's TypeError for a relative name was a traceback.
    ("relative-callable", lambda s: _set(s, "trainer.callable", "..:x"), "trainer.callable",
     ["expected 'package.module:function'"]),
    # Parameter names are $placeholders and constraint names; $seed is the training seed.
    ("parameter-named-seed", lambda s: _set(s, "space.seed", {"type": "float", "init": [0, 1], "sigma": 0.1}),
     "space.seed", ["filled in by dnnp-hpo", "expected another parameter name"]),
    ("parameter-name-with-space", lambda s: _set(s, "space.a b", {"type": "float", "init": [0, 1], "sigma": 0.1}),
     "space", ["'a b' cannot name a parameter", "expected letters, digits and _"]),
    ("parameter-name-empty", lambda s: _set(s, "space.", {"type": "float", "init": [0, 1], "sigma": 0.1}),
     "space", ["'' cannot name a parameter"]),
    ("parameter-name-blank", lambda s: _set(s, "space. ", {"type": "float", "init": [0, 1], "sigma": 0.1}),
     "space", ["' ' cannot name a parameter"]),
    # Paths the OS refuses: Path.resolve() raised ValueError on NUL, check_run_dir OSError.
    ("run-dir-with-nul", lambda s: _set(s, "run_dir", "runs/\0x"), "run_dir", ["without a NUL"]),
    ("run-dir-component-too-long", lambda s: _set(s, "run_dir", "x" * 300), "run_dir",
     ["every component is at most 255 bytes", "got one of 300"]),
    ("run-dir-too-long", lambda s: _set(s, "run_dir", "/".join(["y" * 200] * 25)), "run_dir",
     ["at most 4095 bytes"]),
    # The run prints both: a newline broke the one line, an escape sequence reached the terminal
    ("run-dir-with-newline", lambda s: _set(s, "run_dir", "runs/a\nb"), "run_dir",
     ["expected a path without control characters (NUL, newline, tab, escape), got 'runs/a\\nb'"]),
    ("run-dir-with-escape", lambda s: _set(s, "run_dir", "runs/a\x1b[2Jb"), "run_dir",
     ["without control characters", "got 'runs/a\\x1b[2Jb'"]),
    ("name-with-newline", lambda s: _set(s, "name", "a\nb"), "name",
     [("expected a plain name (it names the directory runs/<name>): no '/', '\\' or control character, "
       "not '.' or '..', got 'a\\nb'")]),
    ("name-with-escape", lambda s: _set(s, "name", "a\x1b[2Jb"), "name", ["control character", "got 'a\\x1b[2Jb'"]),
    ("name-with-a-line-separator", lambda s: _set(s, "name", "a\u2028b"), "name", ["got 'a\\u2028b'"]),
    # No run_dir: runs/<name>; RunLock left an empty runs/ behind.
    ("name-too-long", lambda s: _set(_del(s, "run_dir"), "name", "n" * 300), "name", ["at most 255 bytes"]),
    # No path, argument or environment value can hold NUL: Path.resolve raised ValueError
    # (exit 4), or every training failed after --dry-run passed.
    ("nul-in-a-string", lambda s: _set(s, "launcher.local_directory", "a\0b"), "launcher.local_directory",
     ["expected text without a NUL character, got 'a\\x00b'"]),
    ("control-character-in-a-key", lambda s: _set(s, "optimizer.zz\x1b[2J", 1), "optimizer",
     ["expected a key without control characters, got 'zz\\x1b[2J'"]),
]

#: run through the real console script in a subprocess; the rest in-process
SUBPROCESS_IDS = {"unknown-top-key", "wrong-type-sigma", "empty-range", "constraint-unknown-param",
                  "unknown-trainer", "run-dir-with-newline", "name-with-escape"}


def _check_one_line(stderr: str, spec_path: Path, key: str | None, words: list[str]) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("hpo-run: ")
    assert str(spec_path) in line or spec_path.name in line, line
    if key is not None:
        assert f": {key}:" in line, line
    for word in words:
        assert word in line, line
    return line


@pytest.mark.parametrize("case", [c for c in BAD_SPECS if c[0] not in SUBPROCESS_IDS], ids=lambda c: c[0])
def test_bad_spec_in_process(case, tmp_path, capsys, monkeypatch):
    _id, mutate, key, words = case
    run_dir = tmp_path / "run"
    spec_path = write_spec(tmp_path / "bad.yaml", mutate(zdt_spec(run_dir)))
    monkeypatch.chdir(tmp_path)
    status = main([str(spec_path)])
    out = capsys.readouterr()
    assert status == 2
    _check_one_line(out.err, spec_path, key, words)
    assert not run_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # nothing else written


@pytest.mark.parametrize("case", [c for c in BAD_SPECS if c[0] in SUBPROCESS_IDS], ids=lambda c: c[0])
def test_bad_spec_console_script(case, tmp_path, hpo_run_exe):
    _id, mutate, key, words = case
    run_dir = tmp_path / "run"
    spec_path = write_spec(tmp_path / "bad.yaml", mutate(zdt_spec(run_dir)))
    proc = run_cli(hpo_run_exe, str(spec_path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    _check_one_line(proc.stderr, spec_path, key, words)
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_missing_file_console_script(tmp_path, hpo_run_exe):
    proc = run_cli(hpo_run_exe, "nowhere.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    _check_one_line(proc.stderr, Path("nowhere.yaml"), None, ["not found"])
    assert list(tmp_path.iterdir()) == []


def test_not_yaml_console_script(tmp_path, hpo_run_exe):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nspace: [unclosed\n  x: {\n", encoding="utf-8")
    proc = run_cli(hpo_run_exe, str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    _check_one_line(proc.stderr, bad, None, ["YAML"])
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


@pytest.mark.parametrize("text, words", [
    ("- just\n- a list\n", ["mapping"]),
    ("", ["mapping"]),
    ("just a string", ["mapping"]),
])
def test_yaml_that_is_not_a_mapping(tmp_path, capsys, text, words):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    assert main([str(bad)]) == 2
    _check_one_line(capsys.readouterr().err, bad, None, words)


def test_binary_file_in_process(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage\x81")
    assert main([str(bad)]) == 2
    _check_one_line(capsys.readouterr().err, bad, None, [])


def test_directory_instead_of_file(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    _check_one_line(capsys.readouterr().err, tmp_path, None, ["cannot read it: a directory, not a file"])


def test_an_endless_file_is_not_read_whole(tmp_path, capsys):
    """/dev/zero was read until memory ran out."""
    assert main(["/dev/zero", "--dry-run"]) == 2
    _check_one_line(capsys.readouterr().err, Path("/dev/zero"), None, ["more than 10,000,000 characters"])


def test_a_whole_number_too_big_for_a_float_is_one_line(tmp_path, spec_file, capsys):
    """float() of a 400-digit int raised OverflowError: exit 4 and a traceback."""
    path = spec_file()
    assert main([str(path), "--dry-run", "--set", "space.x0.sigma=" + "9" * 400]) == 2
    _check_one_line(capsys.readouterr().err, path, "space.x0.sigma",
                    ["expected a finite number, got a whole number of 400 digits"])


def test_set_through_an_alias_changes_only_the_key_named(tmp_path, capsys):
    """x1 to x6 were the one object of the anchor &p (or shared its init list through a
    merge key): --set space.x3.init.1 changed every one of them."""
    text = yaml.safe_dump(zdt_spec(tmp_path / "run"), sort_keys=False).replace(
        "space:\n", "space:\n  x8: &p {type: float, init: [0.0, 1.0], sigma: 0.1}\n  x9: *p\n"
                    "  x10: {<<: *p, sigma: 0.2}\n")
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(text, encoding="utf-8")
    assert main([str(spec_path), "--dry-run", "--set", "space.x9.init.1=0.01"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    from dnnp_hpo.driver import prepare_run
    from dnnp_hpo.registry import load_registry

    run, _ = prepare_run(spec_path, load_registry(), ("space.x9.init.1=0.01",))
    inits = {name: run.experiment.space[name].init for name in ("x8", "x9", "x10")}
    assert inits == {"x8": (0.0, 1.0), "x9": (0.0, 0.01), "x10": (0.0, 1.0)}, (inits, out)


def test_no_spec_given(capsys):
    assert main([]) == 2
    assert "spec" in capsys.readouterr().err


def test_unknown_option_exits_2_in_one_line(tmp_path, hpo_run_exe):
    proc = run_cli(hpo_run_exe, "--frobnicate", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1


def test_existing_run_dir_is_refused(tmp_path, spec_file, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "individuals.csv").write_text("old\n")
    assert main([str(spec_file())]) == 2
    _check_one_line(capsys.readouterr().err, tmp_path / "spec.yaml", "run_dir", ["choose another"])
    assert [p.name for p in run_dir.iterdir()] == ["individuals.csv"]


@pytest.mark.parametrize("content", [b"not a database at all\n", b"SQLite format 3\x00" + b"\x01" * 200])
def test_a_run_dir_whose_journal_is_not_one_is_refused(tmp_path, spec_file, capsys, content):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "journal.sqlite").write_bytes(content)
    assert main([str(spec_file())]) == 2
    _check_one_line(capsys.readouterr().err, tmp_path / "spec.yaml", "run_dir", ["not a run journal", "choose another"])
    assert [p.name for p in run_dir.iterdir()] == ["journal.sqlite"]
    assert (run_dir / "journal.sqlite").read_bytes() == content


# ---- --set --------------------------------------------------------------------------


@pytest.mark.parametrize("assignment, key, words", [
    ("seed=abc", "seed", ["whole number"]),
    ("space.x0.init=[0, 1", None, ["YAML"]),
    ("trainer.plugin.name=x", None, ["not a mapping"]),
    ("nokey", None, ["key.path=value"]),
    ("optimizer.pop_sz=3", "optimizer", ["unknown", "pop_sz"]),
    ("objectives.2.name=f3", None, ["objectives is a list of 2", "index 0 to 1", "'2'"]),
    ("objectives.first.unit=eV", None, ["objectives is a list of 2", "'first'"]),
    ("objectives.0.name.x=1", None, ["objectives.0.name is not a mapping or a list"]),
    # Python reads at most 4,300 digits: int() raised ValueError with a traceback.
    pytest.param("seed=" + "9" * 5000, None,
                 ["the value is not valid YAML: expected a whole number of at most 4300 digits"], id="seed=9x5000"),
    pytest.param("objectives." + "9" * 5000 + ".name=x", None, ["objectives is a list of 2", "index 0 to 1"],
                 id="objectives.9x5000.name=x"),
    # A full-width digit is a digit to str.isdigit() and int(), not a list index.
    ("objectives.\uff11.name=x", None, ["objectives is a list of 2", "got '\uff11'"]),
    (".seed=1", None, ["--set '.seed=1': empty key in the path"]),
    ("seed=!!float abc", None, ["the value is not valid YAML: !!float 'abc' is not a float value"]),
    pytest.param("seed=" + "[" * 2000, None, ["the value is not valid YAML: nested too deeply"], id="seed=[x2000"),
    ("optimizer..pop_size=4", None, ["--set 'optimizer..pop_size=4': empty key in the path"]),
    # an item of a list the spec lacks made the mapping {'0': ...}: "expected a list" (helper-82)
    ("constraints.0=x0 < x1", None, [("--set 'constraints.0=x0 < x1': the spec has no constraints, so no item 0 of "
                                     "it: give the whole list, --set 'constraints=[...]'")]),
])
def test_bad_override(tmp_path, spec_file, capsys, assignment, key, words):
    path = spec_file()
    assert main([str(path), "--set", assignment]) == 2
    _check_one_line(capsys.readouterr().err, path, key, words)
    assert not (tmp_path / "run").exists()


#: YAML 1.1 forms beyond integers, read one way silently: choices [on, off] were [True, False],
#: log: yes true, 1:30.0 90.0, -0x10 -16 (all text to YAML 1.2); a quoted '1_0' (text) was 10.0
#: through float(); = and << gave PyYAML's "could not determine a constructor for the tag"
BOOL = "is ambiguous (YAML 1.1 reads it as {}, YAML 1.2 as text): write true or false (or quote it for text)"
NUMBER = ("is ambiguous (YAML 1.1 reads it as {}, YAML 1.2 as text): write the number in decimal without "
          "leading zeros, '_' or ':' (or quote it for text)")
#: one with ':': more often a time than a number in base 60 (helper-81: the hint to write a
#: walltime of 6:00:00 in decimal led to "walltime: expected a string")
TIME = ("is ambiguous (YAML 1.1 reads it as {}, YAML 1.2 as text): write the number in decimal without "
        "leading zeros, '_' or ':' (or quote it for text, as a time is: \"{}\")")
YAML11_FORMS = [
    ("space.c={type: choice, choices: [on, off], sigma: 1}", "on " + BOOL.format("true")),
    ("space.x0.log=yes", "yes " + BOOL.format("true")),
    ("space.x0.log=Off", "Off " + BOOL.format("false")),
    ("space.x0.sigma=1:30.0", "1:30.0 " + TIME.format("90.0", "1:30.0")),
    ("launcher.walltime=6:00:00", "6:00:00 " + TIME.format("21600", "6:00:00")),
    ("space.x0.sigma=1_0.5", "1_0.5 " + NUMBER.format("10.5")),
    ("seed=-0x10", "-0x10 " + NUMBER.format("-16")),
    ("name==", "= is YAML 1.1's value key, not a value: quote it ('=') for text"),
    ("name=<<", "<< is YAML 1.1's merge key (<<: *anchor), not a value: quote it ('<<') for text"),
]


@pytest.mark.parametrize(("assignment", "problem"), YAML11_FORMS, ids=[f[0] for f in YAML11_FORMS])
def test_a_yaml_11_form_is_refused_with_both_readings(tmp_path, spec_file, hpo_run_exe, assignment, problem):
    path = spec_file()
    proc = run_cli(hpo_run_exe, str(path), "--dry-run", "--set", assignment, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"hpo-run: {path}: --set {assignment!r}: the value is not valid YAML: {problem}"]
    assert proc.stdout == ""


def test_a_yaml_11_form_in_the_file_names_its_line(tmp_path, hpo_run_exe):
    text = yaml.safe_dump(zdt_spec(tmp_path / "run"), sort_keys=False).replace(
        "space:\n", "space:\n  c: {type: choice, choices: [a, b], sigma: 1}\n  x9: {type: float, init: [0, 1], sigma: 1:30.0}\n")
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    proc = run_cli(hpo_run_exe, str(path), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = text.splitlines().index("  x9: {type: float, init: [0, 1], sigma: 1:30.0}") + 1
    assert proc.stderr.splitlines() == [f"hpo-run: {path}: not valid YAML at line {line}: 1:30.0 "
                                        + TIME.format("90.0", "1:30.0")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.parametrize(("written", "number"), [("'1_0'", "10.0"), ("' 1.5'", "1.5"), ("'infinity'", "inf")])
def test_a_quoted_value_that_only_python_reads_as_a_number_is_refused(tmp_path, spec_file, capsys, written, number):
    """Quoting makes text: float() read '1_0' as 10.0 where a float is expected."""
    path = spec_file()
    assert main([str(path), "--dry-run", "--set", f"space.x0.sigma={written}"]) == 2
    expected = (f"expected a number, got {written} (quoted: text to YAML, {number} to Python's float()): "
                "write the number unquoted, in decimal (10, 0.5, 1e-3)")
    _check_one_line(capsys.readouterr().err, path, "space.x0.sigma", [expected])


def test_a_quoted_number_as_yaml_writes_it_is_still_a_number(tmp_path, spec_file, capsys):
    path = spec_file()
    assert main([str(path), "--dry-run", "--set", "space.x0.sigma='1e-3'", "--set", "space.x1.sigma='2'"]) == 0, \
        capsys.readouterr().err
    # A whole number too: '"20"' was "expected a whole number, got '20'" while '"0.3"' passed (helper-110).
    assert main([str(path), "--dry-run", "--set", "optimizer.pop_size='6'", "--set", "seed='3'"]) == 0, \
        capsys.readouterr().err
    assert "Generation 0" in capsys.readouterr().out
    for written in ("'6.0'", "'1_0'", "' 6'"):
        assert main([str(path), "--dry-run", "--set", f"optimizer.pop_size={written}"]) == 2
        assert f"optimizer.pop_size: expected a whole number, got {written}" in capsys.readouterr().err


# ---- the YAML itself ---------------------------------------------------------------


@pytest.mark.parametrize("edit, words", [
    # PyYAML raised ValueError (not a YAMLError) for an integer of over 4,300 digits.
    (lambda text: text.replace("seed: 7", "seed: " + "9" * 5000), ["at line", "at most 4300 digits"]),
    (lambda text: text.replace("seed: 7", "seed: 0x" + "f" * 5000), ["at most 4300 digits"]),
    # just over the limit: int() refused it, and the line said "is not a whole number" (helper-123)
    (lambda text: text.replace("seed: 7", "seed: 1" + "0" * 4300), ["at most 4300 digits"]),
    # YAML 1.2's octal and 1.1's leading zero went past the limit (a traceback, exit 4)
    (lambda text: text.replace("seed: 7", "seed: 0o" + "7" * 5000), ["at most 4300 digits"]),
    (lambda text: text.replace("seed: 7", "seed: 0" + "7" * 5000), ["at most 4300 digits"]),
    # Last-wins: the first seed, or the first x0, was silently dropped.
    (lambda text: text + "seed: 2\n", ["the key 'seed' is given twice", "expected each key once"]),
    (lambda text: text.replace("space:\n", "space:\n  x0: {type: float, init: [0, 1], sigma: 0.2}\n"),
     ["the key 'x0' is given twice"]),
    (lambda text: text + "---\nseed: 3\n", ["expected one YAML document"]),
    # YAML 1.1 read 0500 as octal 320 and 1:30 as 90, silently (into numb_steps, a seed...)
    (lambda text: text.replace("seed: 7", "seed: 0500"),
     ["not valid YAML at line", "0500 is ambiguous (YAML 1.1 reads it as 320, YAML 1.2 as 500)"]),
    (lambda text: text.replace("seed: 7", "seed: 1:30"), ["1:30 is ambiguous (YAML 1.1 reads it as 90"]),
    # a control character: PyYAML's ReaderError has no line; it was a bare "not valid YAML"
    (lambda text: text.replace("seed: 7", "seed: 7\x07"), ["not valid YAML at line", "'\\x07' is not allowed"]),
    (lambda text: "name: " + "[" * 2000 + "]" * 2000 + "\n", ["not valid YAML: nested too deeply"]),
    # Ten aliases of ten, nested: 10**9 values from 500 bytes, quoted whole in a message (GBs).
    (lambda text: text.replace("seed: 7", "seed: [&a0 ha" + "".join(
        f", &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)) + "]"),
     ["more than 100,000 values once its aliases are expanded"]),
    # An explicit tag on text not of its type: PyYAML's ValueError, KeyError, ... (exit 4)
    (lambda text: text.replace("seed: 7", "seed: !!float abc"),
     ["not valid YAML at line", "!!float 'abc' is not a float value (could not convert"]),
    (lambda text: text.replace("seed: 7", "seed: !!bool 2"), ["!!bool '2' is not a bool value"]),
    (lambda text: text.replace("seed: 7", "seed: !!timestamp 2020-13-45"),
     ["!!timestamp '2020-13-45' is not a timestamp value (month must be in 1..12)"]),
    (lambda text: text.replace("seed: 7", "seed: !!timestamp abc"), ["!!timestamp 'abc' is not a timestamp value"]),
    # no tag written: YAML's own reading of a date-like value, not "!!timestamp"
    (lambda text: text.replace("seed: 7", "seed: 2020-13-45 # no tag here!"),
     ["'2020-13-45' reads as a timestamp in YAML but is not one (month must be in 1..12): quote it for text"]),
    (lambda text: text.replace("seed: 7", "seed: !!float"), ["!!float '' is not a float value"]),
    # it was "expected a whole number of at most 4300 digits"
    (lambda text: text.replace("seed: 7", "seed: !!int abc"), ["!!int 'abc' is not a whole number"]),
    (lambda text: text.replace("seed: 7", "seed: !!int " + "a" * 4301), ["is not a whole number"]),
], ids=["int-5000-digits", "hex-5000-digits", "int-4301-digits", "octal-1.2-5000-digits", "octal-1.1-5000-digits", "duplicate-top-key", "duplicate-parameter", "two-documents",
        "octal-1.1", "base-60", "control-character", "nested-2000-deep", "alias-bomb", "tag-float", "tag-bool", "tag-timestamp-month",
        "tag-timestamp-text", "implicit-timestamp", "tag-float-empty", "tag-int-text", "tag-int-long-text"])
def test_bad_yaml_text(tmp_path, capsys, monkeypatch, edit, words):
    text = yaml.safe_dump(zdt_spec(tmp_path / "run"), sort_keys=False)
    spec_path = tmp_path / "bad.yaml"
    spec_path.write_text(edit(text), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main([str(spec_path), "--dry-run"]) == 2
    line = _check_one_line(capsys.readouterr().err, spec_path, None, words)
    assert len(line) < 400, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_yaml_duplicate_key_names_its_line(tmp_path, capsys):
    spec_path = tmp_path / "bad.yaml"
    spec_path.write_text("name: a\nseed: 1\nseed: 2\n", encoding="utf-8")
    assert main([str(spec_path)]) == 2
    _check_one_line(capsys.readouterr().err, spec_path, None, ["not valid YAML at line 3: the key 'seed'"])


def test_yaml_merge_keys_may_still_override(tmp_path, capsys):
    """A '<<' merge then a key of the merged mapping is YAML's override, not a duplicate."""
    text = yaml.safe_dump(zdt_spec(tmp_path / "run"), sort_keys=False).replace(
        "space:\n", "space:\n  x8: &base {type: float, init: [0.0, 1.0], sigma: 0.1}\n"
                    "  x9: {<<: *base, sigma: 0.3}\n")
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(text, encoding="utf-8")
    assert main([str(spec_path), "--dry-run"]) == 0, capsys.readouterr().err
    assert "x9" in capsys.readouterr().out


@pytest.mark.parametrize("text", [
    "x: &a {k: 1}\ny: {z: &b {<<: *a, k: 2}}\nw: {<<: *b}\n",  # a merged mapping merged again
    "b: &b {a: 1, c: 2}\nd: {<<: *b, a: 3}\n",
    "b: &b {a: 1}\nd: {<<: [*b, {c: 2}], =: 4}\n",
])
def test_the_spec_reader_takes_every_mapping_safe_load_takes(text):
    """Duplicate keys are found as written, before merging: merges read as PyYAML reads them."""
    assert parse_yaml(text) == yaml.safe_load(text)


def test_override_changes_the_run_in_dry_run(tmp_path, spec_file, capsys):
    path = spec_file(pop_size=8)
    elsewhere = tmp_path / "elsewhere"
    status = main([str(path), "--dry-run", "--set", "optimizer.pop_size=3",
                   "--set", f"run_dir={elsewhere}", "--set", "space.x0.init=[5.0, 6.0]"])
    out = capsys.readouterr().out
    assert status == 0
    assert str(elsewhere) in out.replace("\n", "")
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 3  # three individuals in generation 0
    for row in rows:
        x0 = float(row.split("│")[2].strip().rstrip("…"))
        assert 5.0 <= x0 <= 6.0  # the overridden init range, not [0, 1]
    assert not elsewhere.exists() and not (tmp_path / "run").exists()


def test_override_can_fix_a_bad_spec(tmp_path, capsys):
    spec = zdt_spec(tmp_path / "run")
    spec["optimizer"]["pop_size"] = "lots"
    path = write_spec(tmp_path / "spec.yaml", spec)
    assert main([str(path), "--dry-run"]) == 2
    capsys.readouterr()
    assert main([str(path), "--dry-run", "--set", "optimizer.pop_size=2"]) == 0


def test_override_addresses_list_elements_by_index(tmp_path, capsys):
    from dnnp_hpo.registry import load_registry
    from dnnp_hpo.spec import load_experiment

    path = write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run"))
    experiment, raw = load_experiment(path, load_registry(), ("objectives.1.unit=eV/A", "objectives.0.name=g1"))
    assert [(o.name, o.unit) for o in experiment.objectives][:2] == [("g1", ""), ("f2", "eV/A")]
    assert raw["objectives"] == [{"name": "g1"}, {"name": "f2", "unit": "eV/A"}]


def test_override_adds_a_key_that_the_file_lacks(tmp_path, capsys):
    spec = zdt_spec(tmp_path / "run")
    del spec["launcher"]  # defaults to dask
    path = write_spec(tmp_path / "spec.yaml", spec)
    assert main([str(path), "--dry-run", "--set", "launcher.plugin=dask", "--set", "launcher.workers=1"]) == 0


def test_override_sets_a_key_of_the_default_launcher(tmp_path, capsys):
    from dnnp_hpo.registry import load_registry
    from dnnp_hpo.spec import load_experiment

    spec = zdt_spec(tmp_path / "run")
    del spec["launcher"]  # defaults to {plugin: dask}
    path = write_spec(tmp_path / "spec.yaml", spec)
    experiment, raw = load_experiment(path, load_registry(), ("launcher.workers=3",))
    assert (type(experiment.launcher).__name__, experiment.launcher.workers) == ("DaskLauncher", 3)
    assert raw["launcher"] == {"plugin": "dask", "workers": 3}
    # without a launcher override the recorded spec stays as written
    assert "launcher" not in load_experiment(path, load_registry(), ("seed=2",))[1]


# ---- --dry-run ------------------------------------------------------------------------


def test_dry_run_prints_decoded_generation_0_and_writes_nothing(tmp_path, hpo_run_exe):
    spec = zdt_spec(tmp_path / "run", n=2, pop_size=5)
    spec["space"]["act"] = {"type": "choice", "choices": ["relu", "tanh", "sigmoid"], "init": [3.0, 4.0],
                            "bounds": [3.0, 4.0], "sigma": 0.1}
    spec["space"]["lr"] = {"type": "float", "init": [1e-6, 1e-5], "sigma": 0.5, "log": True}
    spec["trainer"]["callable"] = "hpo_testfuncs:failing_by_x0"
    path = write_spec(tmp_path / "spec.yaml", spec)
    proc = run_cli(hpo_run_exe, str(path), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 5
    for row in rows:
        cells = [c.strip() for c in row.strip("│").split("│")]
        # genes of act are in [3, 4): floor(g) % 3 == 0 -> relu, decoded, not a number
        assert cells[3] == "relu", row
        lr = float(cells[4].rstrip("…"))
        assert 1e-6 <= lr <= 1e-5 * 1.001, row  # decoded 10**gene, not the log10 gene
    assert "valid" in proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]


def test_dry_run_is_deterministic_and_follows_the_seed(tmp_path, spec_file, capsys):
    path = spec_file()

    def table(*extra):
        assert main([str(path), "--dry-run", *extra]) == 0
        return [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]

    first, again, other = table(), table(), table("--set", "seed=8")
    assert first == again
    assert first != other


def test_list_plugins_console_script(tmp_path, hpo_run_exe):
    proc = run_cli(hpo_run_exe, "--list-plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 3 and line.startswith("│"):
            rows[(cells[0], cells[1])] = cells[2]
    for kind, name in [("trainer", "function"), ("launcher", "dask"), ("optimizer", "nsga2"),
                       ("parameter type", "float"), ("parameter type", "int"), ("parameter type", "choice")]:
        assert rows.get((kind, name)) == "dnnp-hpo", (kind, name, rows)


def test_list_plugins_covers_the_whole_registry(capsys):
    from dnnp_hpo.registry import KINDS, load_registry

    assert main(["--list-plugins"]) == 0
    out = capsys.readouterr().out
    registry = load_registry()
    for kind in KINDS:
        for name, registered in registry.components[kind].items():
            assert any(name in line and registered.distribution in line for line in out.splitlines()), name


def test_spec_as_run_records_overrides(tmp_path, spec_file):
    """The run directory keeps the spec after --set (checked on a real, tiny run)."""
    path = spec_file(pop_size=2, generations=0)
    assert main([str(path), "--set", "seed=11"]) == 0
    as_run = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    assert as_run["seed"] == 11


def test_spec_as_run_reads_back_as_the_spec_that_ran(tmp_path, spec_file):
    """RUN_DIR/spec.yaml is the spec to start again from: strings hpo-run's reader takes
    for numbers (YAML 1.2's 1e3 and 0E0, the zero-padded 089) stay quoted.  yaml.safe_dump
    wrote them plain, so the copy read "1e3" as 1000.0 and was refused for "089"."""
    path = spec_file(pop_size=2, generations=0)
    assert main([str(path), "--set", "name='089'", "--set", "objectives.0.unit='1e3'",
                 "--set", "objectives.1.unit='0E0 é'"]) == 0
    as_run = parse_yaml((tmp_path / "run" / "spec.yaml").read_text(encoding="utf-8"))
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        assert as_run == journal.meta("spec")
    assert (as_run["name"], [o["unit"] for o in as_run["objectives"]]) == ("089", ["1e3", "0E0 é"])


def test_a_decorated_callable_is_judged_by_its_own_signature(tmp_path, capsys):
    """functools.wraps makes inspect.signature report the wrapped (params, scale); what is
    called is the wrapper, (params), so the spec is valid."""
    spec = zdt_spec(tmp_path / "run")
    spec["trainer"]["callable"] = "hpo_testfuncs:decorated_zdt1"
    status = main([str(write_spec(tmp_path / "spec.yaml", spec)), "--dry-run"])
    assert status == 0, capsys.readouterr().err


def test_the_keys_named_for_a_file_that_is_no_mapping_are_the_spec_s():
    """specfile.py names them before any class is read, so it keeps its own list (spec.py
    imports specfile, not the other way): the two must not drift apart."""
    import attrs

    from dnnp_hpo.spec import Experiment
    from dnnp_hpo.specfile import TOP_LEVEL_KEYS

    assert sorted(TOP_LEVEL_KEYS) == sorted(f.name for f in attrs.fields(Experiment))


@pytest.mark.parametrize("constraints", [
    "[x0 < 0.1, x1 < 0.1, x2 < 0.1]",  # one candidate in a thousand: narrow, not contradictory
    # met only on a range's end, at a number, or where ranges meet: no random draw of a
    # float reaches them, and they were refused beside any other constraint (helper-112)
    "[x0 >= 1.0, x1 < x2]", "[x0 == 0.5, x1 < x2]", "[x0 == x1, x1 == x2]",
    # a share of the space too small for random draws to meet (helper-113's, refused by them)
    "[x0 < x1, x1 < x2, x2 < x3, x3 < 0.01]", "[x0 != 0.5, x0 <= 0.5]", "[x0 != x1, x1 == x2]",
    "[x0 > 0.4, x0 < 0.55, x1 > 0.4, x1 < 0.55, x2 > 0.4, x2 < 0.55, x3 > 0.4, x3 < 0.55]"])
def test_constraints_that_hold_together_for_few_candidates_pass(tmp_path, spec_file, capsys, constraints):
    path = spec_file()
    assert main([str(path), "--dry-run", "--set", f"constraints={constraints}"]) == 0, capsys.readouterr().err


def test_a_refused_spec_is_one_line_without_the_warnings_before_it(tmp_path, capsys):
    """The paper spec ships with placeholders for the user's data: its two warnings came
    before any error, a refusal of three lines (helper-110).  They wait for a spec that
    passes, and come then."""
    paper = Path(__file__).resolve().parents[2] / "configs" / "paper-alcl3-kcl.yaml"
    (tmp_path / "a-file").write_text("")
    assert main([str(paper), "--dry-run", "--set", f"run_dir={tmp_path / 'a-file'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run_dir: " in err and "is a file, not a directory" in err, err
    assert main([str(paper), "--dry-run", "--set", f"run_dir={tmp_path / 'run'}"]) == 0
    err = capsys.readouterr().err
    assert err.count("hpo-run: warning: ") == 2 and "data path" in err, err


def test_a_log_handler_made_during_the_checks_writes_to_stderr_after_them(tmp_path, spec_file, capsys, monkeypatch):
    """A function trainer's module calling logging.basicConfig() at import, while the
    checks held stderr: its handler kept the hold's buffer, and every later log line of the
    driver was lost (helper-112)."""
    import logging

    (tmp_path / "logs_at_import.py").write_text(
        "import logging\nlogging.basicConfig()\n"
        "from dnnp_hpo.problems import zdt1 as train\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = list(logging.root.handlers)
    monkeypatch.setattr(logging.root, "handlers", [])  # basicConfig adds one only to none
    try:
        path = spec_file()
        assert main([str(path), "--dry-run", "--set", "trainer.callable=logs_at_import:train"]) == 0, \
            capsys.readouterr().err
        [handler] = logging.root.handlers
        assert handler.stream is sys.stderr, handler.stream
    finally:
        logging.root.handlers = before


@pytest.mark.parametrize("at_import", [
    "import faulthandler\nfaulthandler.enable()",  # asks for stderr's file descriptor (helper-113)
    "import sys\nsys.stderr.buffer.flush()",  # its binary buffer (helper-114)
    "import sys\nsys.stderr.encoding.lower()",
    "import sys\nsys.stderr.reconfigure(line_buffering=True)"], ids=["fileno", "buffer", "encoding", "reconfigure"])
def test_a_trainer_module_using_stderr_at_import_starts(tmp_path, spec_file, capfd, monkeypatch, at_import):
    """While the checks hold stderr, what a trainer's module asks of it at import works as
    on stderr: a plain StringIO stopped hpo-run ('internal error: UnsupportedOperation:
    fileno', 'no attribute buffer', None.lower())."""
    import faulthandler

    module = f"uses_stderr_{abs(hash(at_import))}"
    (tmp_path / f"{module}.py").write_text(f"{at_import}\nfrom dnnp_hpo.problems import zdt1 as train\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        path = spec_file()
        assert main([str(path), "--dry-run", "--set", f"trainer.callable={module}:train"]) == 0, \
            capfd.readouterr().err
    finally:
        faulthandler.disable()


def test_constraints_on_numbers_beyond_a_float_are_judged_exactly(tmp_path, spec_file, capsys):
    """A choice of 2**53 + 1 was read as the float 2**53 (then 'x3 > 2**53' was refused as
    unable to hold), one of 10**400 stopped hpo-run (OverflowError), and so did a constant
    1e400 (read as inf) (helper-114)."""
    path = spec_file()
    for space, constraints in [("{type: choice, choices: [1, 9007199254740993]}", "[x3 > 9007199254740992, x0 > 0]"),
                               ("{type: choice, choices: [2, 1" + "0" * 400 + "]}", "[x3 > 1, x3 > 0]"),
                               ("{type: float, init: [0.0, 1.0], sigma: 0.1}", "[x3 < 1e400, x3 > 0.5]")]:
        assert main([str(path), "--dry-run", "--set", f"space.x3={space}", "--set", f"constraints={constraints}"]) \
            == 0, capsys.readouterr().err
