"""Promise 6: bad input, fuzzed.  Broken experiment specs and broken DeePMD templates, made
by hypothesis, each end with exit status 2, one line on stderr naming the problem, no
traceback, and nothing written.

Every example runs the real ``hpo-run`` main in-process (fast); the last test sends a
few through the real console script.  Each strategy breaks a valid spec in one way that
no reading of the docs makes valid (a wrong type, a missing required key, an unknown
key, an inverted range, an empty or unusable choice list, a bad constraint, an unknown
plugin, bytes that are not a spec, a broken template), so every example must be refused.
tests/core/test_cli_spec_errors.py checks the exact message of each hand-written case.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
from faults_testutil import TEMPLATE, VENV_BIN, deepmd_spec, function_spec, subprocess_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnp_hpo.cli import main
from dnnp_hpo.registry import load_registry
from dnnp_hpo.specfile import TOP_LEVEL_KEYS, dump_yaml

#: examples per property; FAULTS_FUZZ_EXAMPLES=2000 fuzzes longer (the suite keeps it quick)
FUZZ = settings(max_examples=int(os.environ.get("FAULTS_FUZZ_EXAMPLES", "40")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
REGISTRY = load_registry()

# ---- what a broken input is ---------------------------------------------------------------

# No NUL in any string and no control character in a key: the spec's edge refuses those
# before any block is read (core/specfile.py check_text, tested in test_cli_spec_errors), so
# they would hide the refusal each property is about.
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=5), st.integers(), max_size=2),
)
IDENTIFIER = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)


def _number(value: Any) -> float | None:
    """The number a spec value is read as (YAML may give '1e-3' as a string), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


#: key path -> the values that would be valid there (everything else must be refused)
VALID_AT: dict[str, Callable[[Any], bool]] = {
    "name": lambda v: isinstance(v, str),
    "seed": lambda v: _whole(v, 0),
    "run_dir": lambda v: isinstance(v, str),
    "space": lambda v: isinstance(v, dict),
    # optional: only variation: paper reads it (and refuses a space without it)
    "space.x0.sigma": lambda v: v is None or ((n := _number(v)) is not None and n > 0),
    "space.x0.init": lambda v: isinstance(v, list),
    "space.x0.log": lambda v: isinstance(v, bool),
    "objectives": lambda v: isinstance(v, list),
    "objectives.0.name": lambda v: isinstance(v, str),
    "constraints": lambda v: isinstance(v, list),
    "trainer.callable": lambda v: isinstance(v, str),
    "optimizer.pop_size": lambda v: _whole(v, 1),
    "optimizer.generations": lambda v: _whole(v, 0),
    "optimizer.sigma_decay": lambda v: (n := _number(v)) is not None and n > 0,
    "launcher.workers": lambda v: v is None or _whole(v, 1),
    "report": lambda v: isinstance(v, dict),
}
REQUIRED = ["name", "seed", "space", "objectives", "trainer", "optimizer", "space.x0.type", "space.x0.init",
            "trainer.plugin", "trainer.callable", "optimizer.plugin", "launcher.plugin",
            "objectives.0.name"]


def _fields(kind: str, name: str) -> set[str]:
    return {a.name for a in attrs.fields(REGISTRY.lookup(kind, name, ""))}


#: block -> keys it knows (an added key outside these must be refused)
KNOWN_KEYS: dict[str, set[str]] = {
    "": set(TOP_LEVEL_KEYS),
    "space.x0": _fields("parameter_types", "float") | {"type"},
    "trainer": _fields("trainers", "function") | {"plugin"},
    "optimizer": _fields("optimizers", "nsga2") | {"plugin"},
    "launcher": _fields("launchers", "dask") | {"plugin"},
    "objectives.0": {"name", "unit"},
    "report": {"chemical_accuracy"},
}
PLUGIN_KEYS = {"trainer.plugin": "trainers", "optimizer.plugin": "optimizers", "launcher.plugin": "launchers",
               "space.x0.type": "parameter_types"}


def _node(spec: dict, path: list[str]) -> Any:
    node: Any = spec
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def set_key(spec: dict, dotted: str, value: Any) -> dict:
    *head, last = dotted.split(".")
    parent = _node(spec, head)
    parent[int(last) if isinstance(parent, list) else last] = value
    return spec


def del_key(spec: dict, dotted: str) -> dict:
    *head, last = dotted.split(".")
    del _node(spec, head)[last]
    return spec


def base_spec() -> dict[str, Any]:
    spec = function_spec(Path("run"), pop_size=4, generations=1, workers=1)
    spec["launcher"] = {"plugin": "dask", "workers": 1}
    spec["report"] = {"chemical_accuracy": {"f1": 0.1}}
    return spec


