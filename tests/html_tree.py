"""A small DOM built with the standard library's HTML parser, for the page tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else ("\n" if c.tag == "br" else c.text())
                       for c in self.children)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> list[Node]:
        out = [self]
        for c in self.children:
            if isinstance(c, Node):
                out += c.walk()
        return out


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.unclosed: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                self.unclosed += [n.tag for n in self.stack[i + 1:]]
                del self.stack[i:]
                return
        raise AssertionError(f"</{tag}> closes nothing")

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass
class Page:
    root: Node
    by_id: dict[str, Node]

    def all(self, tag: str) -> list[Node]:
        return [n for n in self.root.walk() if n.tag == tag]


def parse(html: str) -> Page:
    """Parse a page; every element closed, every id unique."""
    b = _Builder()
    b.feed(html)
    b.close()
    assert b.unclosed == [], f"elements left open: {b.unclosed[:5]}"
    assert [n.tag for n in b.stack] == ["#document"], "elements left open at the end"
    by_id: dict[str, Node] = {}
    for n in b.root.walk():
        if "id" in n.attrs:
            assert n.attrs["id"] not in by_id, f"duplicate id {n.attrs['id']}"
            by_id[n.attrs["id"]] = n
    return Page(b.root, by_id)
