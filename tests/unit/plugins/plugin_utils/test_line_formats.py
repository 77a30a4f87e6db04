"""The line-based serialisers: hostile values are refused or escaped by each format's own rules."""

from __future__ import annotations

import configparser
import shlex

import pytest

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._line_formats import (
    LineFormatError,
    crontab_line,
    environment_file,
    ini_file,
    systemd_environment,
    systemd_exec_argument,
    systemd_unit,
)

LINE_BREAKS = ["a\nExecStartPre=/bin/sh -c 'id > /tmp/pwned'", "a\rb", "a\0b", "\n", "trailing\n"]


# -- systemd units


def test_a_unit_is_serialised_section_by_section():
    text = systemd_unit({"Unit": {"Description": "Node exporter", "Documentation": None},
                         "Service": {"ExecStart": ["/usr/local/bin/node_exporter", "--web.listen-address=:9100"],
                                     "ExecReload": "/bin/kill -HUP $MAINPID",
                                     "NoNewPrivileges": True, "PrivateUsers": False,
                                     "ReadWritePaths": ["/var/lib/a", "/var/lib/b"], "RestartSec": 2},
                         "Install": {"WantedBy": "multi-user.target"}})
    assert text == (
        "[Unit]\nDescription=Node exporter\n\n"
        "[Service]\n"
        'ExecStart="/usr/local/bin/node_exporter" "--web.listen-address=:9100"\n'
        "ExecReload=/bin/kill -HUP $MAINPID\n"
        "NoNewPrivileges=yes\nPrivateUsers=no\n"
        "ReadWritePaths=/var/lib/a\nReadWritePaths=/var/lib/b\nRestartSec=2\n\n"
        "[Install]\nWantedBy=multi-user.target\n")


@pytest.mark.parametrize("value", LINE_BREAKS)
@pytest.mark.parametrize("setting", ["Description", "ExecStart", "Environment", "User", "ReadWritePaths"])
def test_line_breaks_are_refused_in_every_setting_and_named(setting, value):
    given = [value] if setting == "ExecStart" else (f"NAME={value}" if setting == "Environment" else value)
    with pytest.raises(LineFormatError, match=f"\\[Service\\] {setting}="):
        systemd_unit({"Service": {setting: given}})


@pytest.mark.parametrize("key", ["Exec\nStart", "Exec Start", "", "1Start", "A=B"])
def test_bad_setting_names_are_refused(key):
    with pytest.raises(LineFormatError, match="invalid setting name"):
        systemd_unit({"Service": {key: "x"}})


@pytest.mark.parametrize("section", ["Service]\n[Unit", "", "Ser vice", None])
def test_bad_section_names_are_refused(section):
    with pytest.raises(LineFormatError, match="section"):
        systemd_unit({section: {"A": "b"}})


def test_a_trailing_backslash_would_join_the_next_line_and_is_refused():
    with pytest.raises(LineFormatError, match="backslash"):
        systemd_unit({"Unit": {"Description": "ends in \\"}})


def test_percent_is_escaped_as_a_specifier_everywhere():
    text = systemd_unit({"Unit": {"Description": "100% of %n"}, "Service": {"ExecStart": ["/bin/x", "--fmt=%H"]}})
    assert "Description=100%% of %%n\n" in text
    assert 'ExecStart="/bin/x" "--fmt=%%H"\n' in text


def systemd_split(command_line: str) -> list:
    """How systemd reads a command line back, for the characters the serialiser escapes.

    Double-quoted words with C escapes; %% and $$ stand for % and $.
    """
    words = shlex.split(command_line, posix=True)
    return [word.replace("%%", "%").replace("$$", "$") for word in words]


@pytest.mark.parametrize("argument", [
    "--web.listen-address=:9100", "with space", 'quote"inside', "single'quote", "back\\slash",
    "dollar$HOME and ${PATH}", "percent%n", "", "tab\there", "semi;colon && rm -rf /",
])
def test_exec_arguments_come_back_as_they_were(argument):
    line = systemd_exec_argument(argument)
    assert line.startswith('"') and line.endswith('"')
    assert "$" not in line.replace("$$", "")
    assert systemd_split(f"/bin/x {line}") == ["/bin/x", argument]


def test_a_list_of_lists_is_one_command_per_line():
    text = systemd_unit({"Service": {"ExecStartPre": [["/bin/a", "1"], ["/bin/b"]]}})
    assert text == '[Service]\nExecStartPre="/bin/a" "1"\nExecStartPre="/bin/b"\n'


def test_an_empty_command_line_is_refused():
    with pytest.raises(LineFormatError, match="empty command"):
        systemd_unit({"Service": {"ExecStart": [[]]}})


@pytest.mark.parametrize("assignment, expected", [
    ("TZ=UTC", '"TZ=UTC"'),
    ("GREETING=hello world", '"GREETING=hello world"'),
    ('Q=say "hi" \\ 5%', '"Q=say \\"hi\\" \\\\ 5%%"'),
])
def test_environment_assignments_are_quoted_whole(assignment, expected):
    assert systemd_environment(assignment) == expected


