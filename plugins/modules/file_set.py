#!/usr/bin/python
# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: file_set
short_description: Put a whole set of files, directories and links in place in one step
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team (@dataaggregator)
description:
  - Makes directories, files with the given content, and symbolic links exist
    with their owner, group and mode, and removes what O(exclusive) directories
    hold beyond them, in one remote execution however many entries there are.
  - This is what keeps the idempotent run fast and flat as dashboards and rule
    files grow; M(ansible.builtin.copy) in a loop costs two executions per file.
  - Changed files are first written beside their destination and checked with
    their O(files[].validate) command. If any check fails, nothing is replaced
    and the task fails with the checker's output, so a running service keeps
    its old config.
  - Contents of O(files[].secret) files never appear in the diff, the result
    or the managed host's log. The collection's action plugin of the same name
    moves them into O(secret_contents), which is declared C(no_log), before the
    module runs, because Ansible logs every other parameter to the host's journal.
options:
  directories:
    description: Directories to create (parents first, whatever the order given).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: Owner. Unchanged when not given.
        type: str
      group:
        description: Group. Unchanged when not given.
        type: str
      mode:
        description: Mode, as an octal string such as C("0750").
        type: str
  files:
    description: Files and their whole content.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path. Its directory must exist or be in O(directories).
        type: path
        required: true
      content:
        description:
          - The whole text of the file.
          - Required unless O(secret_contents) holds it. For a secret file
            the action plugin moves it there.
        type: str
      owner:
        description: Owner. root when not given.
        type: str
      group:
        description: Group. root when not given.
        type: str
      mode:
        description: Mode, as an octal string such as C("0640").
        type: str
        default: "0644"
      validate:
        description:
          - Command that checks a changed file before it replaces the old one;
            C(%s) stands for the new file's path. Run without a shell.
        type: str
      secret:
        description:
          - Keep the content out of the diff, the result and the host's log.
          - A file whose path is a key of O(secret_contents) is secret whatever this says.
        type: bool
        default: false
  secret_contents:
    description:
      - The contents of secret files, keyed by their O(files[].path). Declared
        C(no_log), so the host's log shows C(NOT_LOGGING_PARAMETER) for it.
      - Filled by the action plugin from the O(files) marked O(files[].secret);
        give it directly only when calling the module without the plugin.
      - Every key must be the path of an entry of O(files).
    type: dict
    default: {}
  links:
    description: Symbolic links.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the link.
        type: path
        required: true
      src:
        description: What the link points to.
        type: str
        required: true
  absent:
    description: Paths to remove (files, links or whole directories).
    type: list
    elements: path
    default: []
  exclusive:
    description:
      - Directories that hold only what this task lists. Anything else below them
        (files, links, directories, hidden ones too) is removed.
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    description: Reports what would change and changes nothing.
    support: full
  diff_mode:
    description: Shows the content and attribute changes of each path, never a secret file's content.
    support: full
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Install two rule files, each checked by promtool, and remove any other file
  dataaggregator.infrastructure.file_set:
    files:
      - path: /etc/prometheus/rules/system.yml
        content: "{{ lookup('ansible.builtin.file', 'rules/system.yml') }}"
        validate: promtool check rules %s
      - path: /etc/prometheus/rules/database.yml
        content: "{{ lookup('ansible.builtin.file', 'rules/database.yml') }}"
        validate: promtool check rules %s
    exclusive: [/etc/prometheus/rules]

- name: Install a service's directories, binary link, unit and secret environment
  dataaggregator.infrastructure.file_set:
    directories:
      - {path: /var/lib/postgres_exporter, owner: postgres_exporter, group: postgres_exporter, mode: "0750"}
    links:
      - {path: /usr/local/bin/postgres_exporter, src: /opt/dataaggregator/postgres_exporter/0.18.1/postgres_exporter}
    files:
      - path: /etc/systemd/system/postgres_exporter.service
        content: "{{ lookup('ansible.builtin.template', 'postgres_exporter.service.j2') }}"
      - path: /etc/postgres_exporter/secret.env
        content: "DATA_SOURCE_NAME={{ vault_postgres_exporter_dsn | to_json }}\n"
        mode: "0600"
        # The content reaches the module as a no_log parameter: it stays out
        # of the host's journal, the diff and the result.
        secret: true

- name: Check a config with the service's own tool before it replaces the live one
  dataaggregator.infrastructure.file_set:
    files:
      - path: /etc/prometheus/prometheus.yml
        content: "{{ prometheus_config | to_nice_yaml }}"
        group: prometheus
        mode: "0640"
        validate: /usr/local/bin/promtool check config %s
"""

RETURN = r"""
changed_paths:
  description: Paths created, replaced, re-owned, re-moded or relinked, in order.
  returned: always
  type: list
  elements: str
removed_paths:
  description: Paths removed (from O(absent) and O(exclusive) directories).
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd
import shlex
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

SECRET_MASK = "(secret content not shown)"


class FileSetError(Exception):
    """A problem with one entry; the message names it."""


def lookup_uid(name):
    if name is None:
        return None
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise FileSetError(f"no such user: {name}") from None


