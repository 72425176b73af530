"""The ``vaults`` command line (click). Heavy modules are imported inside commands."""
