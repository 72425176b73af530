"""Make a directory look like an installed distribution (for entry points in tests).

``importlib.metadata`` finds any ``NAME-VERSION.dist-info`` folder on ``sys.path``; writing
one with an ``entry_points.txt`` registers entry points without ``pip install``::

    write_dist_info(tmp_path, "vaults-dictvault", entry_points={"vaults": {"dictvault": "pkg"}})
    monkeypatch.syspath_prepend(tmp_path)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_dist_info"]


def _safe(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def write_dist_info(
    directory: Path,
    name: str,
    version: str = "0.0.1",
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``NAME-VERSION.dist-info`` (METADATA and entry_points.txt) into ``directory``;
    returns the dist-info path. ``entry_points`` is ``{group: {name: "module[:attr]"}}``."""
    dist_info = Path(directory) / f"{_safe(name)}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines: list[str] = []
    for group, points in (entry_points or {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{ep_name} = {value}" for ep_name, value in points.items())
        lines.append("")
    (dist_info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return dist_info
