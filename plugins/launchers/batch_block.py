"""The ``launcher:`` block a batch job runs a spec with: ``python -m
dnnp_hpo.plugins.launchers.batch_block SPEC SCHEDULER_FILE NODES`` prints it as one JSON
(so YAML) mapping for ``hpo-run --set launcher=...`` (configs/dask-batch-node.sh).

The spec a user moves to the cluster is the one that ran on the laptop, whose block
says ``{plugin: dask, workers: 2}``: a local cluster's keys, which a joined cluster
refuses.  The job's block joins this job's scheduler and waits for its NODES workers;
of the spec's own Dask block it keeps what a joined cluster takes (``wait_timeout``,
``shutdown``, ``retries``), and a block of another launcher is replaced whole.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from dnnp_hpo.spec import parse_yaml

#: keys of a spec's dask block that a joined cluster keeps
KEPT = ("wait_timeout", "shutdown", "retries")


def joined_block(block: Mapping[str, Any] | None, scheduler_file: str, nodes: int) -> dict[str, Any]:
    """The job's launcher block from the spec's ``block``."""
    own = block if isinstance(block, Mapping) and block.get("plugin", "dask") == "dask" else {}
    kept = {key: own[key] for key in KEPT if key in own}
    return {"plugin": "dask", **kept, "scheduler_file": scheduler_file, "min_workers": nodes}


def main(argv: Sequence[str] | None = None) -> int:
    spec_path, scheduler_file, nodes = argv if argv is not None else sys.argv[1:]
    try:  # read as hpo-run reads it (YAML 1.2 floats such as wait_timeout: 9e2)
        spec = parse_yaml(Path(spec_path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:  # hpo-run then says what is wrong with the spec
        print(f"batch_block: cannot read {spec_path}: {exc}", file=sys.stderr)
        spec = None
    block = spec.get("launcher") if isinstance(spec, Mapping) else None
    print(json.dumps(joined_block(block, scheduler_file, int(nodes))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
