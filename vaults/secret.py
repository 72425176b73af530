"""A secret string that never shows in ``repr``/``str``, without pydantic.

Its own small module: settings that hold secrets (a plugin's API keys, master passwords) are
read before a vault is asked anything, so this is on every command's start-up path.
:mod:`vaults.plain` re-exports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Protocol

    class SecretLike(Protocol):
        """:class:`Secret`, :class:`pydantic.SecretStr` or anything else that holds one."""

        def get_secret_value(self) -> str: ...


__all__ = ["Secret"]


class Secret:
    """A secret string that never shows in ``repr``/``str`` (as :class:`pydantic.SecretStr`)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)
