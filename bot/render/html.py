"""Hub HTML (model descriptions, article bodies) -> short, safe Discord markdown or plain text.

Links are kept as ``[text](url)`` (http/https only), paragraphs and line breaks become newlines, lists
become bullets, bold/italic/code are kept; scripts, styles, images, iframes and media are dropped; all
text is markdown-escaped and mentions are neutralised. The result is cut to a character budget.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from bot.render.text import escape, truncate

_DROP = {"script", "style", "img", "iframe", "video", "audio", "source", "object", "embed", "svg", "noscript",
         "picture", "canvas", "template", "head", "title", "form", "input", "button"}
_BLOCK = {"p", "div", "section", "article", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table",
          "tr", "pre", "hr"}
_INLINE = {"strong": "**", "b": "**", "em": "*", "i": "*", "code": "`"}
_VOID = {"br", "hr", "img", "input", "source", "embed", "meta", "link", "area", "base", "col", "wbr", "track"}


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.replace(")", "%29").replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


MAX_HTML = 200_000  # characters of hub HTML looked at; descriptions are cut far shorter anyway


class _Enough(Exception):
    """The output is already longer than will be shown."""


class _Converter(HTMLParser):
    def __init__(self, *, markdown: bool, budget: int) -> None:
        super().__init__(convert_charrefs=True)
        self.markdown = markdown
        self.budget = budget
        self.length = 0
        self.out: list[str] = []
        self.drop_depth = 0
        self.link_stack: list[tuple[str | None, int]] = []  # (url, index in out where the text starts)
        self.list_stack: list[str] = []
        self.pre = 0

    # -- helpers
    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.length += len(text)
        if self.length > self.budget and not self.link_stack:
            raise _Enough

    def _newlines(self, count: int) -> None:
        """End the current block with ``count`` newlines in all (none at the very start)."""
        existing = 0
        for piece in reversed(self.out):  # only the tail is looked at: linear in the output
            stripped = piece.rstrip("\n")
            existing += len(piece) - len(stripped)
            if stripped:
                break
        else:
            return  # nothing but newlines so far: no blank lines at the start
        if count > existing:
            self._emit("\n" * (count - existing))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            if tag not in _VOID:
                self.drop_depth += 1
            return
        if self.drop_depth:
            return
        if tag == "br":
            self._emit("\n")
        elif tag in _BLOCK:
            self._newlines(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre") else 1)
            if tag in ("ul", "ol"):
                self.list_stack.append(tag)
            if tag == "pre":
                self.pre += 1
            if tag.startswith("h") and self.markdown:
                self._emit("**")
        elif tag == "li":
            self._newlines(1)
            self._emit("• ")
        elif tag == "a":
            url = _safe_url(dict(attrs).get("href"))
            self.link_stack.append((url if self.markdown else None, len(self.out)))
        else:
            self._inline(tag)

    def _inline(self, tag: str) -> None:
        """Bold, italics and code: the same marker opens and closes."""
        marker = _INLINE.get(tag) if self.markdown else None
        if marker and not (tag == "code" and self.pre):
            self._emit(marker)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            if tag not in _VOID and self.drop_depth:
                self.drop_depth -= 1
            return
        if self.drop_depth:
            return
        if tag in _BLOCK:
            if tag.startswith("h") and self.markdown:
                self._emit("**")
            if tag in ("ul", "ol") and self.list_stack:
                self.list_stack.pop()
            if tag == "pre" and self.pre:
                self.pre -= 1
            self._newlines(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre") else 1)
        elif tag == "a" and self.link_stack:
            url, start = self.link_stack.pop()
            text = "".join(self.out[start:]).strip()
            del self.out[start:]
            if not text:  # a link around an image (a banner): nothing left to show
                return
            if url and text != url:
                label = text.replace("[", "\\[").replace("]", "\\]")
                self._emit(f"[{label}]({url})")
            else:
                self._emit(text)
        else:
            self._inline(tag)

    def handle_data(self, data: str) -> None:
        if self.drop_depth:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        self._emit(escape(data) if self.markdown else escape(data, markdown=False))


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"\*\*\s*\*\*", "", text)  # empty bold from empty headings
    return text.strip()


def _convert(html: str, *, markdown: bool, limit: int) -> str:
    converter = _Converter(markdown=markdown, budget=limit * 2 + 200)
    try:
        converter.feed(html[:MAX_HTML])
        converter.close()
    except _Enough:
        pass
    return _tidy("".join(converter.out))


def html_to_markdown(html: str | None, *, limit: int = 1000) -> str:
    """Hub HTML -> Discord markdown within ``limit`` characters ("" for nothing)."""
    if not html:
        return ""
    try:
        text = _convert(html, markdown=True, limit=limit)
    except Exception:  # HTMLParser is lenient; this is a last resort for pathological input
        return truncate(escape(re.sub(r"<[^>]*>", " ", unescape(html[:MAX_HTML]))), limit)
    return truncate(text, limit)


def html_to_text(html: str | None, *, limit: int = 300) -> str:
    """Hub HTML -> plain text (an excerpt: no links, no formatting) within ``limit`` characters."""
    if not html:
        return ""
    try:
        text = _convert(html, markdown=False, limit=limit)
    except Exception:
        return truncate(escape(re.sub(r"<[^>]*>", " ", unescape(html[:MAX_HTML])), markdown=False), limit)
    return truncate(re.sub(r"\s*\n\s*", " ", text), limit)


def excerpt(html: str | None, *, limit: int = 200, skip: str | None = None) -> str:
    """About ``limit`` characters of plain text from hub HTML, for a summary: scripts, styles, images,
    iframes and other media dropped, entities decoded, whitespace collapsed, mentions neutralised, and
    cut after the last whole word that fits (an ellipsis marks the cut). ``skip``: a heading at the
    start that repeats this text (an article repeating its own title) is left out. Not markdown-escaped:
    escape it where markdown is rendered."""
    if not html:
        return ""
    budget = limit + len(skip or "") + 20
    try:
        text = _convert(html, markdown=False, limit=budget)
    except Exception:  # HTMLParser is lenient; this is a last resort for pathological input
        text = escape(re.sub(r"<[^>]*>", " ", unescape(html[:MAX_HTML])), markdown=False)
    text = " ".join(text.split())
    lead = " ".join((skip or "").split())
    if lead and text.lower().startswith(lead.lower()):
        text = text[len(lead):].lstrip(" :.-–—")
    return cut_on_word(text, limit)


def cut_on_word(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut after the last whole word that fits (with an
    ellipsis); a single word longer than that is cut inside."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    cut = text[:limit]  # one more than fits with the ellipsis: is the character after the cut a space?
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[:limit - 1]
    return cut.rstrip(" ,;:.-–—") + "…"
