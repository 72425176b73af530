"""Shared pieces of the harness tests: pytester, and the example plugin read from the docs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"
_BLOCK = re.compile(r"^```[a-z]*\n# file: (?P<path>\S+)\n(?P<body>.*?)^```$", re.M | re.S)


@pytest.fixture(scope="session")
def plugin_doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture
def example_files(plugin_doc: str) -> dict[str, str]:
    """``{relative path: content}`` of the complete minimal plugin in the docs (the code
    blocks whose first line is ``# file: PATH``)."""
    return {m["path"]: f"# file: {m['path']}\n{m['body']}" for m in _BLOCK.finditer(plugin_doc)}


@pytest.fixture
def example_entry_points(example_files: dict[str, str]) -> dict[str, dict[str, str]]:
    """The entry points the example's pyproject.toml declares."""
    project = tomllib.loads(example_files["pyproject.toml"])["project"]
    points: dict[str, dict[str, str]] = project["entry-points"]
    return points
