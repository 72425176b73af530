"""An outsider's plugin, built from the docs in a temp dir, proves itself with the contract;
a deliberately broken one fails with readable messages."""

from __future__ import annotations

import re

import pytest

from vaults.testing import CANARY
from vaults.testing.fakedist import write_dist_info
from vaults.testing.seed import STANDARD_SEED

INNER = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # inner pytest runs: no slow extras


def build_plugin(
    pytester: pytest.Pytester, files: dict[str, str], entry_points: dict[str, dict[str, str]]
) -> None:
    """Lay the package out in the pytester dir and "install" it (a dist-info with its
    entry points on sys.path, which is what pip would leave behind)."""
    for path, content in files.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    site = pytester.path / "site"
    write_dist_info(site, "vaults-dictvault", "0.1.0", entry_points=entry_points)
    pytester.syspathinsert(site)
    pytester.syspathinsert(pytester.path)


def test_docs_example_is_complete_and_short(
    example_files: dict[str, str], example_entry_points: dict[str, dict[str, str]]
) -> None:
    files = example_files
    assert set(files) == {"pyproject.toml", "vaults_dictvault.py", "tests/test_contract.py"}
    lines = sum(len(content.splitlines()) for content in files.values())
    assert lines < 60, f"the minimal plugin in the docs has {lines} lines"
    assert example_entry_points["vaults"] == {"dictvault": "vaults_dictvault"}


def test_docs_example_plugin_passes_the_contract(
    pytester: pytest.Pytester,
    example_files: dict[str, str],
    example_entry_points: dict[str, dict[str, str]],
) -> None:
    build_plugin(pytester, example_files, example_entry_points)
    result = pytester.runpytest(*INNER, "-rs")
    result.assert_outcomes(passed=31, skipped=9)  # 7 write checks: read-only plugin
    result.stdout.fnmatch_lines(["*supports_batch = False*"])


BROKEN_TOTP = (
    "totp_secret=parse_secret(totp).model_copy(update={'algorithm': 'SHA1', 'digits': 6})"
    " if totp else None,"
)
BROKEN_REPR = """

def _leaky_repr(self: DictVault) -> str:
    return f"DictVault({self.items!r})"


DictVault.__repr__ = _leaky_repr  # type: ignore[method-assign]
"""


def broken_plugin_files(example_files: dict[str, str]) -> dict[str, str]:
    files = dict(example_files)
    module = files["vaults_dictvault.py"]
    good_totp = "totp_secret=parse_secret(totp) if totp else None,"
    assert good_totp in module
    files["vaults_dictvault.py"] = module.replace(good_totp, BROKEN_TOTP) + BROKEN_REPR
    return files


def test_broken_plugin_fails_with_readable_messages(
    pytester: pytest.Pytester,
    example_files: dict[str, str],
    example_entry_points: dict[str, dict[str, str]],
) -> None:
    build_plugin(pytester, broken_plugin_files(example_files), example_entry_points)
    result = pytester.runpytest(*INNER, "-rf")
    failed = sorted(
        re.sub(r"^FAILED \S+::TestDictVault::(\S+).*$", r"\1", line)
        for line in result.outlines
        if line.startswith("FAILED ")
    )
    assert failed == ["test_no_secret_leaks", "test_totp_code_matches_the_engine[acme]"]
    result.assert_outcomes(passed=29, failed=2, skipped=9)
    result.stdout.fnmatch_lines(
        [
            "*'acme': the code at t=1750000022.0 differs from the engine's code for the seeded"
            " secret (algorithm SHA256, 8 digits, period 30)*",
            "*secrets leaked:*",
            "*repr() of the backend: the stored TOTP secret of 'acme' appears in …*"
            "<password of 'acme'>*",
        ]
    )
    # the harness's own messages (the "E" lines) never print a seeded secret
    explanations = [line for line in result.outlines if line.startswith("E ")]
    assert explanations
    for item in STANDARD_SEED:
        for secret in item.secret_labels():
            assert not any(secret in line for line in explanations), item.key
    assert not any(CANARY in line for line in explanations)
