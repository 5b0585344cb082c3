"""hpo-run's tables of candidates on terminals narrower than the tables (core/terminal.py)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from dnnp_hpo.terminal import _break_at_underscores, trials_tables

NAMES = ["start_lr", "stop_lr", "rcut", "rcut_smth", "scale_by_worker", "desc_activ_func", "fitting_activ_func"]
EXTRA = ["energy_rmse\n(eV/atom)", "force_rmse\n(eV/Å)", "chemically\naccurate"]
ROWS = [["1", "0.0003512", "3.51e-08", "8.812", "3.062", "sqrt", "softplus", "tanh", "0.00309", "0.109", "no"],
        ["12", "0.0001874", "1.2e-05", "11.94", "5.5", "linear", "relu6", "sigmoid", "0.0041", "0.0398", "yes"]]


def rendered(width: int, **kwargs) -> tuple[list, list[str]]:
    console = Console(width=width, file=io.StringIO(), markup=False, emoji=False)
    tables = trials_tables(console, "Pareto front", NAMES, ROWS, extra=EXTRA, extra_title="results", **kwargs)
    console.print(*tables)
    return tables, console.file.getvalue().splitlines()


def cells(lines: list[str]) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]


def test_a_table_that_fits_is_printed_whole_with_its_headers_as_given():
    tables, lines = rendered(200)
    assert len(tables) == 1
    assert [c.header for c in tables[0].columns] == ["#", *NAMES, *EXTRA]
    assert cells(lines) == ROWS


@pytest.mark.parametrize("width", range(52, 200, 4))
def test_every_value_stays_whole_and_on_its_row_at_any_width_its_columns_fit(width):
    tables, lines = rendered(width, caption="chemically accurate: energy_rmse <= 0.004 eV/atom")
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│└") <= width
    by_row: dict[str, list[str]] = {}
    for row in cells(lines):
        by_row.setdefault(row[0], []).extend(row[1:])  # "#" ties the tables' rows together
    assert by_row == {row[0]: row[1:] for row in ROWS}
    assert tables[-1].caption and all(t.caption is None for t in tables[:-1])
    # the hyperparameters first, the results after them, never mixed in one table
    headers = [[c.header.replace("\n", "") for c in t.columns[1:]] for t in tables]
    assert [h for piece in headers for h in piece] == [h.replace("\n", "") for h in [*NAMES, *EXTRA]]
    if len(tables) > 1:
        assert all(set(h) <= set(NAMES) or set(h) <= {e.replace("\n", "") for e in EXTRA} for h in headers)
        assert tables[0].title == "Pareto front: hyperparameters" and tables[-1].title == "Pareto front: results"


def test_the_narrowest_terminals_fold_only_what_cannot_fit_alone():
    tables, lines = rendered(30)
    # each column alone beside "#": one table per hyperparameter, then the results
    assert [t.title for t in tables[:2]] == ["Pareto front: hyperparameters", "Pareto front: hyperparameters (continued)"]
    assert "0.0003512" in {c for row in cells(lines) for c in row}


@pytest.mark.parametrize(("header", "width", "expected"), [
    ("fitting_activ_func", 8, "fitting_\nactiv_\nfunc"),
    ("fitting_activ_func", 12, "fitting_\nactiv_func"),
    ("scale_by_worker", 6, "scale_\nby_\nworker"),
    ("energy_rmse\n(eV/atom)", 7, "energy_\nrmse\n(eV/atom)"),
    ("rcut", 1, "rcut"),
    ("__private", 3, "__\nprivate"),
])
def test_headers_break_after_underscores_down_to_their_values_width(header, width, expected):
    assert _break_at_underscores(header, width) == expected


def test_a_table_without_rows_is_one_table():
    """A front of no rows (every training failed) was cut into three empty tables on a
    narrow terminal: there are no values to keep whole (helper-95)."""
    console = Console(width=40, file=io.StringIO())
    tables = trials_tables(console, "Pareto front", NAMES, [], extra=EXTRA, extra_title="results")
    assert len(tables) == 1 and [c.header for c in tables[0].columns] == ["#", *NAMES, *EXTRA]
