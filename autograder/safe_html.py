"""Student text to HTML that cannot run: Markdown with its TeX as MathML, and outputs.

Everything a student wrote or printed reaches the instructor's and the student's
browser through here:

- Markdown is rendered by mistune with raw HTML *escaped* (``<script>`` shows as text),
  and every formula (``$...$``, ``$$...$$``) is converted to MathML by latex2mathml when
  the page is written, so pages need no MathJax, no network and no script;
- whatever comes out (Markdown, MathML, ``text/html`` outputs) passes bleach with an
  allow-list of tags and attributes: no script, no event handlers, no ``javascript:``
  URLs, no styles, no remote images (pages stay self-contained).
"""

from __future__ import annotations

import base64
import html
import re

import bleach
from markupsafe import Markup

#: Inline and display formulas as JupyterLab reads them.
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+(?:\n[^$\n]+)*?\$", re.DOTALL)

HTML_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
    "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "u", "ul",
}  # fmt: skip
MATHML_TAGS = {
    "math", "maction", "menclose", "merror", "mfenced", "mfrac", "mi", "mmultiscripts", "mn",
    "mo", "mover", "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace",
    "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder",
    "munderover", "none", "semantics", "annotation",
}  # fmt: skip
MATHML_ATTRS = [
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
    "accent", "accentunder", "columnalign", "rowspacing", "columnspacing", "linethickness",
    "displaystyle", "scriptlevel", "width", "height", "depth", "minsize", "maxsize",
    "movablelimits", "notation", "open", "close", "separators", "encoding", "symmetric", "alttext",
    "largeop", "form",
]  # fmt: skip


def _attribute_ok(tag, name, value):
    if tag in MATHML_TAGS:
        return name in MATHML_ATTRS or name == "xmlns"
    if name in ("title", "id", "class", "colspan", "rowspan", "align", "start", "open"):
        return True
    if tag == "a" and name == "href":
        return bool(re.match(r"^(https?:|mailto:|#)", value.strip(), re.IGNORECASE))
    if tag == "img" and name in ("src", "alt", "width", "height"):
        # embedded images only: a page never fetches anything
        return name != "src" or value.startswith("data:image/")
    return False


def clean(text):
    """Sanitize an HTML fragment (allow-listed tags; disallowed ones shown as text)."""
    out = bleach.clean(
        text,
        tags=HTML_TAGS | MATHML_TAGS,
        attributes=_attribute_ok,
        protocols=["http", "https", "mailto", "data"],
        strip=False,
        strip_comments=True,
    )
    return Markup(out)  # noqa: S704 - sanitized just above


def tex_to_mathml(tex, display=False):
    """MathML for a TeX formula (without its dollars); the TeX in <code> if it fails."""
    import latex2mathml.converter

    try:
        out = latex2mathml.converter.convert(tex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - a formula the converter cannot read stays readable
        return f'<code class="tex">{html.escape(tex)}</code>'
    alt = html.escape(tex, quote=True)
    return out.replace("<math ", f'<math alttext="{alt}" ', 1)


def _formula(source):
    """A ``$...$`` or ``$$...$$`` formula as MathML and nothing else: latex2mathml passes
    the HTML of a ``\\text{...}`` through, so any other tag is shown as text."""
    display = source.startswith("$$")
    tex = source[2:-2] if display else source[1:-1]
    mathml = tex_to_mathml(tex.strip(), display)
    if mathml.startswith("<code"):
        return mathml
    return bleach.clean(
        mathml, tags=MATHML_TAGS, attributes=_attribute_ok, strip=False, strip_comments=True
    )


def markdown(text):
    r"""Markdown to safe HTML, each formula as MathML.

    Formulas are set aside before Markdown runs (it would read ``\,`` as an escaped
    comma and ``_`` as emphasis) and put back, converted, afterwards.
    """
    import mistune

    formulas = []

    def hold(m):
        formulas.append(m.group(0))
        return f"MATHPLACEHOLDER{len(formulas) - 1}X"

    render = mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])
    out = render(MATH.sub(hold, text or ""))
    out = re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: _formula(formulas[int(m.group(1))]), out)
    return clean(out)


def inline_math(text):
    """A line of plain text (a heading, a question's title) as safe HTML: the text
    escaped, each ``$...$`` in it as MathML (e.g. "2. The graph $f = x\\,(y^2 + z)$")."""
    parts, last = [], 0
    for m in MATH.finditer(text or ""):
        parts += [html.escape(text[last : m.start()]), _formula(m.group(0))]
        last = m.end()
    parts.append(html.escape((text or "")[last:]))
    return clean("".join(parts))


def latex_output(text):
    """A ``text/latex`` output (usually ``$...$`` or ``$$...$$``) as MathML."""
    text = (text or "").strip()
    if MATH.fullmatch(text):
        return clean(_formula(text))
    return clean(tex_to_mathml(text.strip("$"), display=True))


def image_data_uri(mime, data):
    """An embedded image: base64 PNG/JPEG as given; SVG encoded (an <img> runs no script)."""
    if mime == "image/svg+xml":
        data = base64.b64encode(data.encode("utf-8")).decode("ascii")
    else:
        data = re.sub(r"\s+", "", data if isinstance(data, str) else "")
    return f"data:{mime};base64,{data}"
