"""sandbox/secrets.sh: the sandbox's vault holds every secret the inventories name, made once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCRIPT = ROOT / "sandbox/secrets.sh"
NAMES = sorted(re.findall(r"^(vault_[a-z0-9_]+):", (ROOT / "inventories/vault.yml.example").read_text(), re.MULTILINE))
ENV = {**os.environ, "DA_VENV": str(Path(sys.executable).parent.parent)}


def names_in(vault, password):
    shown = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file", str(password),
                            str(vault)], capture_output=True, text=True, check=True, env=ENV).stdout
    return sorted(re.findall(r"^(vault_[a-z0-9_]+):", shown, re.MULTILINE))


def test_the_vault_is_made_once_with_every_secret_and_again_when_one_is_missing(tmp_path):
    vault, password = tmp_path / "vault.yml", tmp_path / "password"
    subprocess.run([str(SCRIPT), str(vault), str(password), "app1"], check=True, env=ENV, capture_output=True)
    assert names_in(vault, password) == NAMES and vault.read_text().startswith("$ANSIBLE_VAULT")
    before = vault.read_bytes()
    subprocess.run([str(SCRIPT), str(vault), str(password), "app1"], check=True, env=ENV, capture_output=True)
    assert vault.read_bytes() == before
    # A vault of an older sandbox, without a secret added since.
    older = tmp_path / "older.yml"
    older.write_text("vault_grafana_admin_password: old\n")
    subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt", "--vault-password-file", str(password),
                    str(older)], check=True, env=ENV, capture_output=True)
    older.replace(vault)
    result = subprocess.run([str(SCRIPT), str(vault), str(password), "app1"], check=True, env=ENV, capture_output=True, text=True)
    assert "lacks secrets the inventories now name" in result.stderr
    assert names_in(vault, password) == NAMES
