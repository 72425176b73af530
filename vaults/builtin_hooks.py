"""The host's own hook implementations: the deterministic code extractor, tried last."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaults.markers import hookimpl

if TYPE_CHECKING:
    from vaults.codes.extract import ExtractedCode


@hookimpl(trylast=True)
def vaults_extract_code(content: str, source: str | None) -> ExtractedCode | None:
    from vaults.codes.extract import extract

    return extract(content)
