"""The ``launcher:`` block a batch job runs a spec with: ``python -m
dnnp_hpo.plugins.launchers.batch_block SPEC SCHEDULER_FILE NODES`` prints it as one line,
a JSON (so YAML) mapping, for ``hpo-run --set launcher=...`` (configs/dask-batch-node.sh).

The spec a user moves to the cluster is the one that ran on the laptop, whose block
says ``{plugin: dask, workers: 2}``: a local cluster's keys, which a joined cluster
refuses.  The job's block joins this job's scheduler and waits for its NODES workers;
of the spec's own Dask block it keeps what a joined cluster takes (``wait_timeout``,
``shutdown``, ``retries``) and any key no Dask block has (``wait_timout``), which hpo-run
then refuses naming it, as on the laptop; a block of another launcher is replaced whole.

The batch scripts run this under ``set -euo pipefail`` after Dask has started, and then
hpo-run, which checks the spec: so a spec that is wrong in any way never stops this
module.  One that cannot be read gives the block without kept keys, and hpo-run, reading
the same file, says what is wrong with it (one line, exit 2); a kept value JSON has no
form for (``retries: 2020-01-01``, ``wait_timeout: .nan``) is written in YAML, which
hpo-run reads back as the spec had it and refuses naming the key.  Only what the script
itself passes can be refused here: a NODES that is not a whole number of at least 1, or
a wrong number of arguments, gives one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from dnnp_hpo.errors import shortened
from dnnp_hpo.specfile import SpecDumper, read_yaml

from .dask_launcher import DaskLauncher

#: keys of a spec's dask block that a joined cluster keeps
KEPT = ("wait_timeout", "shutdown", "retries")
#: every key a dask block takes
_DASK_KEYS = frozenset(field.name for field in attrs.fields(DaskLauncher))

USAGE = "usage: python -m dnnp_hpo.plugins.launchers.batch_block SPEC SCHEDULER_FILE NODES"


def joined_block(block: Mapping[str, Any] | None, scheduler_file: str, nodes: int) -> dict[str, Any]:
    """The job's launcher block from the spec's ``block``."""
    own = block if isinstance(block, Mapping) and block.get("plugin", "dask") == "dask" else {}
    # A misspelt key is kept for hpo-run to refuse: dropped with the local cluster's keys,
    # wait_timout ran the job with the default wait_timeout and not a word said.
    unknown = [key for key in own if key != "plugin" and key not in _DASK_KEYS]
    kept = {key: own[key] for key in (*KEPT, *unknown) if key in own}
    return {"plugin": "dask", **kept, "scheduler_file": scheduler_file, "min_workers": nodes}


def spec_block(spec_path: str) -> Any:
    """The spec's ``launcher:`` value, or None if the spec cannot be read (hpo-run says why)."""
    try:  # read as hpo-run reads it (YAML 1.2 floats such as wait_timeout: 9e2, at most 10 MB)
        spec = read_yaml(Path(spec_path))
    except Exception:  # noqa: BLE001 - any failure: hpo-run reads the same file and says what is wrong
        return None
    return spec.get("launcher")


def as_text(block: dict[str, Any]) -> str:
    """``block`` as one line hpo-run's ``--set`` reads back as it is: JSON, or, where a value
    has no JSON form (a date, nan, bytes, an alias), YAML flow style with its aliases (JSON
    would write an alias out as many times as it is used)."""
    if all(_plain(value) for value in block.values()):
        return json.dumps(block)
    try:
        return yaml.dump(block, Dumper=SpecDumper, default_flow_style=True, width=math.inf,
                         sort_keys=False).strip()
    except (yaml.YAMLError, RecursionError):  # not expected of anything hpo-run's loader makes
        return json.dumps({key: value if _plain(value) else "not a number" for key, value in block.items()})


def _plain(value: Any) -> bool:
    """Whether JSON writes ``value`` as the spec had it (every kept key takes a number or
    true/false)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


def node_count(text: str) -> int | None:
    """NODES as a number of compute nodes, or None if it is not a whole number of at least 1."""
    # As the script's `seq 1 "$NODES"` reads it (digits, after blanks): int() also takes
    # 1_0, other scripts' digits and trailing blanks, which batch_block passed and seq refused.
    if not re.fullmatch(r"\s*[0-9]+", text):
        return None
    nodes = int(text)
    return nodes if nodes >= 1 else None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    if len(args) != 3:
        print(f"batch_block: expected 3 arguments, got {len(args)}: {USAGE}", file=sys.stderr)
        return 2
    spec_path, scheduler_file, nodes_text = args
    nodes = node_count(nodes_text)
    if nodes is None:
        print(f"batch_block: NODES (the number of compute nodes, one Dask worker each) is "
              f"{shortened(nodes_text)}: expected a whole number, 1 or more", file=sys.stderr)
        return 2
    print(as_text(joined_block(spec_block(spec_path), scheduler_file, nodes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
