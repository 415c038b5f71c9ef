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
_VOID = {"br", "hr", "img", "input", "source", "embed", "meta", "link", "area", "base", "col", "wbr", "track"}


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.replace(")", "%29").replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


class _Converter(HTMLParser):
    def __init__(self, *, markdown: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.markdown = markdown
        self.out: list[str] = []
        self.drop_depth = 0
        self.link_stack: list[tuple[str | None, int]] = []  # (url, index in out where the text starts)
        self.list_stack: list[str] = []
        self.pre = 0

    # -- helpers
    def _newlines(self, count: int) -> None:
        text = "".join(self.out)
        existing = len(text) - len(text.rstrip("\n"))
        if text.strip():
            self.out.append("\n" * max(0, count - existing))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            if tag not in _VOID:
                self.drop_depth += 1
            return
        if self.drop_depth:
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in _BLOCK:
            self._newlines(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre") else 1)
            if tag in ("ul", "ol"):
                self.list_stack.append(tag)
            if tag == "pre":
                self.pre += 1
            if tag.startswith("h") and self.markdown:
                self.out.append("**")
        elif tag == "li":
            self._newlines(1)
            self.out.append("• ")
        elif tag == "a":
            url = _safe_url(dict(attrs).get("href"))
            self.link_stack.append((url if self.markdown else None, len(self.out)))
        elif self.markdown and tag in ("strong", "b"):
            self.out.append("**")
        elif self.markdown and tag in ("em", "i"):
            self.out.append("*")
        elif self.markdown and tag == "code" and not self.pre:
            self.out.append("`")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            if tag not in _VOID and self.drop_depth:
                self.drop_depth -= 1
            return
        if self.drop_depth:
            return
        if tag in _BLOCK:
            if tag.startswith("h") and self.markdown:
                self.out.append("**")
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
                self.out.append(f"[{label}]({url})")
            else:
                self.out.append(text)
        elif self.markdown and tag in ("strong", "b"):
            self.out.append("**")
        elif self.markdown and tag in ("em", "i"):
            self.out.append("*")
        elif self.markdown and tag == "code" and not self.pre:
            self.out.append("`")

    def handle_data(self, data: str) -> None:
        if self.drop_depth:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        if self.markdown:
            data = escape(data)
        else:
            data = escape(data, markdown=False)
        self.out.append(data)


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"\*\*\s*\*\*", "", text)  # empty bold from empty headings
    return text.strip()


def html_to_markdown(html: str | None, *, limit: int = 1000) -> str:
    """Hub HTML -> Discord markdown within ``limit`` characters ("" for nothing)."""
    if not html:
        return ""
    converter = _Converter(markdown=True)
    try:
        converter.feed(html)
        converter.close()
    except Exception:  # HTMLParser is lenient; this is a last resort for pathological input
        return truncate(escape(re.sub(r"<[^>]*>", " ", unescape(html))), limit)
    return truncate(_tidy("".join(converter.out)), limit)


def html_to_text(html: str | None, *, limit: int = 300) -> str:
    """Hub HTML -> plain text (an excerpt: no links, no formatting) within ``limit`` characters."""
    if not html:
        return ""
    converter = _Converter(markdown=False)
    try:
        converter.feed(html)
        converter.close()
    except Exception:
        return truncate(escape(re.sub(r"<[^>]*>", " ", unescape(html)), markdown=False), limit)
    text = _tidy("".join(converter.out))
    return truncate(re.sub(r"\s*\n\s*", " ", text), limit)
