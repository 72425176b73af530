"""1Password backend for ``vaults`` (scheme ``op``).

Kept import-free on purpose: the ``op`` test double runs ``python -m
vaults_onepassword.testing.op_double`` and must start fast.
"""
