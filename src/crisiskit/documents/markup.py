"""Markdown → HTML and Markdown → Typst: the two renderings of one document source.

Every document is written once, as Markdown (a Jinja2 template), then parsed by markdown-it
(CommonMark + tables + Pandoc-style fenced divs `::: name`) and rendered from the same syntax
tree to HTML and to Typst source for the PDF. So the three outputs cannot drift apart.

Conventions the templates rely on:
- a code span is an identifier (UPN, serial, IMEI, asset tag, pass): never broken across lines;
- an autolink `<https://…>` prints the address in full, breakable only after "/" or before
  "?", "&" and "#", never inside a segment;
- fenced divs give a block its role: `identite` (the Métropole's identity block), `encadre`
  (boxed notice), `avertissement` (warning), `signatures` (signature table), `emargement`
  (one row per recipient, tall enough to sign), `page` (one printed page), `insecable` (kept
  on one page), `grand` (large print: a pass to type), `retex` and `actions` (tables left
  blank for observers to write in: a wide first column, the last one(s) for a name, a date).

Raw HTML in the Markdown is not interpreted (it is printed as text), so a value can never
inject markup into the HTML or the PDF.
"""

from __future__ import annotations

import base64
import functools
import html
import re
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

BLOCKS = (
    "identite", "encadre", "avertissement", "signatures", "emargement", "page", "insecable",
    "grand", "retex", "actions",
)
_URL_SPLIT = re.compile(r"(?<=/)(?!/)|(?=[?&#])")


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.container import container_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    for name in BLOCKS:
        md.use(container_plugin, name=name)
    return md


@functools.lru_cache(maxsize=8)
def parse(markdown: str) -> Any:
    """Parse Markdown into markdown-it's syntax tree (a `SyntaxTreeNode` root).

    Kept for the last few documents: each one is rendered to HTML and then to Typst from the
    same Markdown, and the renderers only read the tree.
    """
    from markdown_it.tree import SyntaxTreeNode

    return SyntaxTreeNode(_parser().parse(markdown))


def url_segments(url: str) -> list[str]:
    """Split an address where it may break: after "/" (not inside "//"), before "?", "&", "#"."""
    return [part for part in _URL_SPLIT.split(url) if part]


def is_url(text: str) -> bool:
    return text.startswith(("https://", "http://"))


def _text(node: Any) -> str:
    """Return the plain text of an inline subtree."""
    if node.type in ("text", "code_inline"):
        return str(node.content)
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_text(child) for child in node.children)


# ------------------------------------------------------------------------------------- HTML


# The images a document embeds (name → PNG bytes), for the render in progress.
_NO_IMAGES: Mapping[str, bytes] = MappingProxyType({})
_IMAGES: ContextVar[Mapping[str, bytes]] = ContextVar("crisiskit_images", default=_NO_IMAGES)


def to_html(markdown: str, images: Mapping[str, bytes] | None = None) -> str:
    """Render a document's Markdown as an HTML fragment (the body of the page).

    `![text](name.png)` embeds `images[name.png]` as a data URL (the page stays one file, no
    script); an image the document does not carry prints its text.
    """
    token = _IMAGES.set(images or _NO_IMAGES)
    try:
        return "".join(_html_block(child) for child in parse(markdown).children)
    finally:
        _IMAGES.reset(token)


def _html_url(url: str) -> str:
    parts = "<wbr>".join(html.escape(p) for p in url_segments(url))
    return f'<a class="url" href="{html.escape(url)}">{parts}</a>'


