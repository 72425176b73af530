from vaults_onepassword.testing.fixtures import (  # noqa: F401 - pytest fixtures
    onepassword_connect,
    onepassword_seed,
    op_cli,
    op_double_bin_dir,
)
