"""One license for the whole collection: LICENSE, galaxy.yml, the roles' metadata, every file header."""

from __future__ import annotations

import re
import subprocess

import yaml

from conftest import ROOT

HEADER = "# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)"


def tracked_files():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_the_license_file_is_the_gpl_version_3_that_galaxy_yml_names():
    assert "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007" in (ROOT / "LICENSE").read_text()
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert galaxy["license"] == ["GPL-3.0-or-later"] and not galaxy.get("license_file")


def test_every_role_and_every_license_line_agree():
    for meta in sorted(ROOT.glob("roles/*/meta/main.yml")):
        assert yaml.safe_load(meta.read_text())["galaxy_info"]["license"] == "GPL-3.0-or-later", meta
    headers, others = [], []
    for path in tracked_files():
        if path.suffix not in (".py", ".yml", ".yaml", ".sh", ".j2", ".md") or path.name == "test_license.py":
            continue
        for line in path.read_text(errors="replace").splitlines():
            if path.suffix != ".md" and re.search(r"general public license", line, re.IGNORECASE):
                headers.append((path.relative_to(ROOT), line.strip()))
            if re.search(r"\b(apache|mit license|bsd license|mozilla public)\b", line, re.IGNORECASE):
                others.append((path.relative_to(ROOT), line.strip()))
    assert len(headers) > 30, "hardly a license header found: the check would prove nothing"
    assert [header for header in headers if header[1] != HEADER] == []
    assert others == []
    assert "GNU General Public License v3.0 or later: [LICENSE](LICENSE)" in (ROOT / "README.md").read_text()


def test_version_added_is_never_newer_than_the_collection():
    version = tuple(int(part) for part in yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"].split("."))
    found = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for added in re.findall(r"^version_added:\s*['\"]?([0-9.]+)", path.read_text(), re.MULTILINE):
            found.append(added)
            assert tuple(int(part) for part in added.split(".")) <= version, (path, added)
    assert found
