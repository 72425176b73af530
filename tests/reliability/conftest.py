"""Shared fixtures of the reliability tests (``make reliability``).

``reliability_report``: records figures for ``docs/reliability.md`` (see ``report.py``).

These tests are not part of a bare ``pytest`` run (``make test``): when pytest was started
without paths (it then collects ``testpaths``), the items under this folder are deselected,
unless ``VAULTS_RELIABILITY_OUT`` is set (``tests/reliability/run.py`` sets it). Naming this
folder or a file in it (``pytest tests/reliability``) runs them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _load(stem: str) -> ModuleType:
    """Load ``tests/reliability/<stem>.py`` once as module ``vaults_reliability_<stem>``
    (--import-mode=importlib: tests/ is no package). Test modules then import it by that name."""
    name = f"vaults_reliability_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


report = _load("report")
bounded = _load("bounded")
canaries = _load("canaries")
canary_vaults = _load("canary_vaults")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        return  # paths were named: run what was asked for
    if os.environ.get(report.ENV):
        return
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        keep = set(map(id, mine))
        items[:] = [item for item in items if id(item) not in keep]


@pytest.fixture
def reliability_report(request: pytest.FixtureRequest) -> Iterator[object]:
    """``.record(section, name, *, checked, failures=0, unit=None, detail="")``: see report.py."""
    yield report.Recorder(request.node.nodeid)


@pytest.fixture
def debug_caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """``caplog`` capturing every logger at DEBUG (leak tests read every record)."""
    canaries.debug_logging(caplog)
    return caplog
