"""The environment a vault's helper program (``bw``, ``op``…) runs with: an allowlist.

A child process should see what it needs to run — ``PATH``, ``HOME``, locale, temporary
directories, proxy and TLS settings — and its own tool's variables, nothing else: not the
other vaults' tokens (``OP_*`` for ``bw``, ``BW_*`` for ``op``), not ``VAULTS_API_KEY``, the
pull key or the KeePass password, not the host application's unrelated secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["BASE_VARIABLES", "child_environment"]

BASE_VARIABLES = frozenset(
    {
        # running at all
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TMP",
        "TEMP",
        "TZ",
        "TERM",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
        # Windows
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "WINDIR",
        "COMSPEC",
        "PATHEXT",
        "APPDATA",
        "LOCALAPPDATA",
        "USERPROFILE",
        "PROGRAMDATA",
        # locale
        "LANG",
        "LANGUAGE",
        # proxies
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        # TLS trust
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    }
)
"""Variables every child may see (plus ``LC_*``)."""


def child_environment(
    source: Mapping[str, str],
    *,
    prefixes: Iterable[str] = (),
    names: Iterable[str] = (),
    drop: Iterable[str] = (),
) -> dict[str, str]:
    """The variables of ``source`` a child may see: :data:`BASE_VARIABLES`, ``LC_*``, the
    tool's own ``prefixes`` (``("BW_", "BITWARDENCLI_")``) and ``names``, minus ``drop``."""
    own = tuple(prefixes)
    extra = frozenset(names)
    dropped = frozenset(drop)
    return {
        key: value
        for key, value in source.items()
        if key not in dropped
        and (
            key in BASE_VARIABLES
            or key in extra
            or key.startswith("LC_")
            or (own and key.startswith(own))
        )
    }
