"""The native Bitwarden transport: talks to the Bitwarden server itself, no Node.js.

``crypto`` holds the client-side cryptography (shared with the test server),
``client`` the HTTP API, ``cache`` the encrypted sync cache, ``vault`` the unlocked
keys and decrypted items, ``transport`` the :class:`~vaults_bitwarden.transport.Transport`.
"""
