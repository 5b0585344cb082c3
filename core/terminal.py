"""hpo-run's tables of candidates (generation 0 of a dry run, the final front), laid out
to fit a terminal narrower than they are: rich folds each column of a table too wide for
the screen, numbers too, and "3.51e-" over "08" reads as another number."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from dnnp_hpo.front import format_value


def trials_tables(console: Console, title: str, names: Sequence[str], values: Sequence[Sequence[object]], *,
                  extra: Sequence[str] = (), extra_title: str = "", caption: str | None = None) -> list[Table]:
    """Candidates as rows: ``#``, a column per hyperparameter in ``names``, then ``extra``;
    each value as :func:`~dnnp_hpo.front.format_value` prints it.

    The whole table at its natural width where the console has room for it; else with its
    headers broken at underscores (``fitting_activ_func`` over three lines) down to their
    values' width; else cut into tables that fit, the hyperparameters first, then ``extra``
    under ``extra_title``, each with the ``#`` column that ties their rows together.  A
    value is folded over lines only where a column alone is wider than the console.
    """
    rows = [[format_value(v) for v in row] for row in values]
    headers = ["#", *names, *extra]
    whole = _table(title, headers, rows, caption)
    if _fits(console, whole) or not rows:
        return [whole]  # no rows: no values to keep whole, and headers folded are all there is
    narrow = [_break_at_underscores(h, max(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    narrowed = _table(title, narrow, rows, caption)
    if _fits(console, narrowed):
        return [narrowed]
    cut = 1 + len(names)
    tables = []
    for label, columns in (("hyperparameters", range(1, cut)), (extra_title, range(cut, len(headers)))):
        for k, piece in enumerate(_packed(console, narrow, rows, list(columns))):
            picked = [0, *piece]
            named = f"{title}: {label}{' (continued)' if k else ''}"
            table = _table(named, [narrow[i] for i in picked], [[r[i] for i in picked] for r in rows], None)
            # as wide as its title: a table of two narrow columns wrapped it over four lines
            table.min_width = min(len(named), console.width)
            tables.append(table)
    tables[-1].caption = caption
    return tables


def _packed(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]],
            columns: list[int]) -> list[list[int]]:
    """``columns`` in order, in as few runs as fit the console each beside column 0 (``#``)."""
    pieces: list[list[int]] = []
    for column in columns:
        if pieces:
            tried = [0, *pieces[-1], column]
            if _fits(console, _table("", [headers[i] for i in tried], [[r[i] for i in tried] for r in rows], None)):
                pieces[-1].append(column)
                continue
        pieces.append([column])
    return pieces


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str | None) -> Table:
    table = Table(title=title, caption=caption)
    for header in headers:
        # fold: wider than the terminal after all, a value wraps over lines instead of
        # being cut to "0.0…"
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _fits(console: Console, table: Table) -> bool:
    """Whether ``table`` fits the console at its natural width (nothing folded)."""
    natural = Measurement.get(console, console.options.update(max_width=1 << 20), table).maximum
    return natural <= console.width


def _break_at_underscores(header: str, width: int) -> str:
    """``header``'s lines broken after underscores into lines of at most ``width``
    characters, or of its longest piece: rich breaks a header only at spaces, and folds a
    name such as ``fitting_activ_func`` mid-word otherwise."""
    lines = []
    for line in header.split("\n"):
        pieces = re.split(r"(?<=_)(?=.)", line)
        limit = max(width, *map(len, pieces))
        current = ""
        for piece in pieces:
            if current and len(current) + len(piece) > limit:
                lines.append(current)
                current = ""
            current += piece
        lines.append(current)
    return "\n".join(lines)
