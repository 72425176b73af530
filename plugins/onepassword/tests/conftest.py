"""Fixtures come from vaults_onepassword.testing.fixtures, loaded by the vaults pytest plugin
(entry-point group ``vaults.testing``)."""
