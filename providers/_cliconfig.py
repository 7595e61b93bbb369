"""Just enough of the Terraform/OpenTofu CLI configuration file to find local providers.

We read ``plugin_cache_dir = "..."`` and the ``filesystem_mirror`` blocks (with their
``include``/``exclude`` patterns) inside ``provider_installation { ... }``; everything else
(``credentials``, ``host``, ``network_mirror`` …) is parsed so it can be skipped, never
interpreted. The file is HCL native syntax - or JSON, which Terraform accepts too - so
the parser understands comments (``#``, ``//``, ``/* */``), quoted strings with escapes,
heredocs, lists, objects and nested blocks.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers._install_errors import ProviderConfigError
from providers.models import ProviderAddress, same_origin

__all__ = [
    "CliConfig",
    "FilesystemMirror",
    "cli_config_path",
    "load_cli_config",
    "parse_cli_config",
]

# Terraform's default hostname for patterns written as NAMESPACE/TYPE.
_PATTERN_DEFAULT_HOST = "registry.terraform.io"


def _pattern_matches(pattern: str, address: ProviderAddress) -> bool:
    parts = pattern.strip().lower().split("/")
    if len(parts) == 2:
        parts = [_PATTERN_DEFAULT_HOST, *parts]
    if len(parts) != 3:
        return False
    host, namespace, type_ = parts
    host_ok = host == "*" or same_origin(host, address.hostname)
    return host_ok and namespace in ("*", address.namespace) and type_ in ("*", address.type)


@dataclass(frozen=True)
class FilesystemMirror:
    """A ``filesystem_mirror`` block: a directory plus the providers it is meant for."""

    path: Path
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def applies_to(self, address: ProviderAddress) -> bool:
        if self.include and not any(_pattern_matches(p, address) for p in self.include):
            return False
        return not any(_pattern_matches(p, address) for p in self.exclude)


@dataclass(frozen=True)
class CliConfig:
    """What the CLI configuration says about local provider sources."""

    plugin_cache_dir: Path | None = None
    filesystem_mirrors: tuple[FilesystemMirror, ...] = ()


def cli_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The CLI config file Terraform would read: ``TF_CLI_CONFIG_FILE``, else the
    per-user default (``~/.terraformrc``, ``%APPDATA%/terraform.rc`` on Windows)."""
    env = os.environ if env is None else env
    explicit = env.get("TF_CLI_CONFIG_FILE", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        appdata = env.get("APPDATA")
        return Path(appdata) / "terraform.rc" if appdata else None
    home = env.get("HOME")
    return Path(home) / ".terraformrc" if home else None


def load_cli_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> CliConfig:
    """Read the CLI config; a missing file is an empty config, as it is for Terraform."""
    env = os.environ if env is None else env
    path = path if path is not None else cli_config_path(env)
    if path is None:
        return CliConfig()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return CliConfig()
    except OSError as exc:
        raise ProviderConfigError(
            f"cannot read the CLI config file {path} ({exc.strerror}); fix its permissions "
            "or point TF_CLI_CONFIG_FILE at another file"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ProviderConfigError(
            f"the CLI config file {path} is not UTF-8 text; fix it or point "
            "TF_CLI_CONFIG_FILE at another file"
        ) from exc
    return parse_cli_config(text, source=str(path), env=env)


def parse_cli_config(
    text: str, *, source: str = "<cli config>", env: Mapping[str, str] | None = None
) -> CliConfig:
    """Parse CLI config text (HCL native syntax or JSON)."""
    env = os.environ if env is None else env
    stripped = text.lstrip()
    if source.endswith(".json") or stripped.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProviderConfigError(
                f"{source}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); fix the file "
                "or point TF_CLI_CONFIG_FILE at another file"
            ) from exc
        if not isinstance(document, dict):
            raise ProviderConfigError(f"{source}: the top level must be a JSON object")
        return _from_json(document, env)
    return _from_body(_Parser(text, source).parse_body(top_level=True), env)


# --------------------------------------------------------------------------- interpretation


def _expand(value: str, env: Mapping[str, str]) -> Path:
    # Terraform expands environment variables in plugin_cache_dir; doing the same for
    # mirror paths is harmless and lets one config serve several users.
    def lookup(name: str) -> str:
        return env.get(name, "")

    expanded = _expand_vars(value.strip(), lookup)
    home = env.get("HOME") or env.get("USERPROFILE")
    if home and (expanded == "~" or expanded.startswith(("~/", "~\\"))):
        expanded = home + expanded[1:]
    return Path(expanded).expanduser()


def _expand_vars(value: str, lookup: Callable[[str], str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        if value.startswith("${", i):
            end = value.find("}", i + 2)
            if end != -1:
                out.append(lookup(value[i + 2 : end]))
                i = end + 1
                continue
        j = i + 1
        while j < len(value) and (value[j].isalnum() or value[j] == "_"):
            j += 1
        if j == i + 1:
            out.append(ch)
            i += 1
        else:
            out.append(lookup(value[i + 1 : j]))
            i = j
    return "".join(out)


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _mirror(attrs: Mapping[str, object], env: Mapping[str, str]) -> FilesystemMirror | None:
    path = attrs.get("path")
    if not isinstance(path, str) or not path.strip():
        return None
    return FilesystemMirror(
        path=_expand(path, env),
        include=_strings(attrs.get("include")),
        exclude=_strings(attrs.get("exclude")),
    )


@dataclass
class _Block:
    type: str
    labels: list[str]
    body: list[_Item]


@dataclass
class _Attribute:
    name: str
    value: object


_Item = _Block | _Attribute


def _attrs(body: list[_Item]) -> dict[str, object]:
    return {item.name: item.value for item in body if isinstance(item, _Attribute)}


def _from_body(body: list[_Item], env: Mapping[str, str]) -> CliConfig:
    cache_dir: Path | None = None
    mirrors: list[FilesystemMirror] = []
    for item in body:
        if isinstance(item, _Attribute) and item.name == "plugin_cache_dir":
            if isinstance(item.value, str) and item.value.strip():
                cache_dir = _expand(item.value, env)
        elif isinstance(item, _Block) and item.type == "provider_installation":
            for method in item.body:
                if isinstance(method, _Block) and method.type == "filesystem_mirror":
                    mirror = _mirror(_attrs(method.body), env)
                    if mirror is not None:
                        mirrors.append(mirror)
    return CliConfig(plugin_cache_dir=cache_dir, filesystem_mirrors=tuple(mirrors))


def _json_blocks(value: object) -> list[dict[str, Any]]:
    # In Terraform's JSON syntax a block may be one object or a list of objects.
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _from_json(document: dict[str, Any], env: Mapping[str, str]) -> CliConfig:
    cache_dir = document.get("plugin_cache_dir")
    mirrors: list[FilesystemMirror] = []
    for installation in _json_blocks(document.get("provider_installation")):
        for attrs in _json_blocks(installation.get("filesystem_mirror")):
            mirror = _mirror(attrs, env)
            if mirror is not None:
                mirrors.append(mirror)
    return CliConfig(
        plugin_cache_dir=_expand(cache_dir, env)
        if isinstance(cache_dir, str) and cache_dir.strip()
        else None,
        filesystem_mirrors=tuple(mirrors),
    )


# ------------------------------------------------------------------------------- HCL parser

_PUNCT = frozenset("={}[],:")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass
class _Token:
    kind: str  # "ident", "string", "number", "punct", "newline", "eof"
    value: str
    line: int
    col: int


class _Lexer:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.line = 1
        self.col = 1

    def error(self, message: str, line: int | None = None, col: int | None = None) -> Exception:
        return ProviderConfigError(
            f"{self.source}:{line or self.line}:{col or self.col}: {message}; fix the file "
            "or point TF_CLI_CONFIG_FILE at another file"
        )

    def _advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.text[self.pos] == "\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
            self.pos += 1

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            line, col = self.line, self.col
            if ch == "\n":
                out.append(_Token("newline", "\n", line, col))
                self._advance()
            elif ch in " \t\r\ufeff":
                self._advance()
            elif ch == "#" or text.startswith("//", self.pos):
                while self.pos < len(text) and text[self.pos] != "\n":
                    self._advance()
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end == -1:
                    raise self.error("unterminated /* comment")
                self._advance(end + 2 - self.pos)
            elif ch == '"':
                out.append(_Token("string", self._string(), line, col))
            elif text.startswith("<<", self.pos):
                out.append(_Token("string", self._heredoc(), line, col))
            elif ch in _PUNCT:
                out.append(_Token("punct", ch, line, col))
                self._advance()
            elif ch.isalpha() or ch == "_":
                start = self.pos
                while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in "_-"):
                    self._advance()
                out.append(_Token("ident", text[start : self.pos], line, col))
            elif ch.isdigit() or (ch == "-" and text[self.pos + 1 : self.pos + 2].isdigit()):
                start = self.pos
                self._advance()
                while self.pos < len(text) and (
                    text[self.pos].isalnum() or text[self.pos] in ".+-"
                ):
                    self._advance()
                out.append(_Token("number", text[start : self.pos], line, col))
            else:
                raise self.error(f"unexpected character {ch!r}")
        out.append(_Token("eof", "", self.line, self.col))
        return out

    def _string(self) -> str:
        line, col = self.line, self.col
        self._advance()  # opening quote
        chars: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise self.error("unterminated string", line, col)
            ch = text[self.pos]
            if ch == '"':
                self._advance()
                return "".join(chars)
            if ch == "\\":
                nxt = text[self.pos + 1 : self.pos + 2]
                if nxt in _ESCAPES:
                    chars.append(_ESCAPES[nxt])
                    self._advance(2)
                    continue
                if nxt in ("u", "U"):
                    width = 4 if nxt == "u" else 8
                    digits = text[self.pos + 2 : self.pos + 2 + width]
                    try:
                        chars.append(chr(int(digits, 16)))
                    except ValueError:
                        raise self.error(f"invalid \\{nxt} escape in string") from None
                    self._advance(2 + width)
                    continue
                raise self.error(f"invalid escape sequence \\{nxt} in string")
            chars.append(ch)
            self._advance()

    def _heredoc(self) -> str:
        line, col = self.line, self.col
        text = self.text
        newline = text.find("\n", self.pos)
        if newline == -1:
            raise self.error("unterminated heredoc", line, col)
        marker = text[self.pos + 2 : newline].strip()
        indented = marker.startswith("-")
        marker = marker.lstrip("-")
        if not marker.isidentifier():
            raise self.error("a heredoc needs a marker such as <<EOT", line, col)
        self._advance(newline + 1 - self.pos)
        lines: list[str] = []
        while self.pos < len(text):
            end = text.find("\n", self.pos)
            end = len(text) if end == -1 else end
            current = text[self.pos : end]
            self._advance(min(end + 1, len(text)) - self.pos)
            if current.strip() == marker:
                if indented:
                    lines = _dedent(lines)
                return "".join(f"{ln}\n" for ln in lines)
            lines.append(current)
        raise self.error(f"heredoc <<{marker} is never closed", line, col)


def _dedent(lines: list[str]) -> list[str]:
    widths = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
    cut = min(widths, default=0)
    return [ln[cut:] for ln in lines]


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.lexer = _Lexer(text, source)
        self.tokens = self.lexer.tokens()
        self.index = 0

    def _peek(self, skip_newlines: bool = True) -> _Token:
        if skip_newlines:
            while self.tokens[self.index].kind == "newline":
                self.index += 1
        return self.tokens[self.index]

    def _next(self, skip_newlines: bool = True) -> _Token:
        token = self._peek(skip_newlines)
        if token.kind != "eof":
            self.index += 1
        return token

    def _error(self, token: _Token, expected: str) -> Exception:
        found = "end of file" if token.kind == "eof" else repr(token.value)
        return self.lexer.error(f"expected {expected}, found {found}", token.line, token.col)

    def parse_body(self, top_level: bool = False) -> list[_Item]:
        items: list[_Item] = []
        while True:
            token = self._peek()
            if token.kind == "eof":
                if not top_level:
                    raise self._error(token, "'}' to close the block")
                return items
            if token.value == "}" and token.kind == "punct":
                if top_level:
                    raise self._error(token, "an attribute or a block")
                return items
            if token.kind not in ("ident", "string"):
                raise self._error(token, "an attribute name or a block type")
            self._next()
            follow = self._peek()
            if follow.kind == "punct" and follow.value == "=":
                self._next()
                items.append(_Attribute(token.value, self._value()))
                continue
            labels: list[str] = []
            while follow.kind in ("string", "ident"):
                labels.append(self._next().value)
                follow = self._peek()
            if not (follow.kind == "punct" and follow.value == "{"):
                raise self._error(follow, f"'=' or '{{' after {token.value!r}")
            self._next()
            body = self.parse_body()
            self._next()  # the closing brace
            items.append(_Block(token.value, labels, body))

    def _value(self) -> object:
        token = self._next()
        if token.kind == "string":
            return token.value
        if token.kind == "number":
            try:
                return (
                    float(token.value) if any(c in token.value for c in ".eE") else int(token.value)
                )
            except ValueError:
                raise self._error(token, "a number") from None
        if token.kind == "ident":
            return {"true": True, "false": False, "null": None}.get(token.value, token.value)
        if token.kind == "punct" and token.value == "[":
            values: list[object] = []
            while True:
                if self._peek().value == "]" and self._peek().kind == "punct":
                    self._next()
                    return values
                values.append(self._value())
                sep = self._next()
                if sep.kind == "punct" and sep.value == "]":
                    return values
                if not (sep.kind == "punct" and sep.value == ","):
                    raise self._error(sep, "',' or ']' in a list")
        if token.kind == "punct" and token.value == "{":
            obj: dict[str, object] = {}
            while True:
                key = self._next()
                if key.kind == "punct" and key.value == "}":
                    return obj
                if key.kind not in ("ident", "string"):
                    raise self._error(key, "an object key")
                sep = self._next()
                if not (sep.kind == "punct" and sep.value in ("=", ":")):
                    raise self._error(sep, "'=' or ':' after an object key")
                obj[key.value] = self._value()
                follow = self._peek()
                if follow.kind == "punct" and follow.value == ",":
                    self._next()
        raise self._error(token, "a value")
