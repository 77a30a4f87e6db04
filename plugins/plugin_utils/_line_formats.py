# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serialisers for the line-based formats the roles write, safe against hostile values.

Values come from inventories. In a format where a line break starts a new
setting, a value with CR or LF could add a setting of its own choosing (a
second ``ExecStartPre=``, an ``[auth.anonymous]`` section in grafana.ini).
Each serialiser therefore refuses CR, LF and NUL in every name and value,
naming where the value was going, and escapes what the format itself treats
as special:

systemd units (systemd.syntax(7), systemd.service(5))
  ``%`` starts a specifier everywhere, so it is written ``%%``. A line that
  ends in ``\\`` continues on the next one: refused. Command lines (``Exec*``
  given as a list of arguments) quote each argument in double quotes, with
  ``\\`` and ``"`` escaped C-style and ``$`` written ``$$`` (no variable
  expansion). ``Environment=`` assignments are quoted the same way, less the
  ``$``, which has no meaning there.
environment files (``EnvironmentFile=``)
  ``KEY="value"``, with ``\\``, ``"``, ``$`` and the backquote escaped by a
  backslash, as systemd's parser reads them back.
INI files (grafana.ini, pgbackrest.conf)
  A section name may not hold ``]``, a key may not hold ``=`` or start with
  ``[``, ``;`` or ``#``. Values are written as they are.
crontab lines
  cron turns an unescaped ``%`` of the command into a line break, and reads
  ``\\%`` and ``\\\\`` as escapes: ``\\`` is written ``\\\\``, then ``%`` ``\\%``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

LINE_BREAKS = ("\r", "\n", "\0")
SYSTEMD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
SYSTEMD_SECTION = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The fields of a cron schedule: five fields or an @keyword.
CRON_SCHEDULE = re.compile(r"^(@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$")
CRON_USER = re.compile(r"^[a-z_][a-z0-9_.-]*[$]?$")


class LineFormatError(AnsibleFilterError):
    """A value that cannot be written safely; the message says which and where."""


def single_line(value, where: str) -> str:
    """The value as text, refused if it holds CR, LF or NUL."""
    if isinstance(value, bool):
        raise LineFormatError(f"{where}: expected text, got a boolean")
    text = str(value)
    for character, name in zip(LINE_BREAKS, ("a carriage return (CR)", "a line feed (LF)", "a NUL byte")):
        if character in text:
            raise LineFormatError(f"{where}: the value holds {name}, which would start a new line: {text!r}")
    return text


def _systemd_text(value, where: str) -> str:
    text = single_line(value, where)
    if text.endswith("\\"):
        raise LineFormatError(f"{where}: a value may not end in a backslash, which would join the next line: {text!r}")
    return text.replace("%", "%%")


def _c_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_exec_argument(argument, where: str = "ExecStart") -> str:
    """One argument of a command line: double-quoted, with \\, ", $ and % escaped."""
    text = single_line(argument, where)
    return _c_quoted(text.replace("%", "%%").replace("$", "$$"))


def systemd_environment(assignment, where: str = "Environment") -> str:
    """A quoted NAME=value assignment of Environment=."""
    text = single_line(assignment, where)
    name, separator, _value = text.partition("=")
    if not separator or not ENVIRONMENT_NAME.match(name):
        raise LineFormatError(f"{where}: expected NAME=value with a variable name, got {text!r}")
    return _c_quoted(text.replace("%", "%%"))


def _systemd_value(key: str, item, where: str) -> str:
    if isinstance(item, bool):
        return "yes" if item else "no"
    if key.startswith("Exec") and isinstance(item, list):
        if not item:
            raise LineFormatError(f"{where}: an empty command line")
        return " ".join(systemd_exec_argument(argument, where) for argument in item)
    if key == "Environment":
        return systemd_environment(item, where)
    return _systemd_text(item, where)


def systemd_unit(sections: Mapping) -> str:
    """A unit file from {section: {key: value}}.

    A value may be a string, a number, a boolean (yes/no), None (left out) or
    a list, written as one line per item. For Exec* keys, a list of strings
    is one command line; a list of lists is one line per command.
    """
    if not isinstance(sections, Mapping):
        raise LineFormatError(f"systemd_unit: expected a mapping of sections, got {type(sections).__name__}")
    lines = []
    for section, options in sections.items():
        if not isinstance(section, str) or not SYSTEMD_SECTION.match(section):
            raise LineFormatError(f"systemd unit: invalid section name {section!r}")
        if not isinstance(options, Mapping):
            raise LineFormatError(f"systemd unit [{section}]: expected a mapping of settings")
        lines.append(f"[{section}]")
        for key, value in options.items():
            where = f"systemd unit [{section}] {key}="
            if not isinstance(key, str) or not SYSTEMD_NAME.match(key):
                raise LineFormatError(f"systemd unit [{section}]: invalid setting name {key!r}")
            if value is None:
                continue
            if key.startswith("Exec") and isinstance(value, list) and value and not isinstance(value[0], list):
                items = [value]
            elif isinstance(value, list):
                items = value
            else:
                items = [value]
            lines.extend(f"{key}={_systemd_value(key, item, where)}" for item in items)
        lines.append("")
    return "\n".join(lines)


def environment_file(variables: Mapping) -> str:
    """NAME="value" lines for EnvironmentFile=, one per variable."""
    if not isinstance(variables, Mapping):
        raise LineFormatError(f"environment_file: expected a mapping of variables, got {type(variables).__name__}")
    lines = []
    for name, value in variables.items():
        if not isinstance(name, str) or not ENVIRONMENT_NAME.match(name):
            raise LineFormatError(f"environment file: invalid variable name {name!r}")
        # The value may be a secret: never echo it in a message.
        try:
            text = single_line(value, f"environment file: {name}")
        except LineFormatError:
            raise LineFormatError(f"environment file: the value of {name} holds CR, LF or NUL, "
                                  "which an environment file cannot carry") from None
        escaped = re.sub(r'(["\\$`])', r"\\\1", text)
        lines.append(f'{name}="{escaped}"')
    return "".join(line + "\n" for line in lines)


def ini_file(sections: Mapping, separator: str = " = ", secret_keys=()) -> str:
    """An INI file from {section: {key: value}}; booleans as true/false.

    Values of keys in secret_keys are never echoed in a message.
    """
    if not isinstance(sections, Mapping):
        raise LineFormatError(f"ini_file: expected a mapping of sections, got {type(sections).__name__}")
    lines = []
    for section, options in sections.items():
        name = single_line(section, "INI section name")
        if not name.strip() or "]" in name or "[" in name:
            raise LineFormatError(f"INI section name {name!r}: must be non-empty and hold no brackets")
        if not isinstance(options, Mapping):
            raise LineFormatError(f"INI section [{name}]: expected a mapping of keys")
        lines.extend(["", f"[{name}]"])
        for key, value in options.items():
            key_text = single_line(key, f"INI [{name}] key name")
            if not key_text.strip() or "=" in key_text or key_text.lstrip()[0] in "[;#":
                raise LineFormatError(f"INI [{name}] key {key_text!r}: must be non-empty, hold no '=' and not start with '[', ';' or '#'")
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            where = f"INI [{name}] {key_text}"
            if key_text in secret_keys:
                try:
                    text = single_line(value, where)
                except LineFormatError:
                    raise LineFormatError(f"{where}: the (secret) value holds CR, LF or NUL") from None
            else:
                text = single_line(value, where)
            lines.append(f"{key_text}{separator}{text}")
    return "\n".join(lines).lstrip("\n") + "\n"


def crontab_line(schedule, user, command) -> str:
    """One line of /etc/cron.d: schedule, user, command, with the command's % escaped."""
    schedule_text = single_line(schedule, "cron schedule").strip()
    if not CRON_SCHEDULE.match(schedule_text):
        raise LineFormatError(f"cron schedule {schedule_text!r}: expected five fields or an @keyword such as @daily")
    user_text = single_line(user, "cron user")
    if not CRON_USER.match(user_text):
        raise LineFormatError(f"cron user {user_text!r}: not a valid user name")
    command_text = single_line(command, "cron command")
    if not command_text.strip():
        raise LineFormatError("cron command: empty")
    escaped = command_text.replace("\\", "\\\\").replace("%", "\\%")
    return f"{schedule_text} {user_text} {escaped}"
