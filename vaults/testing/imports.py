"""Which modules a whole command imports (``python -X importtime``), for start-up tests.

The CLI keeps heavy libraries (pydantic, httpx, the server stack) off the paths that do not
use them; a test runs the real console script and names what it should not have imported.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["run_and_list_imports"]


def run_and_list_imports(
    script: Path, args: Sequence[str], env: Mapping[str, str], timeout: float = 60.0
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the Python console ``script`` with ``args``; its result and every module imported.

    ``-X importtime`` writes one ``import time: self | cumulative | module`` line per import
    to stderr; those lines are taken out of the returned ``stderr``.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    modules: set[str] = set()
    kept: list[str] = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            if name != "package":  # the header line
                modules.add(name)
        else:
            kept.append(line)
    done.stderr = "\n".join(kept)
    return done, modules
