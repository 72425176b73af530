"""docs/writing-a-plugin.md documents every hookspec (heading = exact signature) and every
hookspec is exercised by a test (a ``@hookimpl`` of it in some test module)."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vaults import hookspecs
from vaults.markers import PROJECT_NAME

ROOT = Path(__file__).resolve().parents[2]


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, f"{PROJECT_NAME}_spec")
    }


def signature_text(fn: Callable[..., Any]) -> str:
    """``name(arg: Annotation, ...) -> Return`` as written in the spec."""
    sig = inspect.signature(fn)
    params = []
    for param in sig.parameters.values():
        text = f"{param.name}: {param.annotation}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        params.append(text)
    return f"{fn.__name__}({', '.join(params)}) -> {sig.return_annotation}"


def doc_sections(doc: str) -> dict[str, str]:
    """``### heading`` -> section text, for the hook sections."""
    parts = re.split(r"^### (.+)$", doc, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_there_are_hookspecs() -> None:
    assert set(hookspec_functions()) >= {"vaults_register_backends", "vaults_extract_code"}


@pytest.mark.parametrize("name", sorted(hookspec_functions()))
def test_every_hookspec_is_documented_with_its_exact_signature(name: str, plugin_doc: str) -> None:
    heading = signature_text(hookspec_functions()[name])
    sections = doc_sections(plugin_doc)
    assert heading in sections, f"docs/writing-a-plugin.md needs a section '### {heading}'"
    body = sections[heading]
    assert "@hookimpl" in body and f"def {name}(" in body, f"the {name} section needs an example"


def test_no_documented_hook_is_stale(plugin_doc: str) -> None:
    documented = {h for h in doc_sections(plugin_doc) if h.startswith("vaults_")}
    assert documented == {signature_text(fn) for fn in hookspec_functions().values()}


def _is_hookimpl(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Name):
        return target.id == "hookimpl"
    return isinstance(target, ast.Attribute) and target.attr == "hookimpl"


def hookimpls_in_tests() -> dict[str, list[str]]:
    """Hook name -> test files defining a ``@hookimpl`` of it."""
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py")]
    found: dict[str, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                _is_hookimpl(d) for d in node.decorator_list
            ):
                found.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("name", sorted(hookspec_functions()))
def test_every_hookspec_is_exercised_by_a_test(name: str) -> None:
    assert name in hookimpls_in_tests(), f"no test implements (and so exercises) the hook {name}"
