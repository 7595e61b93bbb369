"""Read regorus error messages: where (file, line, column) and what.

regorus renders errors as::

    --> policy.rego:3:7
      |
    3 |   msg :=
      |       ^
    error: expecting `}` while parsing set

Its column is not a character column: its lexer counts a tab as 4 columns, the inside
of a "string" in UTF-8 bytes and the inside of a `raw string` in characters. Editors
and our users count characters, so columns are translated by replaying those rules
over the source (``char_column``); tests pin this against the engine itself.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["EngineMessage", "char_column", "parse_engine_message"]

_LOCATION = re.compile(r"^--> (?P<file>.*):(?P<line>\d+):(?P<col>\d+)[ \t]*$", re.MULTILINE)
_ERROR = re.compile(r"^error: (?P<message>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class EngineMessage:
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None  # 1-based, in characters of the source line


def parse_engine_message(text: str, sources: Mapping[str, str] | None = None) -> EngineMessage:
    """The first location and message in ``text``; ``sources`` maps file labels to bodies."""
    location = _LOCATION.search(text)
    if location is None:
        message = text.strip()
        if message.startswith("error: "):
            message = message[len("error: ") :]
        return EngineMessage(message=message or "unknown engine error")
    error = _ERROR.search(text, location.end())
    message = error.group("message").strip() if error else text[location.end() :].strip()
    file, line, column = (
        location.group("file"),
        int(location.group("line")),
        int(location.group("col")),
    )
    source = (sources or {}).get(file)
    if source is not None:
        column = char_column(source, line, column)
    return EngineMessage(message=message, file=file, line=line, column=column)


def char_column(source: str, line: int, engine_column: int) -> int:
    """Translate regorus's column on ``line`` (1-based) to a 1-based character column."""
    layout = _engine_columns(source, line)
    if layout is None:
        return engine_column
    starts, end = layout
    if engine_column >= end:  # past the last character (an error at the end of the line)
        return len(starts) + 1
    # The character covering the column: the last one starting at or before it.
    return max(1, bisect_right(starts, engine_column))


def _engine_columns(source: str, line: int) -> tuple[list[int], int] | None:
    """The engine column where each character of ``line`` starts, and where the line ends."""
    current, column = 1, 1
    mode = "code"  # or "string", "raw", "comment"
    escaped = False
    starts: list[int] = []
    for ch in source:
        if ch == "\n":
            if current == line:
                break
            if mode != "raw":  # a raw string spans lines; a comment (or a broken string) ends
                mode = "code"
            current, column = current + 1, 1
            continue
        if current == line:
            starts.append(column)
        if mode == "code":
            if ch == '"':
                mode = "string"
            elif ch == "`":
                mode = "raw"
            elif ch == "#":
                mode = "comment"
            column += 4 if ch == "\t" else 0 if ch == "\r" else len(ch.encode())
        elif mode == "string":
            column += len(ch.encode())
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                mode = "code"
        elif mode == "raw":
            column += 4 if ch == "\t" else 1
            if ch == "`":
                mode = "code"
        else:  # comment: nothing after it on this line can be reported
            column += 1
    if current < line:
        return None
    return starts, column
