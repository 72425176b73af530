"""The pluggy markers; one project name, ``vaults``, for markers and the entry-point group."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "vaults"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
