"""Progress bars that stay readable in terminals and in captured logs."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(**kwargs) -> tqdm:
    """Return a tqdm bar; redrawn live on a terminal, at most every 30 s in a log file.

    Without the slower rate, a bar written to a file or a CI log adds a line
    per update.
    """
    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.1 if interactive else 30.0)
    kwargs.setdefault("dynamic_ncols", interactive)
    return tqdm(**kwargs)
