"""What a benchmark reads before it starts: the shared corpus, or the files named.

Most benchmarks default to ``../shared`` (the corpus and query files beside the
repository). Where a file is missing, a benchmark says so in one line and exits
with status 2, rather than failing later with a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

MISSING_INPUT = 2


def require_inputs(program: str, **inputs: Path | None) -> None:
    """Exit 2 with one line on stderr if any input (option name: path) is missing."""
    for option, path in inputs.items():
        if path is not None and not Path(path).exists():
            flag = "--" + option.replace("_", "-")
            print(
                f"{program}: {path} not found (the shared corpus is read from ../shared; "
                f"pass {flag} to use another)",
                file=sys.stderr,
            )
            raise SystemExit(MISSING_INPUT)
