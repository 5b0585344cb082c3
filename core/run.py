"""What every plugin is told about the run it takes part in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from dnnp_hpo.evaluation import Evaluation
from dnnp_hpo.fingerprint import DataDigest, data_digests
from dnnp_hpo.paths import expand_path_text
from dnnp_hpo.space import SearchSpace
from dnnp_hpo.spec import Experiment


@attrs.frozen
class RunContext:
    """The validated experiment, where it came from and where it writes."""

    experiment: Experiment
    spec_path: Path  #: the YAML file as given
    run_dir: Path  #: absolute; nothing is written outside it
    raw_spec: dict[str, Any] = attrs.field(eq=False)  #: the mapping as run (after --set)
    hook: Any = attrs.field(default=None, eq=False, repr=False)  #: pluggy hook caller
    resumed: bool = False  #: True when the journal already held evaluations at start
    finished: bool = False  #: True when the journal's search is done: it is not run again
    #: True when a finished run is taken up again with a larger budget (--force): run on
    extends: bool = False
    #: True when an unfinished run is resumed with --force: the run is the given spec's
    #: from now on, recorded as an extension's is (a later session with the same command
    #: resumes, or prints the front, without --force)
    forced: bool = False
    #: placement keys (resume.PLACEMENT: launcher, run_dir...) a resume changed
    moved: tuple[str, ...] = ()
    #: True under ``hpo-run --dry-run``: nothing is launched, so what only the trainings
    #: need (their data) may be missing yet
    dry_run: bool = False
    #: the evaluations the journal held finished when this session started (a resume's),
    #: by birth
    recorded: Mapping[int, Evaluation] = attrs.field(factory=dict, eq=False, repr=False)
    #: digest of the template the prepared trainer renders (None: it has none), recorded
    #: when the run starts and compared on resume: the spec names the file, not its content
    template_digest: str | None = None
    #: the data paths the prepared trainer reads (its ``data_paths``: the ``trainer.paths``
    #: settings, absolute); () for a trainer that names none
    data_paths: tuple[str, ...] = ()
    #: digest of each of them (None: not read yet; see fingerprint.py), recorded when the
    #: run starts and compared on resume: the spec names the data's place, not its content
    data_digests: tuple[DataDigest, ...] | None = attrs.field(default=None, eq=False, repr=False)
    #: the digests read this session, by data paths: shared by every context evolved from
    #: this one (attrs.evolve passes it on), so that a look that cannot hand its context
    #: back (an optimizer's prepare: replicates compare the data with their source's) and
    #: the run's record read a large dataset once, not twice
    _read_digests: dict[tuple[str, ...], tuple[DataDigest, ...]] = attrs.field(
        factory=dict, eq=False, repr=False)

    def with_data_digests(self) -> RunContext:
        """This run with :attr:`data_digests` read (once a session: a run that has them, or
        whose paths an earlier context of this session read, is not read again)."""
        if self.data_digests is not None:
            return self
        digests = self._read_digests.get(self.data_paths)
        if digests is None:
            digests = self._read_digests[self.data_paths] = data_digests(self.data_paths)
        return attrs.evolve(self, data_digests=digests)

    @property
    def space(self) -> SearchSpace:
        return SearchSpace(self.experiment.space)

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.experiment.objectives]

    @property
    def evals_dir(self) -> Path:
        return self.run_dir / "evals"

    @property
    def spec_as_run(self) -> Path:
        """``spec.yaml``: the spec as run, written once the journal holds it."""
        return self.run_dir / "spec.yaml"

    def spec_relative(self, path: str | Path, key: str = "") -> Path:
        """An input path from the spec (at ``key``, which an unset variable's SpecError
        names), ``~`` and ``$VARIABLES`` expanded: relative paths are relative to the spec file."""
        path = Path(expand_path_text(str(path), key))
        if path.is_absolute():
            return path
        try:
            return (self.spec_path.parent / path).resolve()
        except (RuntimeError, OSError):  # a symbolic link loop: reading it says so, in one line
            return Path(os.path.abspath(self.spec_path.parent / path))
