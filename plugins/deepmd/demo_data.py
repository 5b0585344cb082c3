"""``hpo-demo-data OUT_DIR``: a small, physical DeePMD dataset made in seconds with ASE.

Molecular dynamics of a 32-atom Al-Cu melt (Al24Cu8, periodic cubic cell) with ASE's
EMT potential and a Langevin thermostat; frames are written in DeePMD's npy format with
dpdata, shuffled and split 75/25 into a training and a validation system, as the paper
did with its FPMD frames (section 2.1.3).  The same seed gives the same files, so the
quickstart is reproducible on any machine without data of the user's.

Layout of ``OUT_DIR``::

    train/   type.raw  type_map.raw  set.000/{box,coord,energy,force}.npy
    valid/   (the same)
    train.extxyz  valid.extxyz   the same frames as extended XYZ, for ASE readers (NequIP)
    demo-data.json   how it was made (seed, temperature, frames, ...)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dnnp_hpo.cli import OneLineParser
from dnnp_hpo.entry import Stopped, stop_on_signals
from dnnp_hpo.runlock import make_dirs, remove_made

METADATA = "demo-data.json"
TYPE_MAP = ("Al", "Cu")
EXIT_BAD_INPUT = 2
#: most frames: 400 take about 10 s, so this is over half an hour of MD; a typo of 10**22
#: ran for ever
MAX_FRAMES = 100_000


@attrs.frozen
class DemoSettings:
    """How the demo trajectory is made; every field is recorded in ``demo-data.json``."""

    seed: int = 2024
    frames: int = 400  #: frames kept after equilibration (split 75/25)
    n_cu: int = 8  #: Cu atoms among the 32 of a 2x2x2 fcc cell
    lattice: float = 4.0  #: Angstrom, fcc cubic cell edge (Vegard's law for Al-25%Cu, ~4.0)
    temperature_K: float = 1400.0  #: well above EMT's melting point of Al-Cu
    timestep_fs: float = 2.0
    equilibration_steps: int = 300  #: melt the crystal before recording
    stride: int = 5  #: MD steps between recorded frames, so frames are less correlated
    valid_fraction: float = 0.25


def run_md(settings: DemoSettings) -> dict[str, Any]:
    """Run the melt and return dpdata's labelled-system dictionary (eV, Angstrom)."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    rng = np.random.default_rng(settings.seed)
    atoms = bulk("Al", "fcc", a=settings.lattice, cubic=True).repeat((2, 2, 2))
    symbols = np.array(atoms.get_chemical_symbols())
    symbols[rng.choice(len(atoms), size=settings.n_cu, replace=False)] = "Cu"
    atoms.set_chemical_symbols(symbols.tolist())
    atoms.calc = EMT()
    # Start hot so the crystal melts within the equilibration steps.
    MaxwellBoltzmannDistribution(atoms, temperature_K=2 * settings.temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())  # ASE's recommended way, instead of Langevin(fixcm=True)
    dyn = Langevin(
        atoms, timestep=settings.timestep_fs * units.fs, temperature_K=settings.temperature_K,
        friction=0.02 / units.fs, fixcm=False, rng=rng,
    )
    dyn.run(settings.equilibration_steps)

    cells, coords, energies, forces = [], [], [], []
    for _ in range(settings.frames):
        dyn.run(settings.stride)
        cells.append(atoms.get_cell().array.copy())
        coords.append(atoms.get_positions(wrap=True))
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())

    types = np.array([TYPE_MAP.index(s) for s in atoms.get_chemical_symbols()])
    return {
        "atom_names": list(TYPE_MAP),
        "atom_numbs": [int((types == i).sum()) for i in range(len(TYPE_MAP))],
        "atom_types": types,
        "orig": np.zeros(3),
        "cells": np.array(cells),
        "coords": np.array(coords),
        "energies": np.array(energies),
        "forces": np.array(forces),
        "nopbc": False,
    }


def write_dataset(data: dict[str, Any], out_dir: Path, settings: DemoSettings) -> dict[str, Any]:
    """Shuffle, split and write ``train/`` and ``valid/`` in DeePMD npy format."""
    import dpdata

    system = dpdata.LabeledSystem(data=data)
    n = len(system)
    # A stream of its own, so the split does not depend on how many numbers the MD drew.
    order = np.random.default_rng([settings.seed, 1]).permutation(n)
    n_valid = max(1, round(settings.valid_fraction * n))
    parts = {"valid": np.sort(order[:n_valid]), "train": np.sort(order[n_valid:])}
    for name, index in parts.items():
        # One set.000 per system: set_size larger than the frame count.
        system.sub_system(index).to("deepmd/npy", str(out_dir / name), set_size=n)
    write_extxyz(out_dir)
    return {name: len(index) for name, index in parts.items()}


def write_extxyz(out_dir: Path, names: Sequence[str] = ("train", "valid")) -> None:
    """``train.extxyz`` and ``valid.extxyz`` (``names``) from the npy systems: the same
    frames, energies and forces, for codes that read ASE formats (the ``nequip`` trainer)."""
    import ase.io
    import dpdata

    for name in names:
        frames = dpdata.LabeledSystem(str(out_dir / name), fmt="deepmd/npy").to("ase/structure")
        partial = out_dir / f".{name}.extxyz.partial"
        ase.io.write(partial, frames, format="extxyz")
        os.replace(partial, out_dir / f"{name}.extxyz")


