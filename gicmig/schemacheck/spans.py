"""protoc's source spans, put where buf's compiler puts them.

gicmig compiles with protoc; buf with its own compiler. Their spans differ in two ways
that move a finding's column, and both are corrected here from the source text, once,
when a folder is compiled:

* columns: protoc counts bytes and advances a tab to the next multiple of 8; buf counts
  characters and advances a tab to the next multiple of 4 (measured with buf 1.75: corpus
  case 77). Files that are plain ASCII without tabs need nothing.
* `[default = VALUE]`: protoc records only the value's span; buf spans the whole option
  from the `default` keyword, which is where its FIELD_SAME_DEFAULT points.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gicmig.schemacheck import descriptors as d

PROTOC_TAB, BUF_TAB = 8, 4  # tab stops of protoc's tokenizer and of buf's compiler


def as_buf(fds: Any, paths: Mapping[str, Path]) -> None:
    """Rewrite, in place, the spans of every file of `fds` whose source is in `paths`."""
    for file in fds.file:
        path = paths.get(file.name)
        if path is None:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        lines = text.split("\n")
        cols = None if text.isascii() and "\t" not in text else _Columns(lines)
        wanted = set(_default_paths(file))
        if cols is None and not wanted:
            continue
        for loc in file.source_code_info.location:
            span = list(loc.span)
            if len(span) not in (3, 4):
                continue
            end_line = span[0] if len(span) == 3 else span[2]
            if cols is not None:  # character indexes from here on
                span[1], span[-1] = cols.index(span[0], span[1]), cols.index(end_line, span[-1])
            if tuple(loc.path) in wanted:
                start = _keyword_before(lines, span[0], span[1], "default")
                if start is not None:
                    span[0], span[1] = start
            if cols is not None:
                span[1], span[-1] = cols.buf(span[0], span[1]), cols.buf(end_line, span[-1])
            loc.span[:] = span


class _Columns:
    """protoc column <-> character index <-> buf column, line by line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._protoc: dict[int, dict[int, int]] = {}

    def index(self, line: int, column: int) -> int:
        if line >= len(self.lines):
            return column
        table = self._protoc.get(line)
        if table is None:
            table, col = {}, 0
            for i, ch in enumerate(self.lines[line]):
                table[col] = i
                col = col + PROTOC_TAB - col % PROTOC_TAB if ch == "\t" else \
                    col + len(ch.encode())
            table[col] = len(self.lines[line])
            self._protoc[line] = table
        return table.get(column, column)

    def buf(self, line: int, index: int) -> int:
        if line >= len(self.lines):
            return index
        col = 0
        for ch in self.lines[line][:index]:
            col = col + BUF_TAB - col % BUF_TAB if ch == "\t" else col + 1
        return col


def _default_paths(file: Any) -> Iterator[tuple[int, ...]]:
    def fields(owner: Any, path: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        for tag, items in ((d.M_FIELD, owner.field), (d.M_EXTENSION, owner.extension)):
            for i, f in enumerate(items):
                if f.HasField("default_value"):
                    yield (*path, tag, i, d.FLD_DEFAULT)
        for i, m in enumerate(owner.nested_type):
            yield from fields(m, (*path, d.M_NESTED, i))

    for i, m in enumerate(file.message_type):
        yield from fields(m, (d.F_MESSAGE, i))
    for i, x in enumerate(file.extension):
        if x.HasField("default_value"):
            yield (d.F_EXTENSION, i, d.FLD_DEFAULT)


def _keyword_before(lines: list[str], line: int, column: int,
                    keyword: str) -> tuple[int, int] | None:
    """(line, column) of `keyword` in `keyword = <line:column>` (columns are character
    indexes), or None where the text before the value is not that."""
    if line >= len(lines):
        return None
    at, seen_equals = column, False
    while line >= 0:
        text = lines[line][:at].rstrip()
        if not text:  # the option continues from an earlier line
            line -= 1
            at = len(lines[line]) if line >= 0 else 0
            continue
        if not seen_equals:
            if not text.endswith("="):
                return None
            seen_equals, at = True, len(text) - 1
            continue
        start = len(text) - len(keyword)
        if not text.endswith(keyword) or (start > 0 and (text[start - 1].isalnum()
                                                         or text[start - 1] == "_")):
            return None
        return line, start
    return None
