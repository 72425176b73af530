"""KeePass (KDBX 3/4) vault plugin for vaults: ``keepass://Group/Sub/Title`` or ``keepass://UUID``."""

from vaults_keepass.backend import KeePassBackend

__all__ = ["KeePassBackend"]