def generate(out_dir: Path, settings: DemoSettings = DemoSettings()) -> dict[str, Any]:
    """Make the dataset in ``out_dir`` (absent, or an empty directory); return its metadata.

    Written to a scratch directory first and renamed at the end, so an interrupted run
    never leaves a half-written dataset that ``--if-missing`` would take as complete; a
    failure leaves everything as it found it (the parents it made are removed again).
    """
    start = time.monotonic()
    scratch = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    made: list[Path] = []
    try:
        make_dirs(out_dir.parent, made)
        scratch.mkdir()
        data = run_md(settings)
        counts = write_dataset(data, scratch, settings)
        per_atom = data["energies"] / len(data["atom_types"])
        metadata = {
            "generator": "dnnp_hpo.plugins.deepmd.demo_data",
            "system": "Al24Cu8 melt, EMT potential (ase.calculators.emt), Langevin NVT",
            "type_map": list(TYPE_MAP),
            "frames": counts,
            "energy_per_atom_eV": {"mean": float(per_atom.mean()), "std": float(per_atom.std())},
            "force_rms_eV_per_A": float(np.sqrt((data["forces"] ** 2).mean())),
            "cell_edge_A": float(data["cells"][0][0][0]),
            "settings": attrs.asdict(settings),
        }
        (scratch / METADATA).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        os.replace(scratch, out_dir)  # onto an empty directory too (rename(2) replaces one)
    except BaseException:  # Ctrl-C too
        shutil.rmtree(scratch, ignore_errors=True)
        remove_made(made)
        raise
    metadata["seconds"] = round(time.monotonic() - start, 2)
    return metadata


@contextlib.contextmanager
def _stops_raised() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the making as Ctrl-C does, with hpo-run's handler (the first
    raises, those after it are ignored while the scratch directory is removed).  At their
    defaults they ended the process at once and left ``.OUT.partial-PID`` behind."""
    previous = stop_on_signals()
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def build_parser() -> argparse.ArgumentParser:
    defaults = DemoSettings()
    parser = OneLineParser(
        prog="hpo-demo-data",
        description="Generate the demo dataset of the quickstart: MD of a 32-atom Al-Cu melt "
        "with ASE's EMT, in DeePMD npy format, split 75/25 into OUT_DIR/train and OUT_DIR/valid.",
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument("--frames", type=int, default=defaults.frames,
                        help=f"frames in total, before the split: 4 to {MAX_FRAMES:,} (default %(default)s)")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing if OUT_DIR already holds a demo dataset")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``hpo-demo-data``; exit 2 on bad input, one line on stderr."""
    args = build_parser().parse_args(argv)
    out_dir: Path = args.out_dir.expanduser().absolute()
    if not 4 <= args.frames <= MAX_FRAMES:
        print(f"hpo-demo-data: --frames {args.frames}: expected 4 to {MAX_FRAMES:,}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 <= args.seed < 2**63:  # numpy's generators take no negative seed
        print(f"hpo-demo-data: --seed {args.seed}: expected a whole number from 0 to 2**63 - 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if out_dir.exists() and not out_dir.is_dir():
        print(f"hpo-demo-data: {out_dir} is a file: choose another OUT_DIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    if out_dir.exists():
        if args.if_missing and (out_dir / METADATA).is_file():
            missing = [name for name in ("train", "valid") if not (out_dir / f"{name}.extxyz").is_file()]
            if missing:  # a dataset made before the extxyz copies existed (ASE and dpdata load only then)
                write_extxyz(out_dir, missing)
            copies = " and ".join(f"{name}.extxyz" for name in missing)
            added = f"; added {copies}, the {'copies' if len(missing) > 1 else 'copy'} NequIP reads" if missing else ""
            print(f"hpo-demo-data: {out_dir} already holds the demo dataset; kept as is{added}")
            return 0
        if any(out_dir.iterdir()):
            print(f"hpo-demo-data: {out_dir} already exists and is not an empty directory "
                  "(a dataset made by hpo-demo-data is kept with --if-missing); remove it or "
                  "choose another OUT_DIR", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        with _stops_raised():
            metadata = generate(out_dir, DemoSettings(seed=args.seed, frames=args.frames))
    except OSError as exc:  # a read-only place, a path through a file: nothing is left behind
        print(f"hpo-demo-data: cannot write {out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as stop:  # generate removes its scratch directory on the way out
        how = f"stopped by {signal.Signals(stop.signum).name}" if isinstance(stop, Stopped) else "interrupted"
        print(f"hpo-demo-data: {how}; nothing written", file=sys.stderr)
        return 128 + (stop.signum if isinstance(stop, Stopped) else signal.SIGINT)
    frames = metadata["frames"]
    print(f"hpo-demo-data: wrote {frames['train']} training and {frames['valid']} validation frames "
          f"of {metadata['system']} to {out_dir} in {metadata['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
