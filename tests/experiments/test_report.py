"""The HTML report: claims table first, every figure embedded and decodable."""

import base64
import io
from html.parser import HTMLParser

import numpy as np

from kadanoff.experiments.base import Claim
from kadanoff.experiments.report import Section, Table, build_report


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.first_table_text = [], 0, []
        self._in_first = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag == "table":
            self.tables += 1
            self._in_first = self.tables == 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_first = False

    def handle_data(self, data):
        if self._in_first:
            self.first_table_text.append(data)


def decode_images(html_text):
    import matplotlib.image as mpimg

    p = _Collect()
    p.feed(html_text)
    images = []
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        images.append(mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), "png"))
    return p, images


def test_report_embeds_figures_and_opens_with_claims(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = tmp_path / "f.png"
    fig.savefig(png)
    plt.close(fig)
    path = build_report(
        tmp_path / "report.html",
        title="t",
        intro="i",
        claims=[Claim("a <claim>", "check", "result", True), Claim("b", "c", "r", None)],
        sections=[Section("s", ["para"], [(png, "cap")], [Table("tab", ["x"], [[1.5]])])],
        info={"seed": 1},
    )
    text = path.read_text()
    parser, images = decode_images(text)
    assert len(images) == 1 and images[0].ndim == 3 and np.isfinite(images[0]).all()
    assert "a <claim>" in "".join(parser.first_table_text)  # escaped, and in the first table
    assert "&lt;claim&gt;" in text
