"""Leak checks: no secret may show up in a repr, a log record, an error or a traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Exposure", "assert_no_leak", "error_texts", "find_leaks", "record_texts"]


@dataclass(frozen=True)
class Exposure:
    """A text a user could see (``where`` says which) and its content."""

    where: str
    text: str


def _redact(text: str, secret: str, width: int = 40) -> str:
    """The context around the leak, with the secret itself replaced (the report must not
    leak either)."""
    index = text.find(secret)
    start = max(0, index - width)
    end = min(len(text), index + len(secret) + width)
    return (text[start:index] + "<SECRET>" + text[index + len(secret) : end]).replace("\n", "\\n")


def find_leaks(exposures: Iterable[Exposure], secrets: Sequence[str]) -> list[str]:
    """One readable line per (exposure, secret) leak found; secrets are shown redacted."""
    wanted = [s for s in secrets if s]
    problems: list[str] = []
    for exposure in exposures:
        for number, secret in enumerate(wanted):
            if secret in exposure.text:
                problems.append(
                    f"{exposure.where}: secret #{number} ({len(secret)} chars, "
                    f"starts {secret[:3]!r}…) appears in …{_redact(exposure.text, secret)}…"
                )
                break
    return problems


def assert_no_leak(exposures: Iterable[Exposure], secrets: Sequence[str]) -> None:
    """Fail with one line per leak when any secret appears in any exposure."""
    problems = find_leaks(exposures, secrets)
    assert not problems, "secrets leaked:\n" + "\n".join(problems)


def error_texts(where: str, exc: BaseException) -> list[Exposure]:
    """``str``, ``repr`` and the whole formatted traceback (with causes) of an exception."""
    return [
        Exposure(f"str() of {where}", str(exc)),
        Exposure(f"repr() of {where}", repr(exc)),
        Exposure(f"traceback of {where}", "".join(traceback.format_exception(exc))),
    ]


def record_texts(records: Iterable[logging.LogRecord]) -> list[Exposure]:
    """The formatted message, raw args and formatted exception of each log record."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    found: list[Exposure] = []
    for record in records:
        where = f"log record {record.name}:{record.levelname} ({record.pathname}:{record.lineno})"
        try:
            found.append(Exposure(where, formatter.format(record)))
        except Exception as exc:  # a broken record must not hide the others
            found.append(Exposure(where, f"{record.msg!r} {record.args!r} ({exc!r})"))
        found.append(Exposure(where + " args", repr(record.args)))
    return found
