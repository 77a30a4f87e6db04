"""Read an Alloy configuration the way Alloy does, without Alloy.

Alloy cannot be downloaded on these machines. ../shared/upstream/alloy-*-components.json
restates its configuration syntax (``syntax``: tokens, grammar, parser rules,
from ``syntax/scanner`` and ``syntax/parser`` at the tag) and the reference of
the components a log pipeline uses (arguments and blocks, their types and
whether they are required). This module is a scanner and parser written from
that grammar, and a checker that decodes the parsed file against the
components as Alloy's ``syntax/vm`` would:

* parse: the tokens and grammar, including the terminator rule (two
  statements on one line are refused) and trailing commas in multi-line
  lists and objects;
* check: every block is a known component or config block, with a label
  where it needs one; every argument and inner block exists, none is given
  twice unless it may repeat, every required one is there; literal values fit
  their types; a reference names a component of the file and one of its
  exports, of the type the argument wants.

Any error raises AlloySyntaxError, with the line.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

# Where the references are: beside the checkout on this project's machines (as
# in upstream_reference.py; not imported from there, so that the Molecule
# tests, which have a conftest of their own, can use this module too).
UPSTREAM_DIR = Path(os.environ.get("DA_UPSTREAM_REFERENCES", Path(__file__).resolve().parents[3] / "shared" / "upstream"))

COMPONENTS_FILE = "alloy-1.18.1-components.json"


class AlloySyntaxError(ValueError):
    pass


# ---------------------------------------------------------------- scanner

@dataclass
class Token:
    kind: str  # IDENT, NUMBER, FLOAT, STRING, OP, KEYWORD, TERMINATOR, EOF
    text: str
    line: int
    value: object = None


KEYWORDS = {"true", "false", "null"}
# Longest first, so that "<=" wins over "<".
OPERATORS = sorted(["||", "&&", "!", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "^", "=",
                    "{", "}", "(", ")", "[", "]", ",", "."], key=len, reverse=True)
# After these, a newline ends the statement.
TERMINATES = {"IDENT", "NUMBER", "FLOAT", "STRING", "KEYWORD"}
CLOSERS = {")", "]", "}"}
SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}
FLOAT = re.compile(r"(\d+\.\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+)")
NUMBER = re.compile(r"\d+")


def _unquote(body: str, line: int) -> str:
    """The value of a double-quoted string's body, with Go's escapes (\\' and unknown ones refused)."""
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escape = body[index + 1:index + 2]
        if escape in SIMPLE_ESCAPES:
            out.append(SIMPLE_ESCAPES[escape])
            index += 2
        elif escape in ("x", "u", "U") or escape in "01234567" and escape:
            width, base, start = {"x": (2, 16, 2), "u": (4, 16, 2), "U": (8, 16, 2)}.get(escape, (3, 8, 1))
            digits = body[index + start:index + start + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF"[:base if base == 16 else 8] for c in digits):
                raise AlloySyntaxError(f"line {line}: malformed escape \\{escape}{digits}")
            code = int(digits, base)
            if escape in "01234567" and code > 255 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise AlloySyntaxError(f"line {line}: escape \\{escape}{digits} is not a valid character")
            out.append(chr(code))
            index += start + width
        else:
            raise AlloySyntaxError(f"line {line}: unknown escape sequence \\{escape}")
    return "".join(out)


def scan(text: str) -> list:
    """The tokens of a file, with TERMINATOR tokens where a newline ends a statement."""
    tokens: list = []
    index, line = 0, 1
    # Go's scanner, which Alloy's follows, allows a byte order mark only first
    # (in a string literal too).
    mark = text.find("\ufeff", 1)
    if mark > 0:
        raise AlloySyntaxError(f"line {text.count(chr(10), 0, mark) + 1}: illegal byte order mark")

    def terminate():
        if tokens and (tokens[-1].kind in TERMINATES or tokens[-1].kind == "OP" and tokens[-1].text in CLOSERS):
            tokens.append(Token("TERMINATOR", "\\n", line))

    while index < len(text):
        char = text[index]
        if char == "\n":
            terminate()
            line += 1
            index += 1
        elif char in " \t\r":
            index += 1
        elif text.startswith("//", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                raise AlloySyntaxError(f"line {line}: comment not terminated")
            line += text.count("\n", index, end)
            index = end + 2
        elif char == '"':
            end = index + 1
            while end < len(text) and text[end] != '"':
                if text[end] == "\n":
                    raise AlloySyntaxError(f"line {line}: newline in string")
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise AlloySyntaxError(f"line {line}: string literal not terminated")
            tokens.append(Token("STRING", text[index:end + 1], line, _unquote(text[index + 1:end], line)))
            index = end + 1
        elif char == "`":
            end = text.find("`", index + 1)
            if end < 0:
                raise AlloySyntaxError(f"line {line}: raw string not terminated")
            tokens.append(Token("STRING", text[index:end + 1], line, text[index + 1:end]))
            line += text.count("\n", index, end)
            index = end + 1
        elif char == "'":
            raise AlloySyntaxError(f"line {line}: single-quoted strings are not Alloy syntax")
        elif char == "#":
            raise AlloySyntaxError(f"line {line}: '#' is not a comment in Alloy (use //)")
        elif char.isdigit() or char == "." and text[index + 1:index + 2].isdigit():
            match = FLOAT.match(text, index)
            if match:
                tokens.append(Token("FLOAT", match.group(), line, float(match.group())))
            else:
                match = NUMBER.match(text, index)
                tokens.append(Token("NUMBER", match.group(), line, int(match.group())))
            index = match.end()
        elif char.isalpha() or char == "_":
            end = index
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            word = text[index:end]
            tokens.append(Token("KEYWORD" if word in KEYWORDS else "IDENT", word, line))
            index = end
        else:
            for operator in OPERATORS:
                if text.startswith(operator, index):
                    tokens.append(Token("OP", operator, line))
                    index += len(operator)
                    break
            else:
                raise AlloySyntaxError(f"line {line}: unexpected character {char!r}")
    terminate()
    tokens.append(Token("EOF", "", line))
    return tokens


# ---------------------------------------------------------------- parser

@dataclass
class Block:
    name: str
    label: str | None
    body: list
    line: int


@dataclass
class Attribute:
    name: str
    value: object
    line: int


@dataclass
class Reference:
    """An identifier path (a.b.c), which the checker resolves against the file's components."""
    path: str


@dataclass
class Expression:
    """Anything computed at run time (operators, calls, indexes): parsed, not checked."""
    text: str


@dataclass
class Literal:
    value: object
    kind: str  # string, number, bool, null


@dataclass
class Parser:
    tokens: list
    position: int = 0

    def peek(self) -> Token:
        return self.tokens[self.position]

    def next(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.next()
        if token.kind != kind or text is not None and token.text != text:
            raise AlloySyntaxError(f"line {token.line}: expected {text or kind}, found {token.text or token.kind!r}")
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token.kind == kind and (text is None or token.text == text)

    def skip_terminators(self):
        while self.at("TERMINATOR"):
            self.next()

    # Body = [ Statement { TERMINATOR Statement } ]
    def body(self, closing: str | None) -> list:
        statements = []
        self.skip_terminators()
        while not (self.at("EOF") if closing is None else self.at("OP", closing)):
            statements.append(self.statement())
            if self.at("TERMINATOR"):
                self.skip_terminators()
            elif not (self.at("EOF") if closing is None else self.at("OP", closing)):
                token = self.peek()
                raise AlloySyntaxError(f"line {token.line}: expected a newline after the statement, found {token.text!r}")
        return statements

    def statement(self):
        name = self.expect("IDENT")
        if self.at("OP", "="):
            self.next()
            return Attribute(name.text, self.expression(), name.line)
        parts = [name.text]
        while self.at("OP", "."):
            self.next()
            parts.append(self.expect("IDENT").text)
        label = None
        if self.at("STRING"):
            token = self.next()
            if not token.text.startswith('"'):
                raise AlloySyntaxError(f"line {token.line}: a block label is a double-quoted string")
            label = token.value
            if label and not re.fullmatch(r"[^\W\d]\w*", label):
                raise AlloySyntaxError(f"line {token.line}: block label {label!r} is not a valid identifier")
        if not self.at("OP", "{"):
            token = self.peek()
            what = "an attribute name is one identifier" if len(parts) > 1 and self.at("OP", "=") else "expected '{' or '='"
            raise AlloySyntaxError(f"line {token.line}: {what}, found {token.text!r}")
        self.next()
        body = self.body("}")
        self.expect("OP", "}")
        return Block(".".join(parts), label, body, name.line)

    # The expression grammar, from the lowest precedence up.
    BINARY = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%")]

    def expression(self, level: int = 0):
        if level == len(self.BINARY):
            return self.power()
        left = self.expression(level + 1)
        while self.peek().kind == "OP" and self.peek().text in self.BINARY[level]:
            operator = self.next().text
            right = self.expression(level + 1)
            left = Expression(f"({_show(left)} {operator} {_show(right)})")
        return left

    def power(self):
        base = self.unary()
        if self.at("OP", "^"):
            self.next()
            return Expression(f"({_show(base)} ^ {_show(self.power())})")
        return base

    def unary(self):
        if self.peek().kind == "OP" and self.peek().text in ("!", "-"):
            operator = self.next().text
            operand = self.unary()
            if operator == "-" and isinstance(operand, Literal) and operand.kind == "number":
                return Literal(-operand.value, "number")
            return Expression(f"{operator}{_show(operand)}")
        return self.operand()

    def operand(self):
        value = self.primary()
        while True:
            if self.at("OP", "."):
                self.next()
                attribute = self.expect("IDENT").text
                value = Reference(f"{value.path}.{attribute}") if isinstance(value, Reference) else Expression(f"{_show(value)}.{attribute}")
            elif self.at("OP", "["):
                self.next()
                index = self.expression()
                self.expect("OP", "]")
                value = Expression(f"{_show(value)}[{_show(index)}]")
            elif self.at("OP", "("):
                self.next()
                arguments = self.sequence(")", self.expression)
                value = Expression(f"{_show(value)}({', '.join(_show(a) for a in arguments)})")
            else:
                return value

    def sequence(self, closing: str, element) -> list:
        """Elements separated by commas, up to the closing bracket; each that ends a line needs its comma."""
        items = []
        self.skip_terminators()
        while not self.at("OP", closing):
            items.append(element())
            if self.at("OP", ","):
                self.next()
                self.skip_terminators()
            elif self.at("TERMINATOR"):
                token = self.peek()
                raise AlloySyntaxError(f"line {token.line}: missing ',' after the element that ends the line")
            elif not self.at("OP", closing):
                token = self.peek()
                raise AlloySyntaxError(f"line {token.line}: expected ',' or {closing!r}, found {token.text!r}")
        self.expect("OP", closing)
        return items

    def field(self):
        key = self.next()
        if key.kind == "STRING":
            # As Alloy's parser does: the text between the quotes, escapes not
            # undone (and "" stays two quote characters).
            name = key.text[1:-1] if len(key.text) > 2 else key.text
        elif key.kind == "IDENT":
            name = key.text
        else:
            raise AlloySyntaxError(f"line {key.line}: an object key is a string or an identifier, found {key.text!r}")
        self.expect("OP", "=")
        return name, self.expression()

    def primary(self):
        token = self.next()
        if token.kind == "IDENT":
            return Reference(token.text)
        if token.kind == "STRING":
            return Literal(token.value, "string")
        if token.kind in ("NUMBER", "FLOAT"):
            return Literal(token.value, "number")
        if token.kind == "KEYWORD":
            return Literal(None, "null") if token.text == "null" else Literal(token.text == "true", "bool")
        if token.kind == "OP" and token.text == "(":
            inner = self.expression()
            self.expect("OP", ")")
            return inner
        if token.kind == "OP" and token.text == "[":
            return self.sequence("]", self.expression)
        if token.kind == "OP" and token.text == "{":
            fields = self.sequence("}", self.field)
            keys = [key for key, _value in fields]
            if len(keys) != len(set(keys)):
                raise AlloySyntaxError(f"line {token.line}: an object key is given twice")
            return dict(fields)
        raise AlloySyntaxError(f"line {token.line}: expected an expression, found {token.text or token.kind!r}")


def _show(value) -> str:
    if isinstance(value, Reference):
        return value.path
    if isinstance(value, Expression):
        return value.text
    return repr(value)


def parse(text: str) -> list:
    """The statements of an Alloy file; AlloySyntaxError where Alloy's parser would stop."""
    parser = Parser(scan(text))
    statements = parser.body(None)
    parser.expect("EOF")
    return statements


# ---------------------------------------------------------------- checker

DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+|0")
SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGTPE]i?B|B)?", re.IGNORECASE)
CAPSULES = {"LogsReceiver", "RelabelRules"}


def load_components() -> dict:
    """The component reference; the test is skipped, with the reason, where it is missing."""
    path = UPSTREAM_DIR / COMPONENTS_FILE
    if not path.is_file():
        pytest.skip(f"Alloy's component reference {path} is not here (a checkout outside this project's machines); "
                    "set DA_UPSTREAM_REFERENCES to the directory that holds it")
    data = json.loads(path.read_text())
    if data.get("format") != "upstream-alloy-components/1":
        raise ValueError(f"unknown reference format {data.get('format')!r}")
    return data


def _type_error(where: str, value, wanted: str) -> AlloySyntaxError:
    return AlloySyntaxError(f"{where}: {_show(value) if not isinstance(value, Literal) else repr(value.value)} is not a {wanted}")


class Checker:
    """Decodes parsed statements against the component reference, as Alloy would."""

    def __init__(self, data: dict):
        self.components = data["components"]
        self.exports: dict = {}

    def check(self, statements: list) -> None:
        seen = set()
        for statement in statements:
            if not isinstance(statement, Block):
                raise AlloySyntaxError(f"line {statement.line}: {statement.name} = ... at the top level; only blocks go there")
            component = self.components.get(statement.name)
            if component is None:
                raise AlloySyntaxError(f"line {statement.line}: unknown component {statement.name!r}")
            if component["kind"] == "component" and not statement.label:
                raise AlloySyntaxError(f"line {statement.line}: component {statement.name} needs a non-empty label")
            if component["kind"] == "config_block" and statement.label is not None:
                raise AlloySyntaxError(f"line {statement.line}: config block {statement.name} takes no label")
            key = (statement.name, statement.label)
            if key in seen:
                raise AlloySyntaxError(f"line {statement.line}: {statement.name} {statement.label or ''} is given twice")
            seen.add(key)
            for export, spec in component.get("exports", {}).items():
                self.exports[f"{statement.name}.{statement.label}.{export}"] = spec["type"]
        for statement in statements:
            component = self.components[statement.name]
            self.body(statement.body, component, f"{statement.name} {statement.label or ''}".strip())

    def body(self, statements: list, spec: dict, where: str) -> None:
        arguments, blocks = spec.get("arguments", {}), dict(spec.get("blocks", {}))
        if spec.get("blocks_ref"):
            blocks |= self.components[spec["blocks_ref"]]["blocks"]
        given_arguments, given_blocks = set(), []
        for statement in statements:
            if isinstance(statement, Attribute):
                if statement.name not in arguments:
                    raise AlloySyntaxError(f"line {statement.line}: {where}: unknown argument {statement.name!r}")
                if statement.name in given_arguments:
                    raise AlloySyntaxError(f"line {statement.line}: {where}: argument {statement.name!r} is given twice")
                given_arguments.add(statement.name)
                self.value(statement.value, arguments[statement.name], f"line {statement.line}: {where}.{statement.name}")
            else:
                if statement.label is not None:
                    raise AlloySyntaxError(f"line {statement.line}: {where}: inner block {statement.name} takes no label")
                block = blocks.get(statement.name)
                if block is None:
                    raise AlloySyntaxError(f"line {statement.line}: {where}: unknown block {statement.name!r}")
                if statement.name in given_blocks and not block.get("multiple"):
                    raise AlloySyntaxError(f"line {statement.line}: {where}: block {statement.name!r} may be given once")
                given_blocks.append(statement.name)
                self.body(statement.body, block, f"{where}/{statement.name}")
        for name, argument in arguments.items():
            if argument.get("required") and name not in given_arguments:
                raise AlloySyntaxError(f"{where}: missing required argument {name!r}")
        for name, block in blocks.items():
            if block.get("required") and name not in given_blocks:
                raise AlloySyntaxError(f"{where}: missing required block {name!r}")

    def value(self, value, spec: dict, where: str) -> None:
        self.typed(value, spec["type"], where)
        keys = spec.get("keys")
        if keys and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    for key, key_spec in keys.items():
                        if key_spec.get("required") and key not in item:
                            raise AlloySyntaxError(f"{where}[{index}]: missing required key {key!r}")
                    if not spec.get("additional_keys"):
                        extra = set(item) - set(keys)
                        if extra:
                            raise AlloySyntaxError(f"{where}[{index}]: unknown keys {sorted(extra)}")

    def typed(self, value, wanted: str, where: str) -> None:
        if isinstance(value, Expression):
            return  # computed at run time: Alloy checks it then
        if isinstance(value, Reference):
            exported = self.exports.get(value.path)
            if exported is None:
                if value.path.split(".")[0] in {name.split(".")[0] for name in self.components}:
                    raise AlloySyntaxError(f"{where}: {value.path} names no export of a component in this file")
                return  # a standard-library name (sys.env and the like): checked at run time
            if exported != wanted:
                raise AlloySyntaxError(f"{where}: {value.path} is a {exported}, not a {wanted}")
            return
        if isinstance(value, Literal) and value.kind == "null":
            return  # null decodes to the zero value
        if wanted.startswith("list("):
            if not isinstance(value, list):
                raise _type_error(where, value, wanted)
            for index, item in enumerate(value):
                self.typed(item, wanted[5:-1], f"{where}[{index}]")
            return
        if wanted.startswith("map("):
            if not isinstance(value, dict):
                raise _type_error(where, value, wanted)
            for key, item in value.items():
                self.typed(item, wanted[4:-1], f"{where}.{key}")
            return
        if wanted in CAPSULES:
            raise AlloySyntaxError(f"{where}: a {wanted} comes only from a reference to a component's export")
        if not isinstance(value, Literal):
            raise _type_error(where, value, wanted)
        if wanted in ("string", "secret"):
            if value.kind not in ("string", "number"):
                raise _type_error(where, value, wanted)
        elif wanted == "bool":
            if value.kind != "bool":
                raise _type_error(where, value, wanted)
        elif wanted in ("number", "int", "uint", "float"):
            number = value.value
            if value.kind == "string":
                try:
                    number = float(value.value)
                except ValueError:
                    raise _type_error(where, value, wanted) from None
            elif value.kind != "number":
                raise _type_error(where, value, wanted)
            if wanted in ("int", "uint") and number != int(number) or wanted == "uint" and number < 0:
                raise _type_error(where, value, wanted)
        elif wanted == "duration":
            if value.kind != "string" or not DURATION.fullmatch(value.value):
                raise _type_error(where, value, "Go duration")
        elif wanted == "size":
            if value.kind != "string" or not SIZE.fullmatch(value.value):
                raise _type_error(where, value, "size")
        else:
            raise AlloySyntaxError(f"{where}: the reference has a type {wanted!r} this checker does not know")


def check_config(text: str, data: dict | None = None) -> list:
    """Parse and decode a whole configuration; returns its statements."""
    statements = parse(text)
    Checker(data or load_components()).check(statements)
    return statements