def _html_inline(node: Any) -> str:
    kind = node.type
    if kind == "text":
        return html.escape(node.content, quote=False)
    if kind == "softbreak":
        return "\n"
    if kind == "hardbreak":
        return "<br>\n"
    if kind == "code_inline":
        if is_url(node.content):
            return _html_url(node.content)
        return f'<span class="id">{html.escape(node.content)}</span>'
    if kind == "link":
        href = str(node.attrs.get("href", ""))
        if node.markup == "autolink" and is_url(href):
            return _html_url(href)
        inner = "".join(_html_inline(c) for c in node.children)
        return f'<a href="{html.escape(href)}">{inner}</a>'
    if kind in ("strong", "em", "s"):
        inner = "".join(_html_inline(c) for c in node.children)
        return f"<{node.tag}>{inner}</{node.tag}>"
    if kind == "image":
        src = str(node.attrs.get("src", ""))
        data = _IMAGES.get().get(src)
        if data is None:
            return html.escape(_text(node))
        encoded = base64.b64encode(data).decode("ascii")
        return (f'<img class="figure" alt="{html.escape(_text(node))}" '
                f'src="data:image/png;base64,{encoded}">')
    return "".join(_html_inline(c) for c in node.children)


def _html_block(node: Any) -> str:
    kind = node.type
    if kind == "inline":
        return "".join(_html_inline(c) for c in node.children)
    if kind == "paragraph":
        inner = "".join(_html_block(c) for c in node.children)
        return inner if node.hidden else f"<p>{inner}</p>\n"
    if kind == "heading":
        inner = "".join(_html_block(c) for c in node.children)
        return f"<{node.tag}>{inner}</{node.tag}>\n"
    if kind in ("fence", "code_block"):
        return f"<pre>{html.escape(node.content)}</pre>\n"
    if kind == "hr":
        return "<hr>\n"
    if kind.startswith("container_"):
        inner = "".join(_html_block(c) for c in node.children)
        return f'<div class="{kind.removeprefix("container_")}">\n{inner}</div>\n'
    if kind == "ordered_list" and node.attrs.get("start", 1) != 1:
        inner = "".join(_html_block(c) for c in node.children)
        return f'<ol start="{int(node.attrs["start"])}">\n{inner}</ol>\n'
    if kind == "thead" and not "".join(_text(c) for c in node.children).strip():
        return ""
    if kind in ("td", "th"):
        inner = "".join(_html_block(c) for c in node.children)
        return f"<{node.tag}>{inner}</{node.tag}>"
    inner = "".join(_html_block(c) for c in node.children)
    if node.tag:
        return f"<{node.tag}>\n{inner}</{node.tag}>\n"
    return inner


# ------------------------------------------------------------------------------------ Typst


def typst_string(value: str) -> str:
    """Return `value` as a Typst string literal: printed as is, never read as markup."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    )
    return f'"{escaped}"'


def to_typst(markdown: str, images: Mapping[str, bytes] | None = None) -> str:
    """Render a document's Markdown as Typst source (functions from the page preamble).

    An image the document carries is read from the compilation's root, where `pdf` puts it.
    """
    token = _IMAGES.set(images or _NO_IMAGES)
    try:
        return "".join(_typst_block(child) for child in parse(markdown).children)
    finally:
        _IMAGES.reset(token)


def _typst_url(url: str) -> str:
    segments = ", ".join(typst_string(p) for p in url_segments(url))
    return f"#weburl({typst_string(url)}, ({segments},))"


def _typst_inline(node: Any) -> str:
    kind = node.type
    if kind == "text":
        return f"#{typst_string(node.content)}" if node.content else ""
    if kind == "softbreak":
        return '#" "'
    if kind == "hardbreak":
        return "#linebreak()"
    if kind == "code_inline":
        if is_url(node.content):
            return _typst_url(node.content)
        text = node.content
        known = text.isascii() and text.isprintable()  # fixed-width glyphs: page.typ's ident
        return f"#ident({typst_string(text)}{f', n: {len(text)}' if known else ''})"
    if kind == "link":
        href = str(node.attrs.get("href", ""))
        if node.markup == "autolink" and is_url(href):
            return _typst_url(href)
        inner = "".join(_typst_inline(c) for c in node.children)
        return f"#link({typst_string(href)})[{inner}]"
    if kind == "strong":
        return "#strong[" + "".join(_typst_inline(c) for c in node.children) + "]"
    if kind == "em":
        return "#emph[" + "".join(_typst_inline(c) for c in node.children) + "]"
    if kind == "s":
        return "#strike[" + "".join(_typst_inline(c) for c in node.children) + "]"
    if kind == "image":
        src = str(node.attrs.get("src", ""))
        if src in _IMAGES.get() and re.fullmatch(r"[a-z0-9][a-z0-9._-]*\.png", src):
            return f"#image({typst_string('/' + src)}, width: 100%)"
        return f"#{typst_string(_text(node))}"
    return "".join(_typst_inline(c) for c in node.children)


def _content(nodes: Any) -> str:
    return "[" + "".join(_typst_block(c) for c in nodes).strip() + "]"


def _pieces(node: Any, idents: list[str], words: list[str]) -> None:
    """Collect a cell's unbreakable pieces: its identifiers and the words of its text."""
    if node.type == "code_inline":
        idents.append(str(node.content))
    elif node.type == "text":
        words.extend(node.content.split())
    for child in node.children:
        _pieces(child, idents, words)


