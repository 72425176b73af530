"""``vaults plugins``: versions, schemes and a broken plugin's error."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.core.conftest import FakeSite, backend_plugin, run_vaults
from vaults.cli.main import cli

FETCH_OK = "return Credential(vault=self.scheme, id='1', name=ref.path)"


@pytest.fixture
def plugin_site(fake_site: FakeSite) -> FakeSite:
    good = fake_site.module("vaults_core_good", backend_plugin("good", FETCH_OK))
    fake_site.dist("vaults-good", {"good": good}, version="2.0.1")
    fake_site.dist("vaults-broken", {"broken": "vaults_core_no_such_module_9f3a"}, version="0.1")
    return fake_site


def test_plugins_json_shows_the_broken_plugin(plugin_site: FakeSite) -> None:
    env = plugin_site.env(VAULTS_LOAD_PLUGINS="good,broken")
    result = run_vaults("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert set(data) == {"good", "broken"}
    assert data["good"]["schemes"] == ["good"]
    assert data["good"]["version"] == "2.0.1"
    assert data["good"]["distribution"] == "vaults-good"
    assert data["good"]["error"] is None
    assert data["good"]["hooks"] == ["vaults_register_backends"]
    assert data["broken"]["error"].startswith("ModuleNotFoundError")
    assert data["broken"]["schemes"] == []


def test_plugins_human(plugin_site: FakeSite) -> None:
    result = run_vaults("plugins", env=plugin_site.env(VAULTS_LOAD_PLUGINS="good,broken"))
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "schemes: good://" in lines["good"] and "2.0.1" in lines["good"]
    assert "ERROR: ModuleNotFoundError" in lines["broken"]


def test_plugins_none_installed() -> None:
    result = CliRunner().invoke(cli, ["plugins"], env={"VAULTS_LOAD_PLUGINS": ""})
    assert result.exit_code == 0
    assert "no vault plugins loaded: VAULTS_LOAD_PLUGINS=(empty: none)" in result.stdout
    result = CliRunner().invoke(cli, ["plugins"], env={"VAULTS_LOAD_PLUGINS": "nosuch"})
    assert "VAULTS_LOAD_PLUGINS=nosuch matches none installed" in result.stdout
    result = CliRunner().invoke(cli, ["plugins", "--json"], env={"VAULTS_LOAD_PLUGINS": ""})
    assert json.loads(result.stdout) == []
