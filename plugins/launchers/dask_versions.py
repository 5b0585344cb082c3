"""Dask's version check without importing the packages it names.

Every Dask client, scheduler and worker reports the versions of dask, distributed,
msgpack, cloudpickle, tornado, toolz, numpy, pandas and lz4, and the distributed that
leap-ec 0.8.2 pins (2024.6.2) imports each package to read its version
(dask/distributed#5723): pandas alone, which nothing else in a run imports, took about
0.3 s of CPU and 35 MB in hpo-run and again in each local worker as it started (a
short local run: 2.0 s of CPU, 1.4 s without).  distributed reads the installed versions
from the packages' metadata since April 2025 (dask/distributed#9048);
:func:`read_versions_from_metadata` does the same on the older releases.  In a plain install the answers are distributed's
own (tested against its function); an editable or source install may read otherwise,
which is why only a local cluster, whose processes are all hpo-run's, reads them so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

#: the first distributed release that reads versions from the metadata itself
READS_METADATA_SINCE = "2025.4.0"


def read_versions_from_metadata() -> None:
    """Make ``distributed.versions.get_package_info`` read installed versions without
    importing the packages, in this process; nothing on a distributed that does so itself
    (or whose version cannot be read: a speed-up is no reason to stop a run).  Called where
    hpo-run's local cluster and its workers start, before they report their versions."""
    import distributed
    from distributed import versions

    try:
        from packaging.version import Version

        if Version(distributed.__version__) >= Version(READS_METADATA_SINCE):
            return
    except Exception:  # noqa: BLE001 - a version string packaging cannot read: Dask's own way
        return
    if hasattr(versions.get_package_info, "by_import"):
        return  # done already in this process
    versions.get_package_info = _from_metadata(versions.get_package_info)


def _from_metadata(by_import: Callable[[Iterable[Any]], dict[str, str | None]]) -> Callable:
    def get_package_info(pkgs: Iterable[Any]) -> dict[str, str | None]:
        info = by_import([])  # {"python": ...}, as distributed writes it
        for pkg in pkgs:
            name = pkg[0] if isinstance(pkg, (tuple, list)) else pkg
            try:
                info[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                # not installed, or a module named otherwise than its distribution
                # (sklearn): distributed's own way, which says None if it is not there
                info.update(by_import([pkg]))
        return info

    get_package_info.by_import = by_import  # type: ignore[attr-defined]  # distributed's own
    return get_package_info