def _column_spec(rows: list[list[Any]], header: bool) -> str:
    """Return, per column, its widest unbreakable pieces (Typst: `(ident, word, header)`).

    The page preamble measures them to give each column at least that width, so that an
    identifier is never squeezed, then shares the rest of the line by the cells' lengths.
    """
    columns = max(len(r) for r in rows)
    spec = []
    for i in range(columns):
        cells = [r[i] for r in rows if i < len(r)]
        head, body = (cells[:1], cells[1:]) if header else ([], cells)
        idents: list[str] = []
        words: list[str] = []
        head_words: list[str] = []
        for cell in body:
            _pieces(cell, idents, words)
        for cell in head:
            _pieces(cell, [], head_words)
        longest = [max(group, key=len, default="") for group in (idents, words, head_words)]
        spec.append("(" + ", ".join(typst_string(p) for p in longest) + ")")
    return "(" + ", ".join(spec) + ",)"


def _typst_table(node: Any) -> str:
    header: list[str] = []
    rows: list[list[str]] = []
    nodes: list[list[Any]] = []
    for section in node.children:
        for tr in section.children:
            cells = [_content(cell.children) for cell in tr.children]
            if section.type == "thead":
                if any(c != "[]" for c in cells):
                    header = cells
                    nodes.append(list(tr.children))
            else:
                rows.append(cells)
                nodes.append(list(tr.children))
    columns = max([len(header)] + [len(r) for r in rows] + [1])
    body = [cell for row in rows for cell in row + ["[]"] * (columns - len(row))]
    head = "(" + "".join(f"{c}, " for c in header) + ")"
    spec = _column_spec(nodes, bool(header))
    return f"#doctable({spec}, {head}, {', '.join(body)})\n\n"


def _typst_block(node: Any) -> str:
    kind = node.type
    if kind == "inline":
        return "".join(_typst_inline(c) for c in node.children)
    if kind == "paragraph":
        inner = "".join(_typst_block(c) for c in node.children)
        return inner if node.hidden else f"{inner}\n\n"
    if kind == "heading":
        level = int(node.tag[1:])
        return f"#heading(level: {level})[{''.join(_typst_block(c) for c in node.children)}]\n\n"
    if kind in ("fence", "code_block"):
        return f"#raw(block: true, {typst_string(node.content.rstrip())})\n\n"
    if kind == "hr":
        return "#line(length: 100%, stroke: 0.5pt + luma(160))\n\n"
    if kind in ("bullet_list", "ordered_list"):
        items = ", ".join(_content(item.children) for item in node.children)
        if kind == "bullet_list":
            return f"#list({items})\n\n"
        start = int(node.attrs.get("start", 1))
        return f"#enum(start: {start}, {items})\n\n"
    if kind == "table":
        return _typst_table(node)
    if kind == "blockquote":
        return f"#quote(block: true){_content(node.children)}\n\n"
    if kind.startswith("container_"):
        return f"#block-{kind.removeprefix('container_')}{_content(node.children)}\n\n"
    return "".join(_typst_block(c) for c in node.children)
