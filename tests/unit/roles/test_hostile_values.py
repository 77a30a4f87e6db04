"""Hostile inventory values in the roles' line-based files: refused before anything is written.

Each file is rendered as the role renders it (ansible-playbook on localhost,
with the role's defaults and vars). A value with a line break must fail the
render, naming the setting, and never add a line of its own.
"""

from __future__ import annotations

from pathlib import Path

from conftest import render_role

INJECTION = "x\n[auth.anonymous]\nenabled = true"


def render(role: str, expression: str, tmp_path: Path, extra_vars: dict | None = None):
    """(rc, output, value): one Jinja expression evaluated with the role's defaults and vars."""
    return render_role(role, expression, tmp_path, extra_vars)


GRAFANA_INI = "__grafana_ini | dataaggregator.infrastructure.ini_file"
GRAFANA_VARS = {"grafana_admin_password": "unit-admin-password", "grafana_secret_key": "unit-secret-key"}


def test_a_line_break_in_grafana_domain_cannot_open_a_section(tmp_path):
    rc, output, _value = render("grafana", GRAFANA_INI, tmp_path, {**GRAFANA_VARS, "grafana_domain": INJECTION})
    assert rc != 0
    assert "INI [server] domain: the value holds a line feed" in output


def test_a_line_break_in_grafana_ini_extra_is_refused(tmp_path):
    rc, output, _value = render("grafana", GRAFANA_INI, tmp_path,
                                {**GRAFANA_VARS, "grafana_ini_extra": {"smtp": {"from_name": INJECTION}}})
    assert rc != 0 and "INI [smtp] from_name" in output


def test_grafana_ini_secrets_go_to_files_and_grafana_ini_names_them(tmp_path):
    secrets = {"auth.generic_oauth": {"client_secret": "unit-oauth-secret"}, "smtp": {"password": "unit-smtp-secret"}}
    rc, output, value = render("grafana", "{'ini': " + GRAFANA_INI + ", 'files': __grafana_ini_secrets.files}", tmp_path,
                               {**GRAFANA_VARS, "grafana_ini_secrets": secrets, "grafana_ini_extra": {"smtp": {"enabled": True}}})
    assert rc == 0, output
    assert "unit-oauth-secret" not in value["ini"] and "unit-smtp-secret" not in value["ini"]
    assert "[smtp]\nenabled = true\npassword = $__file{/etc/grafana/secrets/ini/smtp.password}\n" in value["ini"]
    assert "client_secret = $__file{/etc/grafana/secrets/ini/auth.generic_oauth.client_secret}" in value["ini"]
    assert {(f["path"], f["content"], f["mode"], f["secret"]) for f in value["files"]} == {
        ("/etc/grafana/secrets/ini/auth.generic_oauth.client_secret", "unit-oauth-secret", "0640", True),
        ("/etc/grafana/secrets/ini/smtp.password", "unit-smtp-secret", "0640", True)}


def test_grafana_ini_secrets_with_a_path_in_their_name_are_refused(tmp_path):
    rc, output, _value = render("grafana", "__grafana_ini_secrets", tmp_path,
                                {**GRAFANA_VARS, "grafana_ini_secrets": {"../../etc": {"passwd": "x"}}})
    assert rc != 0 and "must be a plain name" in output


def test_cookies_are_secure_behind_an_https_root_url(tmp_path):
    rc, output, value = render("grafana", "__grafana_ini.security.cookie_secure", tmp_path,
                               {**GRAFANA_VARS, "grafana_root_url": "https://grafana.example.net/"})
    assert rc == 0, output
    assert value is True
    rc, output, value = render("grafana", "__grafana_ini.security.cookie_secure", tmp_path, GRAFANA_VARS)
    assert rc == 0, output
    assert value is False


# The units' hostile values (options, arguments, secret environments) are
# tested on the planning engine itself: tests/unit/plugins/plugin_utils/test_service_plan.py.


BACKUP_VARS = {"backup_databases": ["app"], "backup_user": "dataaggregator-backup"}


def test_a_line_break_in_the_cron_schedule_cannot_add_a_job(tmp_path):
    rc, output, _value = render("backup", "__backup_crontab_lines", tmp_path,
                                {**BACKUP_VARS, "backup_cron_schedule": "0 2 * * *\n* * * * * root /bin/sh -c id"})
    assert rc != 0 and "cron schedule: the value holds a line feed" in output


def test_the_crontab_is_rendered_line_by_line(tmp_path):
    rc, output, value = render("backup", "__backup_crontab_lines", tmp_path, {**BACKUP_VARS, "backup_restore_test_enabled": True})
    assert rc == 0, output
    lines = value
    assert len(lines) == 3 and lines[0].startswith("# Managed by Ansible")
    assert lines[1].startswith("0 2 * * * dataaggregator-backup nice -n 10 ionice -c 3 ") and lines[1].endswith(" backup")
    assert lines[2].endswith(" restore-test")


def test_a_line_break_in_a_timer_schedule_is_refused(tmp_path):
    rc, output, _value = render("backup", "__backup_units | map(attribute='sections') | map('dataaggregator.infrastructure.systemd_unit') | list",
                                tmp_path, {**BACKUP_VARS, "backup_schedule": "*-*-* 02:00:00\nOnCalendar=minutely"})
    assert rc != 0 and "[Timer] OnCalendar=: the value holds a line feed" in output


def test_a_line_break_in_pgbackrest_options_is_refused(tmp_path):
    rc, output, _value = render("backup", "__backup_pgbackrest_conf | dataaggregator.infrastructure.ini_file(separator='=')", tmp_path,
                                {**BACKUP_VARS, "backup_method": "pgbackrest",
                                 "backup_pgbackrest_options": {"log-level-console": "info\nrepo1-path=/tmp/stolen"}})
    assert rc != 0 and "INI [global] log-level-console: the value holds a line feed" in output
