"""Leak checks: no secret may show up in a repr, a log record, an error or a traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Exposure", "Secrets", "assert_no_leak", "error_texts", "find_leaks", "record_texts"]


@dataclass(frozen=True)
class Exposure:
    """A text a user could see (``where`` says which) and its content."""

    where: str
    text: str


def _redact(text: str, labels: Mapping[str, str], found: str, width: int = 40) -> str:
    """The context around the leak of ``found``, every secret replaced by ``<its label>``
    (the report must not leak either)."""
    for secret, label in labels.items():  # longest first
        text = text.replace(secret, f"<{label}>")
    index = max(0, text.find(f"<{labels[found]}>"))
    start = max(0, index - width)
    end = min(len(text), index + len(labels[found]) + 2 + width)
    return text[start:end].replace("\n", "\\n")


Secrets = Sequence[str] | Mapping[str, str]
"""Secret strings, or ``{secret: label}`` so a report can say *which* secret leaked."""


def _labels(secrets: Secrets) -> dict[str, str]:
    if isinstance(secrets, Mapping):
        labelled = {secret: str(label) for secret, label in secrets.items() if secret}
    else:
        labelled = {s: f"secret #{n} ({len(s)} chars)" for n, s in enumerate(secrets) if s}
    # longest first: a password that contains the canary is reported as the password
    return dict(sorted(labelled.items(), key=lambda pair: -len(pair[0])))


def find_leaks(exposures: Iterable[Exposure], secrets: Secrets) -> list[str]:
    """One readable line per leaking exposure, naming the secret; secrets are redacted."""
    labels = _labels(secrets)
    problems: list[str] = []
    for exposure in exposures:
        for secret, label in labels.items():
            if secret in exposure.text:
                context = _redact(exposure.text, labels, secret)
                problems.append(f"{exposure.where}: the {label} appears in …{context}…")
                break
    return problems


def assert_no_leak(exposures: Iterable[Exposure], secrets: Secrets) -> None:
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