# ---- running hpo-run and checking the refusal ---------------------------------------------


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh directory as the working directory (hypothesis runs many examples per test)."""
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="faults-fuzz-") as directory:
        os.chdir(directory)
        try:
            yield Path(directory)
        finally:
            os.chdir(old)


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_refused(files: dict[str, bytes], words: tuple[str, ...] = ()) -> str:
    """Write ``files`` (spec.yaml and what it refers to), run ``hpo-run spec.yaml`` in-process:
    exit 2, one line on stderr naming spec.yaml (or the template) and ``words``, nothing
    on stdout, nothing written."""
    with scratch() as directory:
        for name, content in files.items():
            (directory / name).write_bytes(content)
        before = files_under(directory)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["spec.yaml"])
        line = check_refusal(status, out.getvalue(), err.getvalue(), words)
        assert files_under(directory) == before, "something was written"
        assert not (directory / "run").exists() and not (directory / "runs").exists()
        return line


def check_refusal(status: int, stdout: str, stderr: str, words: tuple[str, ...]) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert status == 2, (status, stderr)
    assert len(lines) == 1 and lines[0].startswith("hpo-run: "), stderr
    assert stdout == "", stdout
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def spec_files(spec: dict, **extra: bytes) -> dict[str, bytes]:
    return {"spec.yaml": dump_yaml(spec).encode(), **extra}


# ---- strategies ---------------------------------------------------------------------------


@st.composite
def wrong_types(draw) -> tuple[dict, str]:
    path = draw(st.sampled_from(sorted(VALID_AT)))
    value = draw(JUNK.filter(lambda v: not VALID_AT[path](v)))
    return set_key(base_spec(), path, value), path


@st.composite
def missing_keys(draw) -> tuple[dict, str]:
    path = draw(st.sampled_from(REQUIRED))
    return del_key(base_spec(), path), path


@st.composite
def unknown_keys(draw) -> tuple[dict, str]:
    block = draw(st.sampled_from(sorted(KNOWN_KEYS)))
    key = draw(IDENTIFIER.filter(lambda k: k not in KNOWN_KEYS[block]))
    spec = base_spec()
    (spec if not block else _node(spec, block.split(".")))[key] = draw(JUNK)
    return spec, key


finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def inverted_ranges(draw) -> tuple[dict, str]:
    high = draw(finite)
    low = draw(st.floats(high, 1e7, allow_nan=False))  # low >= high: an empty interval
    which = draw(st.sampled_from(["init", "bounds"]))
    spec = base_spec()
    if which == "bounds":
        spec["space"]["x0"]["init"] = [min(-2e6, high), max(2e6, low)]
    spec["space"]["x0"][which] = [low, high]
    return spec, f"space.x0.{which}"


@st.composite
def bad_choices(draw) -> tuple[dict, str]:
    unusable = st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                           st.integers(), max_size=1))
    scalars = st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3)
    choices = draw(st.one_of(st.just([]), st.tuples(scalars, unusable, scalars).map(lambda t: [*t[0], t[1], *t[2]])))
    spec = base_spec()
    spec["space"]["c"] = {"type": "choice", "choices": choices, "sigma": 1.0}
    return spec, "space.c.choices"


NO_OPERATOR = st.text(alphabet=st.characters(blacklist_characters="<>=!", blacklist_categories=("Cs",)), max_size=30)
BAD_OPERATORS = ["=", "=>", "=<", "<>", "!", "<<", "~=", "is", "in"]
INJECTIONS = ["__import__('os').system('touch PWNED') < 1", "x0 < 1; import os", "x0 < 1 or True",
              "x0 < (lambda: 1)()", "x0 < 1 and open('PWNED', 'w')", "x0.__class__ < 1"]


@st.composite
def bad_constraints(draw) -> tuple[dict, str]:
    names = ["x0", "x1", "x2", "x3"]
    unknown = IDENTIFIER.filter(lambda n: n not in names)
    number = finite.map(repr)
    text = draw(st.one_of(
        NO_OPERATOR,
        st.tuples(unknown, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), number).map(" ".join),
        st.tuples(number, st.sampled_from(["<", ">="]), number).map(" ".join),
        st.tuples(st.sampled_from(names), st.sampled_from(BAD_OPERATORS), number).map(" ".join),
        st.sampled_from(INJECTIONS),
        JUNK.filter(lambda v: not isinstance(v, str)),
    ))
    spec = base_spec()
    spec["constraints"] = ["x0 < 2", text]
    return spec, "constraints.1"


@st.composite
def unknown_plugins(draw) -> tuple[dict, str]:
    path = draw(st.sampled_from(sorted(PLUGIN_KEYS)))
    known = REGISTRY.components[PLUGIN_KEYS[path]]
    name = draw(st.one_of(IDENTIFIER, JUNK).filter(lambda v: not (isinstance(v, str) and v in known)))
    return set_key(base_spec(), path, name), path


BROKEN_SPECS = st.one_of(wrong_types(), missing_keys(), unknown_keys(), inverted_ranges(), bad_choices(),
                         bad_constraints(), unknown_plugins())


# ---- the properties ------------------------------------------------------------------------


@FUZZ
@given(wrong_types())
def test_wrong_types(case) -> None:
    spec, path = case
    assert_refused(spec_files(spec), ("spec.yaml", f": {path.split('.')[0]}"))


@FUZZ
@given(missing_keys())
def test_missing_keys(case) -> None:
    spec, path = case
    assert_refused(spec_files(spec), ("spec.yaml", f": {path.split('.')[0]}"))


@FUZZ
@given(unknown_keys())
def test_unknown_keys(case) -> None:
    spec, key = case
    assert_refused(spec_files(spec), ("spec.yaml", "unknown", key))


@FUZZ
@given(inverted_ranges())
def test_inverted_ranges(case) -> None:
    spec, path = case
    assert_refused(spec_files(spec), ("spec.yaml", path, "empty"))


@FUZZ
@given(bad_choices())
def test_empty_or_unusable_choices(case) -> None:
    spec, path = case
    assert_refused(spec_files(spec), ("spec.yaml", path))


@FUZZ
@given(bad_constraints())
def test_bad_constraints(case) -> None:
    spec, path = case
    assert_refused(spec_files(spec), ("spec.yaml", path))
    assert not Path("PWNED").exists()


@FUZZ
@given(unknown_plugins())
def test_unknown_plugins(case) -> None:
    spec, path = case
    assert_refused(spec_files(spec), ("spec.yaml", path, "unknown"))


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
def test_bytes_that_are_not_a_spec(content: bytes) -> None:
    assert_refused({"spec.yaml": content}, ("spec.yaml",))


# ---- broken templates (the deepmd trainer) ----------------------------------------------------


@st.composite
def broken_templates(draw) -> bytes:
    text = TEMPLATE
    kind = draw(st.sampled_from(["cut", "dollar", "unknown", "unused", "not-object", "not-utf8"]))
    if kind == "cut":  # cut before the closing brace: never a JSON object
        return text[:draw(st.integers(0, len(text) - 2))].encode()
    if kind == "dollar":  # a '$' that is neither '$$' nor a placeholder
        at = draw(st.integers(0, len(text)))
        return (text[:at] + "$" + draw(st.sampled_from(list(" -!.,1)"))) + text[at:]).encode()
    if kind == "unknown":
        name = draw(IDENTIFIER.filter(lambda n: n not in ("x", "act", "seed")))
        return text.replace("$seed", f"${{{name}}}").encode()
    if kind == "unused":
        return text.replace("${act}", "tanh").encode()
    if kind == "not-object":
        return b'[$x, "${act}", $seed]'
    return b"\xff\xfe" + draw(st.binary(max_size=50))


@FUZZ
@given(broken_templates())
def test_broken_templates(template: bytes) -> None:
    spec = deepmd_spec(Path("run"), workers=1)
    assert_refused(spec_files(spec, **{"tmpl.json": template}), ("tmpl.json", ": trainer.template:"))


#: keys of the deepmd trainer block -> the values that would be valid there
DEEPMD_VALID_AT: dict[str, Callable[[Any], bool]] = {
    "template": lambda v: isinstance(v, str),
    "settings": lambda v: isinstance(v, dict),
    "paths": lambda v: isinstance(v, (str, list)),
    "command": lambda v: isinstance(v, (str, list)),
    "launch_prefix": lambda v: isinstance(v, (str, list)),
    "env": lambda v: isinstance(v, dict),
    "timeout_minutes": lambda v: (n := _number(v)) is not None and n > 0,
    "metrics": lambda v: isinstance(v, dict),
    "last_rows": lambda v: _whole(v, 1),
    "check_input": lambda v: isinstance(v, bool),
}


@st.composite
def deepmd_wrong_types(draw) -> tuple[dict, str]:
    key = draw(st.sampled_from(sorted(DEEPMD_VALID_AT)))
    spec = deepmd_spec(Path("run"), workers=1)
    spec["trainer"][key] = draw(JUNK.filter(lambda v: not DEEPMD_VALID_AT[key](v)))
    return spec, key


@FUZZ
@given(deepmd_wrong_types())
def test_deepmd_trainer_wrong_types(case) -> None:
    spec, key = case
    assert_refused(spec_files(spec, **{"tmpl.json": TEMPLATE.encode()}), ("spec.yaml", "trainer", key))


# ---- a few through the real console script -----------------------------------------------------


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(BROKEN_SPECS)
def test_broken_specs_through_the_console_script(case) -> None:
    spec, _path = case
    with scratch() as directory:
        (directory / "spec.yaml").write_text(dump_yaml(copy.deepcopy(spec)))
        done = subprocess.run([str(VENV_BIN / "hpo-run"), "spec.yaml"], cwd=directory, capture_output=True,
                              text=True, timeout=120, check=False, env=subprocess_env())
        check_refusal(done.returncode, done.stdout, done.stderr, ("spec.yaml",))
        assert sorted(p.name for p in directory.iterdir()) == ["spec.yaml"]
