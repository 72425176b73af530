"""Test components for the 1Password plugin: a Connect REST server, an ``op`` CLI double,
their shared seed format and pytest fixtures. Import-free so the ``op`` double starts fast."""