@pytest.mark.parametrize("assignment", ["no-equals", "=value", "1ST=x", "A B=c"])
def test_environment_assignments_need_a_variable_name(assignment):
    with pytest.raises(LineFormatError, match="NAME=value"):
        systemd_environment(assignment)


# -- environment files


def read_environment_file(text: str) -> dict:
    """systemd's reading of a NAME="value" line: \\ escapes ", \\, $ and the backquote."""
    variables = {}
    for line in text.splitlines():
        name, _equals, quoted = line.partition("=")
        assert quoted.startswith('"') and quoted.endswith('"'), line
        body, value, escaped = quoted[1:-1], [], False
        for character in body:
            if escaped:
                value.append(character if character in '"\\$`' else "\\" + character)
                escaped = False
            elif character == "\\":
                escaped = True
            else:
                assert character != '"', f"an unescaped quote ends the value early: {line}"
                value.append(character)
        variables[name] = "".join(value)
    return variables


@pytest.mark.parametrize("value", ['p@ss"word', "back\\slash\\", "$HOME and `id`", "tab\there", "plain", "", "=;#'"])
def test_environment_file_values_come_back_as_they_were(value):
    assert read_environment_file(environment_file({"SECRET": value})) == {"SECRET": value}


@pytest.mark.parametrize("value", ["pass\nINJECTED=1", "pass\rword", "nul\0"])
def test_environment_file_refuses_line_breaks_without_echoing_the_secret(value):
    with pytest.raises(LineFormatError, match="value of SECRET holds CR, LF or NUL") as raised:
        environment_file({"SECRET": value})
    assert "pass" not in str(raised.value) and "nul" not in str(raised.value)


@pytest.mark.parametrize("name", ["BAD NAME", "1X", "A\nB", ""])
def test_environment_file_refuses_bad_names(name):
    with pytest.raises(LineFormatError, match="invalid variable name"):
        environment_file({name: "x"})


# -- INI files


def test_ini_reads_back_with_a_standard_parser():
    text = ini_file({"server": {"domain": "grafana.example.net", "http_port": 3000, "enforce_domain": False},
                     "auth.anonymous": {"enabled": False}, "empty": {}})
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert dict(parser["server"]) == {"domain": "grafana.example.net", "http_port": "3000", "enforce_domain": "false"}
    assert parser["auth.anonymous"]["enabled"] == "false"


def test_a_newline_in_a_value_cannot_add_a_section():
    # Today's failure: grafana_domain with a newline added [auth.anonymous].
    with pytest.raises(LineFormatError, match=r"INI \[server\] domain: the value holds a line feed"):
        ini_file({"server": {"domain": "x\n[auth.anonymous]\nenabled = true"}})


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_line_breaks_are_refused_in_values(value):
    with pytest.raises(LineFormatError):
        ini_file({"global": {"repo1-path": value}}, separator="=")


@pytest.mark.parametrize("key", ["a=b", "[x]", ";comment", "#comment", "", "a\nb"])
def test_bad_keys_are_refused(key):
    with pytest.raises(LineFormatError, match="key"):
        ini_file({"s": {key: "v"}})


@pytest.mark.parametrize("section", ["a]b", "[a", "", "a\nb"])
def test_bad_section_names_are_refused_in_ini(section):
    with pytest.raises(LineFormatError, match="section"):
        ini_file({section: {"k": "v"}})


def test_secret_values_are_not_echoed():
    with pytest.raises(LineFormatError) as raised:
        ini_file({"global": {"repo1-cipher-pass": "hunter2\nrepo1-path=/tmp"}}, separator="=", secret_keys=["repo1-cipher-pass"])
    assert "hunter2" not in str(raised.value) and "(secret)" in str(raised.value)


def test_the_separator_is_the_formats():
    assert ini_file({"global": {"repo1-path": "/var/lib/pgbackrest"}}, separator="=") == "[global]\nrepo1-path=/var/lib/pgbackrest\n"


# -- crontab lines


def test_a_crontab_line_escapes_percent_and_backslash():
    line = crontab_line("30 2 * * *", "backup", "date +%F > /tmp/a\\b")
    assert line == "30 2 * * * backup date +\\%F > /tmp/a\\\\b"


@pytest.mark.parametrize("schedule, user, command, message", [
    ("30 2 * * *\n* * * * * root id", "backup", "x", "line feed"),
    ("30 2 * * *", "backup", "x\n* * * * * root id", "line feed"),
    ("30 2 * * *", "root\n* * * * *", "x", "line feed"),
    ("every day", "backup", "x", "five fields"),
    ("30 2 * * *", "bad user", "x", "not a valid user"),
    ("@daily", "backup", " ", "empty"),
])
def test_hostile_crontab_values_are_refused(schedule, user, command, message):
    with pytest.raises(LineFormatError, match=message):
        crontab_line(schedule, user, command)


def test_keywords_are_schedules():
    assert crontab_line("@weekly", "backup", "x") == "@weekly backup x"
