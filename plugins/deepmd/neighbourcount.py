"""Neighbours counted in the training data at start-up, for a fixed ``sel`` that
``--skip-neighbor-stat`` leaves unchecked.

Without the flag DeePMD-kit counts every atom's neighbours within ``rcut`` before each
training and logs when ``sel`` is short (:mod:`.neighbours` reads that); with it, nothing
is counted and a ``sel`` too small for the data cuts every neighbour list without a word.
The quickstart passes the flag, its ``sel`` being known to fit the demo data, and a spec
copied from it for denser data trained every candidate that way (helper-121: 11
neighbours short at rcut 6 on a Ni-Al alloy).  So the training systems are sampled here,
a few frames each, at the largest ``rcut`` the renderings give: a count above ``sel`` in
a sample is one the whole data hold too (the sample may miss the densest frame, never
invent one), so the warning is never false, only possibly late.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dnnp_hpo.run import RunContext

from .datacheck import system_types, systems_paths, systems_under, walkable
from .modelcheck import descriptors

#: frames read per system (evenly over its first set) and over all systems: start-up stays
#: well under a second for datasets of small cells, whatever their size
FRAMES_PER_SYSTEM = 4
MAX_FRAMES = 200
#: atoms above which a frame is left to DeePMD-kit's own count (a frame of 2000 atoms
#: at a metal's density takes about 0.1 s here)
MAX_ATOMS = 2000


def most_neighbours(coord: np.ndarray, box: np.ndarray | None, types: np.ndarray, ntypes: int,
                    rcut: float) -> np.ndarray:
    """The most neighbours of each type any atom of one frame has within ``rcut`` (an
    array of ``ntypes``), periodic images included (``box``: the cell's vectors as rows,
    None for a frame without periodic boundaries), the atom itself not."""
    shifts = np.zeros((1, 3))
    if box is not None:
        volume = abs(np.linalg.det(box))
        # images along each cell vector: as many as the cutoff spans of the cell's height
        heights = [volume / np.linalg.norm(np.cross(box[(i + 1) % 3], box[(i + 2) % 3])) for i in range(3)]
        reach = [math.ceil(rcut / h) for h in heights]
        grid = np.array(list(itertools.product(*(range(-n, n + 1) for n in reach))), dtype=float)
        shifts = grid @ box
    # here, not at the top: every hpo-run imports this plugin, and scipy.spatial takes
    # a quarter of a second to import, which a run without the count would pay too
    from scipy.spatial import cKDTree

    images = (coord[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    image_types = np.tile(types, len(shifts))
    best = np.zeros(ntypes, dtype=np.int64)
    for kind in range(ntypes):
        # a tree per type: all pairs of 2000 atoms and their 27 images took 3.7 s a frame
        points = images[image_types == kind]
        if len(points):
            within = cKDTree(points).query_ball_point(coord, rcut, return_length=True)
            best[kind] = int((within - (types == kind)).max())  # not the atom itself
    return best


def _frames(system: Path, type_map: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray | None]] | None:
    """A few frames of ``system``: coordinates (frames, atoms, 3), each atom's index in the
    model's ``type_map``, and each frame's cell (None without periodic boundaries); None
    when the system does not read as plain deepmd/npy (its types not in type.raw, another
    layout: left to DeePMD-kit, which says what is wrong)."""
    sets = sorted(s for s in system.glob("set.*") if s.is_dir())
    read = system_types(system)
    if not sets or read is None:
        return None
    types, names = read
    try:
        index = np.array([list(type_map).index((names or type_map)[t]) for t in types])
        coords = np.load(sets[0] / "coord.npy", mmap_mode="r")
        boxes = None if (system / "nopbc").exists() else np.load(sets[0] / "box.npy", mmap_mode="r")
    except (OSError, ValueError, IndexError):
        return None
    if len(types) > MAX_ATOMS or coords.ndim != 2 or coords.shape[1] != 3 * len(types):
        return None
    picked = sorted({round(k * (len(coords) - 1) / max(FRAMES_PER_SYSTEM - 1, 1)) for k in range(FRAMES_PER_SYSTEM)})
    cells = [None if boxes is None else np.asarray(boxes[i], dtype=float).reshape(3, 3) for i in picked]
    return np.asarray(coords[picked], dtype=float).reshape(len(picked), -1, 3), index, cells


def training_systems(data: Mapping[str, Any]) -> list[Path]:
    """The training systems (not the validation ones) of a rendered input that can be read
    here (:func:`.datacheck.walkable`)."""
    return [system for key, path in systems_paths(data.get("training"), "training.", patterned=False)
            if "validation_data" not in key and walkable(path) for system in systems_under(path)]


def warn_short_sel(run: RunContext, rendered: Sequence[tuple[Mapping[str, Any], str]]) -> None:
    """Warn on stderr, once, when a fixed ``sel`` is below the neighbours that sampled
    frames of the training data hold within the largest ``rcut`` of ``rendered`` (its
    renderings: the middle, each choice, the bounds); for a command with
    ``--skip-neighbor-stat``, without which DeePMD-kit counts them itself and each
    training's shortfall is told (:mod:`.neighbours`)."""
    widest: dict[str, tuple[float, Any, str, Mapping[str, Any]]] = {}  # descriptor key -> its largest rcut
    for data, where in rendered:
        for key, descriptor in descriptors(data.get("model")):
            rcut, sel = descriptor.get("rcut"), descriptor.get("sel")
            fixed = isinstance(sel, int) or isinstance(sel, list) and all(isinstance(s, int) for s in sel)
            if isinstance(rcut, (int, float)) and rcut > 0 and fixed and rcut > widest.get(key, (0.0,))[0]:
                widest[key] = (float(rcut), sel, where, data)
    for key, (rcut, sel, where, data) in widest.items():
        type_map = (data.get("model") or {}).get("type_map")
        if not isinstance(type_map, list) or isinstance(sel, list) and len(sel) != len(type_map):
            continue  # the types are numbers, or check_sel's to refuse
        counted, frames = np.zeros(len(type_map), dtype=np.int64), 0
        for system in training_systems(data):
            read = _frames(system, [str(t) for t in type_map]) if frames < MAX_FRAMES else None
            if read is None:
                continue
            coords, index, cells = read
            for coord, cell in zip(coords, cells):
                counted = np.maximum(counted, most_neighbours(coord, cell, index, len(type_map), rcut))
                frames += 1
        # a type-blind sel (se_atten's one number) counts every neighbour together
        found = [int(counted.sum())] if isinstance(sel, int) else [int(c) for c in counted]
        wanted = [sel] if isinstance(sel, int) else list(sel)
        if frames and any(f > w for f, w in zip(found, wanted)):
            shown = found[0] if isinstance(sel, int) else found
            print(f"hpo-run: warning: {run.spec_path}: trainer.template: {where}: {key}.sel {sel} is below the "
                  f"neighbours within rcut {rcut:g} that the training data hold ({shown}, the most in {frames} "
                  "frames sampled): with --skip-neighbor-stat DeePMD-kit does not count them and cuts every "
                  "neighbour list to sel without a word, and such models may rank well and be unfit for dynamics; "
                  f"give a sel of at least {shown}, or drop --skip-neighbor-stat (DeePMD-kit then counts them, "
                  "and the run tells)", file=sys.stderr)
            return
