"""The model section of a DeePMD input, checked at start-up: neighbour selections and
cutoffs each candidate could be given (``sel`` beside ``--skip-neighbor-stat``, an inner
cutoff above an outer one, DPA-2's order of cutoffs), and what the TensorFlow backend
cannot train (its descriptors and losses).  Each names the searched parameters that make
a candidate fail, since the template alone does not.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from dnnp_hpo.constraints import Constraint
from dnnp_hpo.errors import SpecError

from .backend import TF_NAMES
from .inputcheck import value_source


def skips_neighbour_stat(command: Sequence[str]) -> bool:
    """Whether the training command tells DeePMD-kit not to count the neighbours: in any
    argument, a wrapper's one (bash -c "dp ... --skip-neighbor-stat") as well."""
    return any("--skip-neighbor-stat" in arg for arg in command)


def check_sel(data: Mapping[str, Any], command: Sequence[str], where: str) -> None:
    """SpecError for ``--skip-neighbor-stat`` with a ``sel`` of ``"auto"``: DeePMD-kit sets
    such a sel from the neighbour statistics the flag skips, and every training failed
    (a TypeError from numpy, which says nothing of why)."""
    model = data.get("model")
    auto = _auto_sel(model) if skips_neighbour_stat(command) else None
    if auto:
        raise SpecError(f"{where}: the model's {auto[0]} is \"{auto[1]}\", which DeePMD-kit works out from the "
                        "neighbour statistics that --skip-neighbor-stat skips: every training would fail; "
                        f"drop the flag or give {auto[0]} as numbers", "command")
    type_map = model.get("type_map") if isinstance(model, Mapping) else None
    if not isinstance(type_map, list):
        return  # no names: DeePMD-kit counts the types from the data
    for key, descriptor in descriptors(model):
        sel = descriptor.get("sel")
        if descriptor.get("type") in PER_TYPE_SEL and isinstance(sel, list) and len(sel) != len(type_map):
            # DeePMD-kit says "the number of types of the training data is 2, but that of
            # the model is only 1" for one too few, and fails in TensorFlow for one too many.
            raise SpecError(f"{where}: {key}.sel {sel} has {len(sel)} {'entry' if len(sel) == 1 else 'entries'} "
                            f"for the {len(type_map)} types of model.type_map {type_map}: a {descriptor['type']} "
                            "descriptor takes one per type (in type_map's order), and every training would fail; "
                            "give one number per type, or \"auto\"", "template")


#: what DeePMD-kit's argcheck takes in an ``ener`` loss and its TensorFlow backend refuses
#: when the training starts (deepmd/tf/loss/ener.py, EnerStdLoss): key, the value it takes
TENSORFLOW_ENER_ONLY = {"loss_func": "mse", "f_use_norm": False, "use_default_pf": False}


def check_tensorflow_loss(losses: Sequence[Mapping[str, Any] | None], rendered: Sequence[tuple[Any, str]],
                          placeholders: Mapping[str, str], settings: Collection[str]) -> None:
    """SpecError for an ``ener`` loss setting that only DeePMD-kit's other backends train
    (``loss_func: mae``): its argcheck accepts it, then every TensorFlow training of it
    failed with NotImplementedError.  Each rendering is checked, so a searched choice
    is named by its parameter."""
    for loss, (_, where) in zip(losses, rendered):
        for key, allowed in TENSORFLOW_ENER_ONLY.items():
            value = (loss or {}).get(key, allowed)
            if value != allowed:
                name = placeholders.get(f"loss.{key}")
                source = f" (from {value_source(name, settings)})" if name else ""
                at = f"settings.{name}" if name in settings else "template"
                raise SpecError(f"{where}: loss.{key} is {value!r}{source}, which DeePMD-kit's TensorFlow backend "
                                f"does not train (only {allowed!r}): every training would fail; drop it, or train "
                                "with another backend (dp --pt train)", at)