def lookup_gid(name):
    if name is None:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise FileSetError(f"no such group: {name}") from None


def parse_mode(mode, path):
    if mode is None:
        return None
    try:
        value = int(str(mode), 8)
    except ValueError:
        raise FileSetError(f"{path}: mode must be an octal string such as '0640', not {mode!r}") from None
    if not 0 <= value <= 0o7777:
        raise FileSetError(f"{path}: mode {mode!r} is out of range")
    return value


def attribute_changes(path_stat, uid, gid, mode):
    """What differs between an existing path's stat and the wanted owner, group and mode."""
    changes = {}
    if uid is not None and path_stat.st_uid != uid:
        changes["owner"] = (path_stat.st_uid, uid)
    if gid is not None and path_stat.st_gid != gid:
        changes["group"] = (path_stat.st_gid, gid)
    if mode is not None and stat.S_IMODE(path_stat.st_mode) != mode:
        changes["mode"] = (oct(stat.S_IMODE(path_stat.st_mode)), oct(mode))
    return changes


def apply_attributes(path, uid, gid, mode):
    if uid is not None or gid is not None:
        os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    if mode is not None:
        os.chmod(path, mode)


def read_text(path):
    with open(path, "rb") as stream:
        return stream.read()


class FileSet:
    """Plans the changes of a file set, then applies them (unless checking)."""

    def __init__(self, params, check_mode, run_command):
        self.params = params
        self.check_mode = check_mode
        self.run_command = run_command
        self.changed_paths = []
        self.removed_paths = []
        self.diffs = []

    # -- ownership lookups may fail in check mode on a new host (the user is
    # -- created by an earlier task that did not run): then report a change.
    def ids(self, entry, default_owner=None, default_group=None):
        owner = entry.get("owner") or default_owner
        group = entry.get("group") or default_group
        try:
            return lookup_uid(owner), lookup_gid(group)
        except FileSetError:
            if self.check_mode:
                return None, None
            raise

    def note(self, path, before, after):
        self.changed_paths.append(path)
        self.diffs.append({"before_header": path, "after_header": path, "before": before, "after": after})

    def directories(self):
        for entry in sorted(self.params["directories"], key=lambda item: item["path"].count("/")):
            path = entry["path"]
            uid, gid = self.ids(entry)
            mode = parse_mode(entry.get("mode"), path)
            if os.path.lexists(path) and not os.path.isdir(path):
                raise FileSetError(f"{path} exists and is not a directory")
            if not os.path.isdir(path):
                self.note(path, {"path": path, "state": "absent"}, {"path": path, "state": "directory"})
                if not self.check_mode:
                    os.makedirs(path, exist_ok=True)
                    apply_attributes(path, uid, gid, mode if mode is not None else 0o755)
                continue
            changes = attribute_changes(os.stat(path), uid, gid, mode)
            if changes:
                self.note(path, {key: value[0] for key, value in changes.items()},
                          {key: value[1] for key, value in changes.items()})
                if not self.check_mode:
                    apply_attributes(path, uid, gid, mode)

    def contents(self):
        """Each file's content, from O(secret_contents) or inline, checked for a gap or a stray key."""
        secret_contents = self.params.get("secret_contents") or {}
        paths = [entry["path"] for entry in self.params["files"]]
        stray = sorted(set(secret_contents) - set(paths))
        if stray:
            raise FileSetError(f"secret_contents names paths that are not in files: {', '.join(stray)}")
        contents = []
        for entry in self.params["files"]:
            path = entry["path"]
            if path in secret_contents:
                if entry.get("content") is not None:
                    raise FileSetError(f"{path}: its content is given both inline and in secret_contents")
                contents.append((entry, secret_contents[path], True))
            elif entry.get("content") is None:
                raise FileSetError(f"{path}: no content (give content, or the path as a key of secret_contents)")
            else:
                contents.append((entry, entry["content"], bool(entry.get("secret"))))
        return contents

    def stage_files(self):
        """Write every changed file beside its destination; return (staged, attribute-only) lists."""
        staged, attributes_only = [], []
        for entry, text, secret in self.contents():
            path = entry["path"]
            content = to_bytes(text, errors="surrogate_or_strict")
            uid, gid = self.ids(entry, "root", "root")
            mode = parse_mode(entry.get("mode"), path)
            if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
                raise FileSetError(f"{path} exists and is not a regular file")
            before = read_text(path) if os.path.exists(path) else None
            if before == content:
                changes = attribute_changes(os.stat(path), uid, gid, mode)
                if changes:
                    attributes_only.append((path, uid, gid, mode))
                    self.note(path, {key: value[0] for key, value in changes.items()},
                              {key: value[1] for key, value in changes.items()})
                continue
            if secret:
                self.note(path, "" if before is None else SECRET_MASK + "\n", SECRET_MASK + "\n")
            else:
                self.note(path, "" if before is None else to_text(before, errors="surrogate_or_replace"),
                          to_text(content, errors="surrogate_or_replace"))
            if self.check_mode:
                continue
            directory = os.path.dirname(path)
            if not os.path.isdir(directory):
                raise FileSetError(f"{path}: its directory {directory} does not exist")
            handle, staged_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            staged.append((staged_path, path, uid, gid, mode if mode is not None else 0o644, entry.get("validate")))
        return staged, attributes_only

    def validate(self, staged):
        failures = []
        for staged_path, path, _uid, _gid, _mode, command in staged:
            if not command:
                continue
            if "%s" not in command:
                raise FileSetError(f"{path}: validate must contain %s: {command}")
            argv = [part.replace("%s", staged_path) for part in shlex.split(command)]
            rc, out, err = self.run_command(argv)
            if rc != 0:
                output = (out + err).replace(staged_path, path).strip()
                failures.append(f"{path} failed to validate: `{command.replace('%s', path)}` exited {rc}: {output}")
        return failures

    def links(self):
        for entry in self.params["links"]:
            path, src = entry["path"], entry["src"]
            current = os.readlink(path) if os.path.islink(path) else None
            if current == src:
                continue
            if os.path.lexists(path) and current is None and os.path.isdir(path):
                raise FileSetError(f"{path} is a directory, not a link")
            self.note(path, {"path": path, "src": current}, {"path": path, "src": src})
            if not self.check_mode:
                temporary = f"{path}.file_set.tmp"
                if os.path.lexists(temporary):
                    os.unlink(temporary)
                os.symlink(src, temporary)
                os.replace(temporary, path)

    def remove(self, path):
        self.removed_paths.append(path)
        self.diffs.append({"before_header": path, "after_header": path,
                           "before": {"path": path, "state": "present"}, "after": {"path": path, "state": "absent"}})
        if self.check_mode:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def prune(self):
        declared = {os.path.normpath(entry["path"])
                    for key in ("directories", "files", "links") for entry in self.params[key]}
        # A declared path keeps its parent directories too.
        keep = set(declared)
        for path in declared:
            parent = os.path.dirname(path)
            while parent not in ("/", ""):
                keep.add(parent)
                parent = os.path.dirname(parent)
        for root in self.params["exclusive"]:
            root = os.path.normpath(root)
            if not os.path.isdir(root):
                continue
            for current, dirnames, filenames in os.walk(root, topdown=True):
                for name in sorted(filenames):
                    path = os.path.join(current, name)
                    if path not in keep:
                        self.remove(path)
                for name in sorted(dirnames):
                    path = os.path.join(current, name)
                    if path not in keep:
                        self.remove(path)
                dirnames[:] = [name for name in dirnames if os.path.join(current, name) in keep]
        for path in self.params["absent"]:
            if os.path.lexists(path):
                self.remove(path)

    def run(self):
        self.directories()
        staged, attributes_only = self.stage_files()
        try:
            failures = self.validate(staged)
            if failures:
                raise FileSetError("; ".join(failures) + ". Nothing was replaced.")
            for staged_path, path, uid, gid, mode, _command in staged:
                apply_attributes(staged_path, uid, gid, mode)
                os.replace(staged_path, path)
        finally:
            for staged_path, *_rest in staged:
                if os.path.exists(staged_path):
                    os.unlink(staged_path)
        if not self.check_mode:
            for path, uid, gid, mode in attributes_only:
                apply_attributes(path, uid, gid, mode)
        self.links()
        self.prune()


