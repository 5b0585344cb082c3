"""What core checks of a plugin's prepared trainer at start-up (core/driver.py): an
``Invalid`` raised by its ``prepare`` is a one-line spec error like its validators', and
a prepared trainer that cannot be pickled to the workers is refused before anything
runs, not found by a traceback when the first evaluation is sent."""

from __future__ import annotations

import threading
from pathlib import Path

import attrs
import pytest
from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.registry import load_registry
from dnnp_hpo.spec import Invalid


@attrs.frozen
class Prepared:
    lock: object = None
    data_paths: object = ()  #: a plugin's own field of the name command trainers use

    def render(self, trial):
        return None

    def train(self, trial):
        return {"f1": 0.0, "f2": 0.0}


@attrs.frozen
class Templated(Prepared):
    """Holds its template as a path (a field named as command trainers name theirs)."""

    template: str = "/home/me/input.json"


@attrs.frozen
class Digested(Prepared):
    def input_digest(self):
        return "digest of the text every input shares"


@attrs.frozen
class Picky:
    """``mode``: ``invalid`` (prepare raises Invalid), ``lock`` (prepares an unpicklable
    object, as a trainer holding a lock or an open handle does) or ``fine``."""

    mode: str = "fine"

    def prepare(self, run):
        if self.mode == "invalid":
            raise Invalid("lr_scale: does not suit this space", "lr_scale")
        if self.mode in DATA_PATHS:
            return Prepared(None, DATA_PATHS[self.mode])
        if self.mode in ("templated", "digested"):
            return {"templated": Templated, "digested": Digested}[self.mode]()
        return Prepared(threading.Lock() if self.mode == "lock" else None)

    # The Trainer protocol's methods (checked when the plugin is registered), for the
    # prepared one only, as CommandTrainer's
    def render(self, trial):
        raise RuntimeError("call prepare(run) first")

    def train(self, trial):
        raise RuntimeError("call prepare(run) first")


class PickyPlugin:
    @hookimpl
    def dnnp_hpo_trainers(self):
        return {"picky": Picky}


def _prepared(tmp_path, mode: str):
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", trainer={"plugin": "picky", "mode": mode}))
    return prepare_run(spec, load_registry((PickyPlugin(),)))


def test_invalid_from_prepare_is_one_line_naming_the_key(tmp_path):
    with pytest.raises(SpecError) as error:
        _prepared(tmp_path, "invalid")
    assert error.value.key == "trainer.lr_scale" and "does not suit this space" in str(error.value)


def test_a_prepared_trainer_that_cannot_be_pickled_is_refused_at_start_up(tmp_path):
    """The plugin's bug, not the user's spec: a TypeError (hpo-run: its traceback, exit 4),
    raised before anything is launched."""
    with pytest.raises(TypeError) as error:
        _prepared(tmp_path, "lock")
    assert "cannot be pickled" in str(error.value) and "Prepared" in str(error.value)
    assert not (tmp_path / "run").exists()
    run, trainer = _prepared(tmp_path, "fine")
    assert isinstance(trainer, Prepared) and run.template_digest is None


#: mode -> what the prepared trainer has as data_paths
DATA_PATHS = {"tuple": ("/data/a", "/data/b"), "list of Path": [Path("/data/a")], "str": "/data",
              "Path": Path("/data"), "numbers": [1, 2], "None": None}


@pytest.mark.parametrize(("mode", "digested"), [
    ("tuple", ("/data/a", "/data/b")), ("list of Path", ("/data/a",)),
    # not a list of paths: left alone, not read letter by letter from / (a review found
    # "/data" digested as "/", "d", "a"...) nor a TypeError
    ("str", ()), ("Path", ()), ("numbers", ()), ("None", ()),
])
def test_only_a_list_of_paths_is_taken_as_the_data_to_digest(tmp_path, mode, digested):
    run, _ = _prepared(tmp_path, mode)
    assert run.data_paths == digested


def test_the_template_digest_is_what_the_trainer_says_it_is(tmp_path):
    """``input_digest()``, an optional member of the trainer protocol, is what a resume
    compares; a field that happens to be called ``template`` is not read (a path there
    was digested, and the run refused to resume once moved to another machine)."""
    run, _ = _prepared(tmp_path, "digested")
    assert run.template_digest == "digest of the text every input shares"
    run, _ = _prepared(tmp_path, "templated")
    assert run.template_digest is None
