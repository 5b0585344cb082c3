"""What recording the training data's digest costs when a run starts or resumes.

``hpo-run`` reads every file of every ``trainer.paths`` setting once per session to
digest its content (``dnnp_hpo.fingerprint``): a resume compares it with the digest
recorded when the run started.  Two layouts of DeePMD data (``deepmd/npy``: a directory per
system, ``set.NNN`` directories of ``.npy`` arrays): many small systems, and a few large
sets.  Each is digested ``--repeats`` times; the first read may come from the disk, the
others from the page cache (this benchmark cannot empty it).

``python -m bench.data_digest`` (about a minute; writes about 1 GiB under a temporary
directory and removes it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import machine, write_result

#: (name, systems, sets per system, frames per set, atoms per frame)
LAYOUTS = (("many small systems", 500, 1, 50, 32), ("a few large sets", 4, 8, 8_000, 192))


def write_dataset(root: Path, systems: int, sets: int, frames: int, atoms: int) -> tuple[int, int]:
    """A deepmd/npy dataset of random numbers; (files, bytes)."""
    rng = np.random.default_rng(0)
    files = size = 0
    for s in range(systems):
        system = root / f"sys.{s:04d}"
        system.mkdir(parents=True)
        (system / "type.raw").write_text("0\n" * atoms, encoding="utf-8")
        (system / "type_map.raw").write_text("Cu\n", encoding="utf-8")
        files += 2
        for k in range(sets):
            directory = system / f"set.{k:03d}"
            directory.mkdir()
            for name, width in (("box", 9), ("coord", 3 * atoms), ("energy", 1), ("force", 3 * atoms)):
                np.save(directory / f"{name}.npy", rng.random((frames, width)))
                files += 1
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return files, size


def main(argv: list[str] | None = None) -> dict:
    from dnnp_hpo.fingerprint import content_digest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for name, systems, sets, frames, atoms in LAYOUTS:
        with tempfile.TemporaryDirectory(prefix="bench-digest-") as tmp:
            files, size = write_dataset(Path(tmp) / "data", systems, sets, frames, atoms)
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                content_digest(Path(tmp) / "data")
                seconds.append(time.perf_counter() - start)
        rows.append({"layout": name, "systems": systems, "files": files, "bytes": size,
                     "first_s": seconds[0], "best_s": min(seconds)})
        print(rows[-1])
    payload = {"machine": machine(), "rows": rows}
    write_result("data_digest", payload)
    return payload


def markdown(r: dict, measured: str) -> list[str]:
    out = ["", "## 7. Digesting the training data when a run starts", "",
           (f"Measured {measured}; `python -m bench.data_digest`.  `hpo-run` reads each `trainer.paths` "
            "setting's files once per session and records (or, on resume, compares) a SHA-256 of their "
            "content, so that a dataset changed under the same path is not mixed into a search "
            "(docs/outputs.md).  Random `deepmd/npy` datasets; \"first\" is the first of the repeats "
            "(the files were just written, so it too may read from the page cache), \"best\" the fastest."), "",
           "| dataset | systems | files | size (MB) | first (s) | best (s) | MB/s (best) |",
           "|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        mb = x["bytes"] / 2**20
        out.append(f"| {x['layout']} | {x['systems']} | {x['files']} | {mb:.0f} | {x['first_s']:.2f} | "
                   f"{x['best_s']:.2f} | {mb / x['best_s']:.0f} |")
    out += ["", ("Every training reads its whole dataset too, and each of a search's trainings takes minutes "
                 "to hours, so one more read per session is small beside a run; on a cold parallel file "
                 "system the first read is bounded by the file system's bandwidth instead."), ""]
    return out


if __name__ == "__main__":
    main()