def main():
    ownership = {"owner": {"type": "str"}, "group": {"type": "str"}, "mode": {"type": "str"}}
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "dict", "default": [],
                            "options": {"path": {"type": "path", "required": True}, **ownership}},
            "files": {"type": "list", "elements": "dict", "default": [],
                      "options": {"path": {"type": "path", "required": True},
                                  "content": {"type": "str"},
                                  "owner": {"type": "str"}, "group": {"type": "str"},
                                  "mode": {"type": "str", "default": "0644"},
                                  "validate": {"type": "str"},
                                  "secret": {"type": "bool", "default": False, "no_log": False}}},
            "links": {"type": "list", "elements": "dict", "default": [],
                      "options": {"path": {"type": "path", "required": True}, "src": {"type": "str", "required": True}}},
            "secret_contents": {"type": "dict", "default": {}, "no_log": True},
            "absent": {"type": "list", "elements": "path", "default": []},
            "exclusive": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    # secret_contents is no_log: its values are masked wherever they would
    # show (the host's log, the recorded invocation, any message). A file
    # marked secret but given inline was logged already; mask it from here on.
    for entry in module.params["files"]:
        if entry["secret"] and entry["content"]:
            module.no_log_values.add(entry["content"])
    file_set = FileSet(module.params, module.check_mode, module.run_command)
    try:
        file_set.run()
    except (FileSetError, OSError) as error:
        module.fail_json(msg=str(error), changed_paths=file_set.changed_paths, removed_paths=file_set.removed_paths)
    result = {"changed": bool(file_set.changed_paths or file_set.removed_paths),
              "changed_paths": file_set.changed_paths, "removed_paths": file_set.removed_paths}
    if module._diff:
        result["diff"] = file_set.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
