"""Settings every test under tests/ runs with.

``VAULTS_PULL_ALLOW_PRIVATE=1``: the tests' pull endpoints are HTTP servers on 127.0.0.1, which
pulls refuse by default (tests/codes/test_pull_target.py removes the variable to check that
refusal). Set in the environment, so that CLI subprocesses the tests start inherit it.
"""

from __future__ import annotations

import os

os.environ.setdefault("VAULTS_PULL_ALLOW_PRIVATE", "1")
