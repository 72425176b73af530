"""KeePass field references and placeholders, resolved as KeePass and KeePassXC do.

- ``{REF:F@S:V}`` (KeePass "Field References"): field ``F`` (``T`` title, ``U`` user name,
  ``P`` password, ``A`` URL, ``N`` notes, ``I`` UUID) of the entry whose field ``S``
  (same letters) equals ``V`` (a UUID is 32 hex digits). A reference that finds nothing is
  left as it is, as KeePass does.
- ``{TITLE}``, ``{USERNAME}``, ``{URL}``, ``{PASSWORD}``, ``{NOTES}``, ``{UUID}`` and
  ``{S:Name}`` (a custom string field), case-insensitive, from the same entry.

References nest (a referenced password may itself be a reference) up to ten levels deep.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

__all__ = ["Resolver"]

MAX_DEPTH: Final = 10
_REF = re.compile(r"\{REF:([TUPANI])@([TUPANIO]):([^}]*)\}", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(TITLE|USERNAME|URL|PASSWORD|NOTES|UUID|S:[^}]+)\}", re.IGNORECASE)
_FIELDS: Final = {"T": "title", "U": "username", "P": "password", "A": "url", "N": "notes"}


def _raw(entry: Any, letter: str) -> str:
    if letter == "I":
        return str(entry.uuid.hex).upper()
    value = getattr(entry, _FIELDS[letter], None)
    return value if isinstance(value, str) else ""


class Resolver:
    """Resolves references among ``entries`` (the database's live entries)."""

    def __init__(self, entries: Sequence[Any]) -> None:
        self._entries = entries

    def _find(self, search: str, value: str) -> Any | None:
        if search == "I":
            try:
                wanted = uuid.UUID(value.strip())
            except ValueError:
                return None
            return next((e for e in self._entries if e.uuid == wanted), None)
        if search == "O":
            for entry in self._entries:
                if value in (v for v in entry.custom_properties.values() if isinstance(v, str)):
                    return entry
            return None
        return next((e for e in self._entries if _raw(e, search) == value), None)

    def resolve(self, entry: Any, text: str | None, depth: int = 0) -> str | None:
        """``text`` of ``entry`` with references and placeholders replaced."""
        if text is None or "{" not in text or depth >= MAX_DEPTH:
            return text

        def reference(match: re.Match[str]) -> str:
            target = self._find(match.group(2).upper(), match.group(3))
            if target is None:
                return match.group(0)
            letter = match.group(1).upper()
            found = self.resolve(target, _raw(target, letter), depth + 1)
            return found if found is not None else ""

        def placeholder(match: re.Match[str]) -> str:
            name = match.group(1)
            upper = name.upper()
            if upper.startswith("S:"):
                value = entry.custom_properties.get(name[2:])
                return self.resolve(entry, value, depth + 1) or "" if value is not None else ""
            letter = {"TITLE": "T", "USERNAME": "U", "URL": "A", "PASSWORD": "P"}.get(upper)
            if letter is None:
                return _raw(entry, "N") if upper == "NOTES" else _raw(entry, "I")
            if letter == "A" and depth > 0:  # {URL} inside the URL itself: no loop
                return _raw(entry, "A")
            return self.resolve(entry, _raw(entry, letter), depth + 1) or ""

        steps: list[Callable[[str], str]] = [
            lambda t: _REF.sub(reference, t),
            lambda t: _PLACEHOLDER.sub(placeholder, t),
        ]
        for step in steps:
            text = step(text)
        return text
