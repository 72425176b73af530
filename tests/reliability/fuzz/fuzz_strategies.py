"""Hypothesis strategies: real-shaped inputs (``fuzz_seeds``) and mutations of them.

Mutations are what breaks parsers in practice: a value of the wrong JSON type, a missing or
extra key, a list where an object belongs, deep nesting, huge numbers, text with NUL, lone
surrogates, control and direction characters.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, Final

import fuzz_seeds as seeds
from hypothesis import strategies as st

__all__ = [
    "any_text",
    "composed_messages",
    "dumps",
    "encode",
    "json_bytes",
    "json_values",
    "keepass_attributes",
    "messages",
    "mutated_json",
    "mutated_text",
    "references",
    "totp_secrets",
]

# text that includes lone surrogates and control characters, which st.text() leaves out
_HAZARD_CHARS: Final = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\x1b", "\n", "\r", "\t", "%", "%00", "\u0085"]
)
any_char = st.one_of(st.characters(), st.characters(codec="ascii"), _HAZARD_CHARS)
any_text = st.lists(any_char, max_size=40).map("".join)


@st.composite
def mutated_text(draw: st.DrawFn, corpus: Sequence[str], max_edits: int = 5) -> str:
    """A corpus entry with a few random edits (insert, delete, replace, splice, repeat)."""
    text = draw(st.sampled_from(corpus))
    for _ in range(draw(st.integers(0, max_edits))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "splice", "repeat", "case"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(any_text) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 12)) :]
        elif op == "replace":
            text = text[:pos] + draw(any_char) + text[pos + 1 :]
        elif op == "splice":
            other = draw(st.sampled_from(corpus))
            text = text[:pos] + other[draw(st.integers(0, len(other))) :]
        elif op == "repeat":
            end = min(len(text), pos + draw(st.integers(1, 8)))
            text = text[:end] + text[pos:end] * draw(st.integers(1, 50)) + text[end:]
        else:
            text = text[:pos] + text[pos:].swapcase()
    return text


# -- JSON ------------------------------------------------------------------------------------

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.sampled_from(["", "1", "true", "null", "LOGIN", "OTP", seeds.BW_ID, seeds.OP_ITEM_ID]),
)
json_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)
    ),
    max_leaves=10,
)


def _slots(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc`` (the root is ``()``)."""
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _slots(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _slots(value, (*path, index))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated_json(draw: st.DrawFn, docs: Sequence[Any], max_edits: int = 4) -> Any:
    """A real-shaped document with a few structural edits at random places."""
    doc = copy.deepcopy(draw(st.sampled_from(docs)))
    for _ in range(draw(st.integers(1, max_edits))):
        path = draw(st.sampled_from(_slots(doc)))
        op = draw(st.sampled_from(["replace", "delete", "add", "wrap", "nest", "retype", "empty"]))
        value = _get(doc, path)
        if op == "replace":
            new = draw(json_values)
        elif op == "wrap":
            new = draw(st.sampled_from([[value], {"data": value}, {"0": value}]))
        elif op == "nest":  # deeper nesting is added as text by json_bytes
            new = value
            for _ in range(draw(st.integers(2, 60))):
                new = [new]
        elif op == "retype":
            new = draw(
                st.sampled_from(
                    [
                        str(value),
                        json.dumps(value),
                        1,
                        -1,
                        0,
                        2**63,
                        10**400,
                        1e308,
                        True,
                        None,
                        [],
                        {},
                    ]
                )
            )
        elif op == "empty":
            new = type(value)() if isinstance(value, str | list | dict) else None
        elif op == "add" and isinstance(value, dict):
            value[draw(any_text)] = draw(json_values)
            continue
        elif op == "add" and isinstance(value, list):
            value.insert(draw(st.integers(0, len(value))), draw(json_values))
            continue
        elif op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
            continue
        else:
            new = draw(json_values)
        if path:
            _get(doc, path[:-1])[path[-1]] = new
        else:
            doc = new
    return doc


def dumps(doc: Any) -> bytes:
    """JSON bytes of a document (NaN/Infinity as Python writes them; surrogates kept)."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def json_bytes(docs: Sequence[Any], max_edits: int = 4) -> st.SearchStrategy[bytes]:
    """Mutated documents as JSON bytes; now and then wrapped in arrays nested deeper than
    Python's recursion limit (which ``json.loads`` answers with RecursionError)."""
    return st.builds(
        lambda doc, depth: b"[" * depth + dumps(doc) + b"]" * depth,
        mutated_json(docs, max_edits),
        st.sampled_from([0] * 15 + [990, 1500]),
    )


def encode(text: str) -> bytes:
    """UTF-8 bytes of any text (lone surrogates written as they are, i.e. invalid UTF-8)."""
    return text.encode("utf-8", "surrogatepass")


# -- per target -----------------------------------------------------------------------------

totp_secrets = st.one_of(
    mutated_text(seeds.TOTP_SECRETS),
    any_text,
    st.builds(
        lambda prefix, pairs: prefix + "&".join(f"{k}={v}" for k, v in pairs),
        st.sampled_from(["otpauth://totp/Acme:a?", "otpauth://totp/?", "key=", "steam://", ""]),
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "secret",
                        "algorithm",
                        "digits",
                        "period",
                        "issuer",
                        "encoder",
                        "key",
                        "size",
                        "step",
                        "otpHashMode",
                        "SECRET",
                    ]
                ),
                st.one_of(
                    any_text,
                    st.sampled_from(["JBSWY3DPEHPK3PXP", "SHA256", "steam", "8", "0", "-1"]),
                    st.integers(-(10**30), 10**30).map(str),
                ),
            ),
            max_size=6,
        ),
    ),
)

