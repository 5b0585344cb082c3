"""Figure 1 of a long run: a panel per generation of a 151-generation run made an image
18,413 pixels tall that took over a minute to draw (a review's).  At most MAX_PANELS
generations are drawn, evenly spaced, the first and the last among them, and the caption
says which.  A real 21-generation run (function trainer, local Dask), real matplotlib.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_testutil import write_spec, zdt_spec

from dnnp_hpo.report.data import analyse
from dnnp_hpo.report.plots import MAX_PANELS, plot_generations, shown_generations

BIN = Path(sys.executable).parent


def test_shown_generations_are_evenly_spaced_with_both_ends() -> None:
    assert shown_generations(list(range(5))) == [0, 1, 2, 3, 4]
    assert shown_generations(list(range(151))) == [0, 14, 27, 41, 55, 68, 82, 95, 109, 123, 136, 150]
    assert shown_generations(list(range(13))) == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    assert len(shown_generations(list(range(1000)))) == MAX_PANELS


def test_a_long_run_draws_at_most_max_panels_and_says_which(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "long.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=20))
    done = subprocess.run([str(BIN / "hpo-run"), str(spec)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    analysis = analyse([tmp_path / "run"])
    assert analysis.generations == list(range(21))
    caption, fig = plot_generations(analysis, tmp_path)
    titles = [ax.get_title().splitlines()[0] for ax in fig.axes if ax.get_visible() and ax.get_title()]
    expected = shown_generations(list(range(21)))
    assert titles == [f"generation {g}" for g in expected] and len(titles) == MAX_PANELS
    assert expected[0] == 0 and expected[-1] == 20
    assert (f"{MAX_PANELS} of the 21 generations are shown, evenly spaced ({', '.join(map(str, expected))})"
            in caption)
    assert fig.get_figheight() < 15  # three rows of four, not six
