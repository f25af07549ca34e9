"""A self-contained HTML report: claims table first, then one section per experiment.

Figures are embedded as base64 PNG, so ``report.html`` opens anywhere with no other file.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import to_json, write_text
from .base import Claim

__all__ = ["Link", "Section", "Table", "build_report"]


@dataclass(frozen=True)
class Link:
    """A table cell that links to another file (e.g. a sweep point's own report)."""

    text: str
    href: str


@dataclass
class Table:
    caption: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Section:
    title: str
    paragraphs: Sequence[str] = ()
    figures: Sequence[tuple[Path, str]] = ()  # (png path, caption)
    tables: Sequence[Table] = ()
    config: dict[str, Any] = field(default_factory=dict)
    #: parts of the section, each drawn after the section's own tables under a smaller heading
    subsections: Sequence[Section] = ()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}caption{text-align:left;font-weight:600;padding:.3em 0}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}
.ok{color:#0a7a2a;font-weight:600}.bad{color:#b00020;font-weight:600}.na{color:#666}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
"""


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"  # metrics.json holds null for a number with no finite value
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _cell(c: Any) -> str:
    if isinstance(c, Link):
        return f'<a href="{html.escape(c.href, quote=True)}">{html.escape(c.text)}</a>'
    return html.escape(_fmt(c))


def _table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in t.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return f"<table><caption>{html.escape(t.caption)}</caption><tr>{head}</tr>{body}</table>"


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _claims(claims: Sequence[Claim]) -> str:
    rows = []
    for c in claims:
        if c.holds is None:
            verdict = '<span class="na">measured</span>'
        elif c.holds:
            verdict = '<span class="ok">holds</span>'
        else:
            verdict = '<span class="bad">does not hold</span>'
        rows.append(
            f"<tr><td>{html.escape(c.claim)}</td><td>{html.escape(c.check)}</td>"
            f"<td>{html.escape(c.result)}</td><td>{verdict}</td></tr>"
        )
    return (
        "<table><caption>The paper's claims, and what kadanoff finds</caption>"
        "<tr><th>Claim (Mehta &amp; Schwab 2014)</th><th>How kadanoff checks it</th>"
        "<th>Result</th><th>Verdict</th></tr>" + "".join(rows) + "</table>"
    )


def _section(s: Section, level: int) -> list[str]:
    parts = [f"<h{level}>{html.escape(s.title)}</h{level}>"]
    parts += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
    parts += [_img(p, c) for p, c in s.figures]
    parts += [_table(t) for t in s.tables]
    for sub in s.subsections:
        parts += _section(sub, level=min(level + 1, 6))
    if s.config:
        parts.append(
            f"<details><summary>Configuration</summary><pre>"
            f"{html.escape(to_json(s.config, indent=2))}</pre></details>"
        )
    return parts


def build_report(
    path: Path,
    *,
    title: str,
    intro: str,
    claims: Sequence[Claim],
    sections: Sequence[Section],
    info: dict[str, Any],
) -> Path:
    """Write the report to ``path`` atomically and return it."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>",
    ]
    if claims:
        parts.append(_claims(claims))
    for s in sections:
        parts += _section(s, level=2)
    parts.append("<h2>Run information</h2><pre>" + html.escape(to_json(info, indent=2)) + "</pre>")
    parts.append("</body></html>")
    write_text(path, "\n".join(parts))
    return path
