"""The training data a DeePMD input names, checked at start-up against every sampled
candidate's rendered input: the systems exist (or are written by the time the training
starts), their type maps agree with the template's, they carry virials when an objective
scores them, and the validation systems are not trained on too.  A mistake here fails
every training the same way, so it is found once, before any is launched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from dnnp_hpo.errors import SpecError
from dnnp_hpo.paths import absent, data_location
from dnnp_hpo.run import RunContext

from .lcurve import column_term


def systems_paths(data: Any, where: str, patterned: bool = True) -> list[tuple[str, str]]:
    """``(key, path)`` of each data path under ``training`` (the ``systems`` of
    ``training_data``, ``validation_data``, DeePMD-kit 1's ``training.systems``, a
    multi-task ``data_dict``): a string or a list of strings.  ``patterned=False`` leaves
    out the paths of a section with ``rglob_patterns``: DeePMD-kit takes only the systems
    below them that a pattern matches, which a walk of every system would not know."""
    if isinstance(data, Mapping):
        found = []
        for key, value in data.items():
            if key == "systems" and not patterned and "rglob_patterns" in data:
                continue
            if key == "systems":
                values = value if isinstance(value, list) else [value]
                found.extend((f"{where}{key}", v) for v in values if isinstance(v, str))
            else:
                found.extend(systems_paths(value, f"{where}{key}.", patterned))
        return found
    return []


def under_any(path: str, tops: Collection[str]) -> bool:
    """Whether ``path`` is one of ``tops`` or below one of them."""
    return any(path == top or path.startswith(top.rstrip(os.sep) + os.sep) for top in tops)


def check_written_systems(run: RunContext, rendered: list[tuple[dict[str, Any], str]],
                          command: tuple[str, ...], data_paths: Collection[str],
                          placeholders: Mapping[str, str], settings: Collection[str]) -> None:
    """SpecError for a relative data path written in the template that cannot exist where
    ``dp`` runs (inside the fresh evaluation directory), a warning for one that climbs
    out of it (``../data``) to a place that does not exist: ``dp`` reads them from
    ``RUN_DIR/evals/<uuid>/``, so a converted input.json's ``../data/train`` failed every
    training.  A warning too for an absolute one that does not exist on this host (a
    converted input.json's path with a typo failed every training): only a warning, as
    for the training program, since data on the workers' nodes alone are not seen from
    here; the ``trainer.paths`` settings (``data_paths``), and paths below them
    (``${train}/sub``), are :func:`check_data`'s, which says it once."""
    seen = set()
    evaldir = run.evals_dir / "<uuid>"
    for data, where in rendered:
        for key, path in systems_paths(data.get("training"), "training."):
            if not path or (key, path) in seen or under_any(path, data_paths):
                continue
            seen.add((key, path))
            # the setting that gave it (one left out of trainer.paths), else the template
            given = f"trainer.{_path_given_by(data, key, path, placeholders, settings)}"
            if os.path.isabs(path):
                problem = absent(data_location(path))
                if problem is not None:
                    print(f"hpo-run: warning: {run.spec_path}: {given}: {where}: {key}: {path} {problem} "
                          "on this host; every training will fail unless it exists where the workers run",
                          file=sys.stderr)
                continue
            advice = ("give an absolute path, or a placeholder whose value is in trainer.settings and listed in "
                      "trainer.paths (relative to the spec file, rendered absolute)")
            inside = not os.path.normpath(path).startswith("..")
            if inside and Path(command[0]).name == "dp":
                # Nothing but dp runs there, and the directory holds only input.json.
                raise SpecError(f"{where}: {key}: {path!r} is a relative path, and dp runs in the fresh evaluation "
                                f"directory {evaldir}, where it cannot exist: {advice}", given.removeprefix("trainer."))
            resolved = os.path.normpath(evaldir / path)
            problem = absent(resolved)
            if problem is not None:
                print(f"hpo-run: warning: {run.spec_path}: {given}: {where}: {key}: {path!r} is relative "
                      f"to the evaluation directory {evaldir} where dp runs, so it is {resolved}, which "
                      f"{problem}; every training will fail unless it is there: {advice}", file=sys.stderr)


def systems_under(path: str | Path) -> list[Path]:
    """The systems DeePMD-kit finds for a data path (``expand_sys_str``): ``path`` itself
    if it holds a ``type.raw``, else each directory below it that does, not into a
    system (its ``set.*`` frames) nor into a linked directory (pathlib's ``rglob`` goes
    into none), though a link that is itself a system is one."""
    found = []
    for top, dirs, files in os.walk(path):
        if "type.raw" in files:
            found.append(Path(top))
            dirs[:] = []
            continue
        linked = [d for d in dirs if os.path.islink(os.path.join(top, d))]
        found.extend(Path(top, d) for d in linked if os.path.isfile(os.path.join(top, d, "type.raw")))
        dirs[:] = sorted(d for d in dirs if d not in linked)
    return found


def data_type_maps(path: Path) -> list[tuple[Path, list[str]]]:
    """The element names of each system under ``path`` (:func:`systems_under`) that has a
    ``type_map.raw`` (dpdata writes one).  A folder without ``type.raw`` is no system:
    its ``type_map.raw`` (an old dataset's left beside) refused a spec falsely (helper-87)."""
    found = []
    for system in systems_under(path):
        if (system / "type_map.raw").is_file():
            try:
                found.append((system, (system / "type_map.raw").read_text(encoding="utf-8").split()))
            except (OSError, UnicodeDecodeError):
                continue  # dp says what is wrong with it
    return found


def check_type_map(rendered: list[tuple[dict[str, Any], str]], placeholders: Mapping[str, str],
                   settings: Collection[str]) -> None:
    """SpecError when the data hold an element that the rendered ``model.type_map`` lacks:
    DeePMD-kit refuses such data ("Elements ['Ni'] are not present in the provided
    type_map"), so every training failed after --dry-run had called the spec valid (a
    template copied from another system).  Data not there yet are left to the warning.
    A type_map that a setting gives (``$type_map``, the paper's) names that setting, where
    the fix goes (it named the template, which a review then looked through in vain)."""
    name = placeholders.get("model.type_map")
    key, fix = _given_by("model.type_map", placeholders, settings)
    from_setting = f" (from ${name})" if key != "template" else ""
    seen = set()
    for data, where in rendered:
        model = data.get("model")
        type_map = model.get("type_map") if isinstance(model, Mapping) else None
        if not isinstance(type_map, list):
            continue  # no names: DeePMD-kit reads the types as numbers
        names = tuple(map(str, type_map))
        for data_key, path in systems_paths(data.get("training"), "training.", patterned=False):
            if not os.path.isabs(path) or (path, names) in seen:
                continue  # each data path walked once per type_map, not once per sample
            seen.add((path, names))
            for system, elements in data_type_maps(Path(path)):
                missing = [element for element in elements if element not in type_map]
                if missing:
                    raise SpecError(
                        f"{where}: model.type_map {type_map}{from_setting} "
                        f"lacks {', '.join(missing)}, an element of the data in {data_key} "
                        f"({system / 'type_map.raw'}: {' '.join(elements)}), which DeePMD-kit refuses: "
                        f"list every element of the data in {fix}", key)
            for system in systems_under(path):
                # Without type_map.raw the types are numbers, indices into type_map: one past
                # its end failed every training with TensorFlow's "Cannot feed value of
                # shape (4,) for Tensor t_natoms:0, which has shape (5,)" (helper-121)
                highest = _highest_type(system)
                if highest is not None and highest >= len(type_map):
                    raise SpecError(
                        f"{where}: model.type_map {type_map}{from_setting} names {len(type_map)} element(s), and "
                        f"{system / 'type.raw'} numbers an atom's type {highest} (types count from 0, one per "
                        f"element of type_map), with no type_map.raw beside it to name them: list every element of "
                        f"the data in {fix}, in the order of its type numbers", key)


def _given_by(data_key: str, placeholders: Mapping[str, str], settings: Collection[str]) -> tuple[str, str]:
    """The spec key a value of the rendered input comes from, and where its fix goes: the
    setting of the placeholder that is that value, or an item of it (``$type_map``,
    ``$train_systems``), else the template (its dotted key)."""
    item_of = data_key.rpartition(".")[0]  # training.training_data.systems of ...systems.0
    name = placeholders.get(data_key) or (placeholders.get(item_of) if item_of else None)
    if name in settings:
        return f"settings.{name}", f"trainer.settings.{name}"
    return "template", data_key


def _path_given_by(data: Mapping[str, Any], data_key: str, path: str, placeholders: Mapping[str, str],
                   settings: Collection[str]) -> str:
    """The spec key (below ``trainer``) a data ``path`` at ``data_key`` of the rendered
    input comes from (:func:`_given_by`), keyed as its placeholder is: the item of a list
    (``training.training_data.systems.0`` for ``["${train_systems}"]``), else ``data_key``."""
    node: Any = data
    for part in data_key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    item = f"{data_key}.{node.index(path)}" if isinstance(node, list) and path in node else data_key
    return _given_by(item, placeholders, settings)[0]


def system_types(system: Path) -> tuple[list[int], list[str] | None] | None:
    """A system's atom types: the numbers of its ``type.raw`` and the names of its
    ``type_map.raw`` (None without one: the numbers index the model's type_map); None when
    they do not read (dp says what is wrong with them), and for the mixed-type format,
    whose type.raw holds no types (they are in set.*/real_atom_types.npy)."""
    if any(system.glob("set.*/real_atom_types.npy")):
        return None
    try:
        types = [int(word) for word in (system / "type.raw").read_text(encoding="utf-8").split()]
        named = system / "type_map.raw"
        return types, named.read_text(encoding="utf-8").split() if named.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _highest_type(system: Path) -> int | None:
    """The highest type number in a system's ``type.raw`` when it has no ``type_map.raw``
    (None with one, or when it does not read)."""
    read = system_types(system)
    return None if read is None or read[1] is not None else max(read[0], default=None)


def walkable(path: str) -> bool:
    """Whether a data path is a directory of DeePMD-kit systems that can be looked into
    from here: absolute, there and readable (data only the workers' nodes hold are not),
    and not an LMDB dataset (DeePMD-kit's ``is_lmdb``: ``*.lmdb`` or holding data.mdb),
    which is read whole; an HDF5 file is no directory."""
    return (os.path.isabs(path) and os.path.isdir(path) and os.access(path, os.R_OK | os.X_OK)
            and not path.endswith(".lmdb") and not os.path.isfile(os.path.join(path, "data.mdb")))


def check_systems(rendered: list[tuple[dict[str, Any], str]], placeholders: Mapping[str, str],
                  settings: Collection[str]) -> None:
    """SpecError for a data directory in which DeePMD-kit finds no system, or a system
    without frames.  DeePMD-kit skips the first without a word among other paths (a run
    trained on half its data, helper-121; alone it is "No systems provided"), and refuses
    the second ("No set.* is found") in every training.  Directories only: an HDF5 file
    is a system of its own, an LMDB dataset is read whole, and a path not there is the
    missing-data warning's."""
    seen = set()
    for data, where in rendered:
        for data_key, path in systems_paths(data.get("training"), "training.", patterned=False):
            if path in seen or not walkable(path):
                continue
            seen.add(path)
            key = _path_given_by(data, data_key, path, placeholders, settings)
            systems = systems_under(path)
            if not systems:
                parent = Path(path).parent
                hint = (f"it is a set of frames of the system {parent}: give the system's directory"
                        if Path(path).name.startswith("set.") and (parent / "type.raw").is_file() else
                        "a system is a directory with type.raw and set.*/ of frames, as dpdata's deepmd/npy "
                        "format writes it")
                raise SpecError(f"{where}: {data_key}: {path} holds no DeePMD-kit system (no type.raw in it or "
                                f"below it, but for linked folders, which DeePMD-kit does not go into), so DeePMD-kit "
                                f"would leave it out: {hint}", key)
            for system in systems:
                if not any(frames.is_dir() for frames in system.glob("set.*")):
                    raise SpecError(f"{where}: {data_key}: the system {system} has no set.* directory of frames, "
                                    "which DeePMD-kit refuses (\"No set.* is found\"), so every training would "
                                    "fail: convert it to dpdata's deepmd/npy format "
                                    "(dpdata.LabeledSystem(...).to('deepmd/npy', directory))", key)


def lacks_virials(system: Path) -> bool:
    """Whether a set of a DeePMD-kit system holds no ``virial.npy``: DeePMD-kit reads the
    virials set by set (deepmd/utils/data.py), and a set without them gives NaN too
    (helper-93).  A system without sets is dp's to refuse ("No set.* is found")."""
    return any(not (s / "virial.npy").is_file() for s in system.glob("set.*") if s.is_dir())


def check_virial_data(rendered: list[tuple[dict[str, Any], str]], metrics: Mapping[str, str],
                      objectives: Collection[str]) -> None:
    """SpecError when an objective reads the virial error (``rmse_v_val``) and systems of
    the data it is measured on hold no virials: DeePMD-kit then writes NaN for the batches
    drawn from them, and every training failed after its whole run (no system had any), or
    at random, by the system its last batch came from (some had; helper-92).  Read on the
    middle of the space; data not there (a worker's path) are left alone."""
    data, where = rendered[0]
    for name, column in metrics.items():
        if name not in objectives or column_term(column) != "v" or not column.endswith(("_val", "_trn")):
            continue
        validation = column.endswith("_val")
        paths = [(key, path) for key, path in systems_paths(data.get("training"), "training.", patterned=False)
                 if os.path.isabs(path) and ("validation_data" in key) == validation]
        for key, path in paths:
            systems = systems_under(path)
            lacking = [system for system in systems if lacks_virials(system)]
            if lacking:
                which = (f"the system in {path} has" if len(systems) == 1 else
                         f"{len(lacking)} of the {len(systems)} systems in {path} {'have' if len(lacking) > 1 else 'has'}")
                raise SpecError(f"{where}: {key}: {which} sets without virials ({lacking[0]}/set.*/virial.npy), "
                                f"which {name} reads ({column}): DeePMD-kit "
                                "writes NaN for the batches drawn from them, so every training would fail, or many at "
                                f"random; give {'validation' if validation else 'training'} systems with virials, or "
                                f"drop the objective", "template")


def data_systems(path: str) -> list[str]:
    """The systems DeePMD-kit trains on for a data path (:func:`systems_under`), resolved."""
    return [os.path.realpath(system) for system in systems_under(path)]


def elements_present(system: Path) -> set[str] | None:
    """The elements a system's atoms are of (its ``type.raw`` numbers named by its
    ``type_map.raw``, which may name more: dpdata writes the whole type_map it is given);
    None when the files do not say (no type_map.raw, the mixed-type format, unreadable)."""
    read = system_types(system)
    if read is None or read[1] is None:
        return None
    types, names = read
    return {names[t] for t in types} if all(0 <= t < len(names) for t in types) else None


def warn_untrained_elements(run: RunContext, rendered: list[tuple[dict[str, Any], str]],
                            placeholders: Mapping[str, str], settings: Collection[str]) -> None:
    """Warn on stderr when the validation systems hold an element no training system does:
    the models are then ranked on errors for atoms they were never trained on (a validation
    set of another alloy; a type_map that lists the element lets DeePMD-kit take it,
    helper-121).  Read on the middle of the space, where every system says its elements."""
    data, where = rendered[0]
    paths = systems_paths(data.get("training"), "training.", patterned=False)
    if len(paths) != len(systems_paths(data.get("training"), "training.")):
        return  # rglob_patterns choose among the systems: which ones is DeePMD-kit's to know
    found: dict[bool, set[str]] = {True: set(), False: set()}  # by whether validation
    named = "template"
    for key, path in paths:
        if not walkable(path):
            return  # its elements are not known here (HDF5, LMDB, a worker's path): no guess
        if "validation_data" in key and named == "template":
            named = _path_given_by(data, key, path, placeholders, settings)
        for system in systems_under(path):
            elements = elements_present(system)
            if elements is None:
                return
            found["validation_data" in key] |= elements
    untrained = sorted(found[True] - found[False])
    if found[False] and untrained:
        print(f"hpo-run: warning: {run.spec_path}: trainer.{named}: {where}: the validation systems hold "
              f"{', '.join(untrained)}, which no training system does: the objectives would rank the models on "
              "errors for atoms they were never trained on; give validation data of the trained elements",
              file=sys.stderr)


def warn_validation_trained(run: RunContext, rendered: list[tuple[dict[str, Any], str]],
                            metrics: Mapping[str, str]) -> None:
    """Warn on stderr when a validation system is trained on too (a training path that is
    the folder above both, say): the ``*_val`` errors the objectives read are then errors
    on trained frames, and the search favours the models that overfit most.  Told once."""
    columns = sorted(column for column in metrics.values() if column.endswith("_val"))
    if not columns:
        return
    walked: dict[str, list[str]] = {}  # each path walked once, not once per rendering

    def systems(path: str) -> list[str]:
        if path not in walked:
            walked[path] = data_systems(path)
        return walked[path]

    for data, where in rendered:
        paths = [(key, path) for key, path in systems_paths(data.get("training"), "training.", patterned=False)
                 if os.path.isabs(path)]
        trained = {system: key for key, path in paths if "validation_data" not in key for system in systems(path)}
        for key, path in paths:
            if "validation_data" not in key:
                continue
            for system in systems(path):
                if system in trained:
                    print(f"hpo-run: warning: {run.spec_path}: trainer.template: {where}: {key}: {system} is "
                          f"trained on too (it is in {trained[system]} as well), so the validation errors the objectives read ({', '.join(columns)}) are errors on trained "
                          "frames, which favour the models that overfit: keep the validation systems out of "
                          "the training paths", file=sys.stderr)
                    return