#: descriptors whose ``sel`` lists the neighbours of each type: one entry per type.  The
#: attention ones (se_atten, dpa1, se_atten_v2, se_e3_tebd) take a list of any length and
#: use its sum (deepmd/tf/descriptor/se_atten.py), and trained with one of 1 or 3 entries
#: for 2 types (helper-86, dp 3.2): not checked.
PER_TYPE_SEL = frozenset({"se_e2_a", "se_a", "se_e2_r", "se_r", "se_e3", "se_at", "se_a_3be"})


def descriptors(model: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``(key, section)`` of the model's descriptor and, for a hybrid, of each in its list."""
    descriptor = model.get("descriptor") if isinstance(model, Mapping) else None
    if not isinstance(descriptor, Mapping):
        return []
    found = [("model.descriptor", descriptor)]
    listed = descriptor.get("list")
    if isinstance(listed, list):
        found.extend((f"model.descriptor.list.{i}", d) for i, d in enumerate(listed) if isinstance(d, Mapping))
    return found


def _cutoff_pairs(model: Any) -> list[tuple[str, Mapping[str, Any], str]]:
    """``(key, section, name)`` of each cutoff ``name`` whose smoothing start
    (``name`` + ``_smth``) is beside it: a descriptor's ``rcut`` (each of a hybrid's too),
    and the nested ones of DeePMD-kit's PyTorch descriptors: dpa2's ``repinit.rcut``, its
    ``three_body_rcut`` (when ``use_three_body``) and ``repformer.rcut``, dpa3's
    ``repflow.e_rcut`` and ``a_rcut`` (helper-90)."""
    found = []
    for key, descriptor in descriptors(model):
        sections = [(key, descriptor), *((f"{key}.{name}", section) for name, section in descriptor.items()
                                         if isinstance(section, Mapping) and not str(name).startswith("_"))]
        for where, section in sections:
            found.extend((where, section, name) for name in CUTOFF_KEYS
                         if name in section and f"{name}_smth" in section
                         and (name != "three_body_rcut" or section.get("use_three_body") is True))
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _searched(keys: Sequence[str], placeholders: Mapping[str, str], settings: Collection[str]) -> list[str]:
    """The parameters of the space that set the values at ``keys`` (not settings, nor the seed)."""
    names = [placeholders.get(key) for key in keys]
    return [name for name in names if name is not None and name != "seed" and name not in settings]


def _set_aside(params: Mapping[str, Any] | None, constraints: Sequence[Constraint], searched: Sequence[str]) -> bool:
    """Whether ``params`` break a constraint on a searched value (a rendering not trained,
    so not judged; one on another parameter is no excuse)."""
    return params is not None and any(set(c.names()) & set(searched) and not c.holds(params) for c in constraints)


def _from(key: str, placeholders: Mapping[str, str], settings: Collection[str]) -> str:
    placeholder = placeholders.get(key)
    return f" (from {value_source(placeholder, settings)})" if placeholder else ""


def _failing(searched: Sequence[str], what: str) -> str:
    """Whose trainings would fail: all, or (a searched value at fault) those of the
    rendering checked (``what``: a choice; "": the middle of the space)."""
    if not searched:
        return "every training"
    return f"the training of {f'the candidates with {what}' if what else 'the middle of the space, and of the candidates like it,'}"


def _order_fix(low: str | None, low_value: float, high: str | None, high_value: float, searched: Sequence[str],
               otherwise: str) -> str:
    """The constraint that keeps the value the parameter ``low`` sets below the one ``high``
    sets (``low_value``, ``high_value``: the rendering's), by whichever is ``searched``;
    ``otherwise`` when neither is."""
    if low in searched and high in searched:
        return f"add a constraint (constraints: [{low} < {high}]) or change the ranges"
    if low in searched:
        return f"add a constraint (constraints: [{low} < {high_value:g}]) or change its range"
    if high in searched:
        return f"add a constraint (constraints: [{high} > {low_value:g}]) or change its range"
    return otherwise


def check_cutoffs(data: Mapping[str, Any], where: str, placeholders: Mapping[str, str], settings: Collection[str],
                  what: str = "", params: Mapping[str, Any] | None = None,
                  constraints: Sequence[Constraint] = (), backend: str | None = None) -> None:
    """SpecError for a rendering whose ``rcut_smth`` is above its ``rcut`` (any pair of
    :func:`_cutoff_pairs`): DeePMD-kit refuses it when the training starts ("rcut_smth
    (1.000000) should be no more than rcut (0.288876)!"; the PyTorch backend: "rmin should
    be less than rmax."), and a chemist's rcut searched in nm beside a fixed rcut_smth of
    1 A failed every training after --dry-run had passed.  Checked on the middle of the
    space and each choice (``what``: which, "" for the middle): a middle that fails is a
    space most of whose candidates fail.  A rendering whose ``params`` break a constraint
    on a searched cutoff is not trained, so not judged.  Equal is refused too when the
    ``backend`` (:func:`named_backend`) is known not to be TensorFlow, whose
    ``rcut_smth`` may reach ``rcut``: the others' smoothing raises on it (helper-91)."""
    equal_refused = backend is not None and backend not in TF_NAMES
    for key, section, name in _cutoff_pairs(data.get("model")):
        rcut, smooth = section.get(name), section.get(f"{name}_smth")
        if not (_number(rcut) and _number(smooth)) or smooth < rcut or (smooth == rcut and not equal_refused):
            continue
        cut, smth = f"{key}.{name}", f"{key}.{name}_smth"
        searched = _searched([smth, cut], placeholders, settings)
        if _set_aside(params, constraints, searched):
            continue
        fix = _order_fix(placeholders.get(smth), smooth, placeholders.get(cut), rcut, searched,
                         f"lower {name}_smth or raise {name}")
        refused = ("which DeePMD-kit refuses (rcut_smth should be no more than rcut)" if smooth > rcut else
                   f"which DeePMD-kit's {backend} backend refuses (\"rmin should be less than rmax.\"; only "
                   "TensorFlow's takes them equal)")
        raise SpecError(f"{where}: {smth} {smooth:g}{_from(smth, placeholders, settings)} is "
                        f"{'above' if smooth > rcut else 'equal to'} {cut} {rcut:g}{_from(cut, placeholders, settings)}, "
                        f"{refused}, so {_failing(searched, what)} would fail; {fix} (are both in A?)", "template")


def check_dpa2_order(data: Mapping[str, Any], where: str, placeholders: Mapping[str, str],
                     settings: Collection[str], what: str = "", params: Mapping[str, Any] | None = None,
                     constraints: Sequence[Constraint] = ()) -> None:
    """SpecError for a dpa2 descriptor whose larger cutoff has the fewer neighbours: DeePMD-kit
    sorts its sections (repinit, repformer, repinit's three-body) by rcut and asserts their
    nsel grow with it, so every such training failed with "rcut and sel are not in the
    same order", which points at sel when a searched repformer.rcut had passed
    repinit.rcut (helper-90, DeePMD-kit 3.2's PyTorch code).  Judged as :func:`check_cutoffs`."""
    for key, descriptor in descriptors(data.get("model")):
        if descriptor.get("type") != "dpa2":
            continue
        sections = [(f"{key}.{name}", descriptor.get(name), "rcut", "nsel") for name in ("repinit", "repformer")]
        repinit = descriptor.get("repinit")
        if isinstance(repinit, Mapping) and repinit.get("use_three_body") is True:
            sections.append((f"{key}.repinit", repinit, "three_body_rcut", "three_body_sel"))
        cuts = sorted((section[cut], section[sel], f"{at}.{cut}", f"{at}.{sel}")
                      for at, section, cut, sel in sections
                      if isinstance(section, Mapping) and _number(section.get(cut)) and _number(section.get(sel)))
        for (rcut_a, nsel_a, cut_a, sel_a), (rcut_b, nsel_b, cut_b, sel_b) in itertools.pairwise(cuts):
            if nsel_a <= nsel_b:
                continue
            searched = _searched([cut_a, cut_b, sel_a, sel_b], placeholders, settings)
            if _set_aside(params, constraints, searched):
                continue
            # the section of fewer neighbours (b) wants the smaller cutoff
            by_nsel = "give the larger cutoff the larger nsel"
            fix = _order_fix(placeholders.get(cut_b), rcut_b, placeholders.get(cut_a), rcut_a, searched, by_nsel)
            raise SpecError(f"{where}: {cut_b} {rcut_b:g}{_from(cut_b, placeholders, settings)} is above {cut_a} "
                            f"{rcut_a:g}{_from(cut_a, placeholders, settings)}, but {sel_b} {nsel_b:g} is below "
                            f"{sel_a} {nsel_a:g}: DeePMD-kit's dpa2 needs the nsel to grow with the cutoff (\"rcut "
                            f"and sel are not in the same order\"), so {_failing(searched, what)} would fail; "
                            f"{fix if fix == by_nsel else f'{fix}, or {by_nsel}'}", "template")


#: descriptors of DeePMD-kit's PyTorch backend (and its others) that its TensorFlow
#: backend does not have (deepmd/tf/descriptor registers none of them, DeePMD-kit 3.2):
#: its argcheck accepts them whatever the backend, then every training with dp --tf
#: failed with "Unknown descriptor type: dpa2. Did you mean: dpa1?" (helper-90)
NOT_TENSORFLOW = frozenset({"dpa2", "dpa3", "dpa4", "se_repflow", "se_repformer", "se_uni", "se_e3_tebd",
                            "se_ttebd", "sezm"})


def check_tensorflow_descriptors(data: Mapping[str, Any], where: str) -> None:
    """SpecError for a descriptor that DeePMD-kit's TensorFlow backend does not have
    (:data:`NOT_TENSORFLOW`), in a spec that trains with it."""
    for key, descriptor in descriptors(data.get("model")):
        kind = descriptor.get("type")
        if isinstance(kind, str) and kind.lower() in NOT_TENSORFLOW:
            raise SpecError(f"{where}: {key}.type {kind} is a descriptor of DeePMD-kit's PyTorch backend, which its "
                            "TensorFlow backend (the command's) does not have: every training would fail; train "
                            "with dp --pt train (trainer.command, docs/deepmd.md)", "template")


#: the keys DeePMD-kit reads as a neighbour count that may be "auto": ``sel``, dpa2's
#: ``nsel`` and ``three_body_sel``, dpa3's ``e_sel`` and ``a_sel`` (helper-90).  Named
#: exactly: DeePMD-kit drops keys that begin with ``_`` (commented out), ``_sel`` too.
SEL_KEYS = frozenset({"sel", "nsel", "three_body_sel", "e_sel", "a_sel"})
#: the cutoffs with a smoothing start beside them (``name`` + ``_smth``)
CUTOFF_KEYS = ("rcut", "three_body_rcut", "e_rcut", "a_rcut")


def _auto_sel(section: Any) -> tuple[str, str] | None:
    """The first ``sel`` under ``section`` (any descriptor, hybrids included) that is
    \"auto\" (or ``auto:<factor>``), as (key, value); None if there is none."""
    if isinstance(section, Mapping):
        for key, value in section.items():
            if str(key).startswith("_"):
                continue  # a key that begins with _ DeePMD-kit drops, whatever it holds (commented out)
            if key in SEL_KEYS and isinstance(value, str) and value.startswith("auto"):
                return str(key), value
            found = _auto_sel(value)
            if found:
                return found
    if isinstance(section, list):
        return next(filter(None, map(_auto_sel, section)), None)
    return None