keepass_attributes = st.one_of(
    st.sampled_from(seeds.KEEPASS_ATTRIBUTES),
    st.dictionaries(
        st.sampled_from(
            [
                "otp",
                "TOTP Seed",
                "TOTP Settings",
                "TimeOtp-Secret-Base32",
                "TimeOtp-Secret",
                "TimeOtp-Secret-Hex",
                "TimeOtp-Secret-Base64",
                "TimeOtp-Length",
                "TimeOtp-Period",
                "TimeOtp-Algorithm",
                "Notes",
            ]
        ),
        st.one_of(
            any_text,
            mutated_text(seeds.TOTP_SECRETS, 2),
            st.sampled_from(["30;6", "30;S", ";", "0;8", "HMAC-SHA-256", "3132", "MTIz", "8"]),
            st.integers(-(10**6), 10**6).map(str),
        ),
        max_size=5,
    ),
)

_SEGMENTS: Final = [
    "GitHub",
    "Private",
    "Internet",
    "Social",
    "Mastodon",
    "Team",
    "Shared",
    "password",
    "one-time password",
    "add more",
    "Security",
    "a%2Fb title",
    seeds.BW_ID,
    seeds.OP_ITEM_ID,
    seeds.OP_VAULT_ID,
    seeds.KEEPASS_UUID,
    "'Shared Vault'",
    "",
    " ",
    "..",
    "%",
    "%ZZ",
    "%00",
]
_PARAMS: Final = ["url", "organization", "collection", "attribute", "folder", ""]
_VALUES: Final = [
    "https://github.com/login",
    "Acme",
    "Engineering",
    seeds.BW_ORG,
    "otp",
    "totp",
    "value",
    "http://[::1",
    "https://a.b.co.uk:99999/",
    "github.com",
    "",
    "androidapp://x",
    "https://xn--bcher-kva.example/",
    "http://localhost",
]


@st.composite
def _composed_reference(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["bitwarden", "op", "keepass", "BitWarden", "x-y", "1op", ""]))
    parts = draw(st.lists(st.one_of(st.sampled_from(_SEGMENTS), any_text), max_size=5))
    text = f"{scheme}://{'/'.join(parts)}"
    params = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(_PARAMS), any_text),
                st.one_of(st.sampled_from(_VALUES), any_text),
            ),
            max_size=3,
        )
    )
    if params:
        text += "?" + "&".join(f"{k}={v}" for k, v in params)
    return text


references = st.one_of(mutated_text(seeds.REFERENCES), _composed_reference(), any_text)

_WORDS: Final = [
    "Your",
    "verification",
    "code",
    "is",
    "OTP",
    "PIN",
    "passcode",
    "Use",
    "to",
    "sign",
    "in",
    "Order",
    "#99120334",
    "Don't",
    "share",
    "it.",
    "expires",
    "in 10 minutes",
    "Acme:",
    "G-",
    "482913",
    "584 302",
    "K7Q2ZP",
    "1234",
    "12345678",
    "2026",
    "+1 555 010 0199",
    "$42.00",
    "https://login.example.com/verify?token=4f9c2e7a1b",
    "https://acme.example.com/unsubscribe",
    "@acme.example.com #118204",
    "@",
    "#",
    "<p>",
    "</p>",
    "<a href='https://x.example/magic?t=Q'>",
    "</a>",
    "<div style='display:none'>",
    "</div>",
    "<title>",
    "</title>",
    "&nbsp;",
    "&#52;",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "<br>",
    "\n",
    "\r\n",
    "\t",
    "IBAN",
    "DE44 5001 0517",
]


@st.composite
def composed_messages(draw: st.DrawFn) -> str:
    """Messages assembled from the vocabulary of real OTP e-mails and SMS."""
    words = draw(st.lists(st.one_of(st.sampled_from(_WORDS), any_text), min_size=1, max_size=30))
    seps = draw(st.lists(st.sampled_from([" ", "", "\n", ", ", ": ", " - "]), min_size=1))
    return "".join(w + seps[i % len(seps)] for i, w in enumerate(words))


messages = st.one_of(mutated_text(seeds.MESSAGES), composed_messages(), any_text)
