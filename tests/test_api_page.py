"""The API page reads as documentation: readable signatures, and nothing wider than the column.

book/api.md is rendered here with the book's Sphinx settings (a few seconds, no notebooks);
a built book's page, where one is present and newer than its sources, is checked too, and
measured in headless Chromium at 1280 px where Chromium is installed."""

import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import CHROMIUM, measure_in_chromium

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "book" / "api.md", ROOT / "_config.yml"]
BUILT = [
    ROOT / "build" / profile / "site" / "_build" / "html" / "book" / "api.html"
    for profile in ("cpu", "smoke")
]
# what Sphinx prints when it cannot write a default or a type as source
UNREADABLE = ("<function ", "<factory>", "~torch.", " object at 0x")
# the longest word a table cell may hold: `code` does not wrap inside a word
LONGEST_CELL_WORD = 30
COLUMN_PX = 676  # sphinx-book-theme's content column in a 1280 px window


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def check_readable(page: str) -> None:
    signatures = re.findall(r'<dt class="sig sig-object py".*?</dt>', page, re.S)
    assert len(signatures) > 50, "the page documents too few objects"
    for signature in signatures:
        words = text_of(signature)
        for bad in UNREADABLE:
            assert bad not in words, f"unreadable signature: {' '.join(words.split())}"
    fit = next(s for s in signatures if 'id="kdutils.train.fit"' in s)
    assert "objective: Callable" in text_of(fit)
    assert "= cross_entropy_objective" in text_of(fit)


def check_tables(page: str) -> None:
    tables = re.findall(r"<table.*?</table>", page, re.S)
    assert tables, "the page has no table"
    for table in tables:
        columns = len(re.findall(r"<th\b", re.search(r"<tr.*?</tr>", table, re.S)[0]))
        assert columns <= 3, f"a table of {columns} columns does not fit the column"
        words = re.findall(r'<span class="pre">([^<]*)</span>', table)
        longest = max((html.unescape(w) for w in words), key=len, default="")
        assert len(longest) <= LONGEST_CELL_WORD, f"a table cell holds `{longest}`"
    text = " ".join(text_of(page).split())
    for library in ("Hugging Face", "torchdistill", "Keras", "DistillationTrainer"):
        assert library in text


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> str:
    """book/api.md rendered by Sphinx with the book's settings (not its theme)."""
    book = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    src = tmp_path_factory.mktemp("api")
    shutil.copy(ROOT / "book" / "api.md", src / "api.md")
    conf = {"extensions": ["myst_parser", *book["extra_extensions"]]}
    conf |= {k: v for k, v in book["config"].items() if k.startswith(("autodoc", "py"))}
    conf |= {k: v for k, v in book["config"].items() if k == "add_module_names"}
    (src / "conf.py").write_text(
        "".join(f"{k} = {v!r}\n" for k, v in conf.items()) + 'root_doc = "api"\n'
    )
    out = src / "_html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return (out / "api.html").read_text()


def test_the_api_page_renders_readable_signatures(rendered):
    check_readable(rendered)


def test_the_api_page_tables_are_narrow(rendered):
    check_tables(rendered)


def fresh_built_pages() -> list[Path]:
    newest_source = max(p.stat().st_mtime for p in SOURCES)
    return [p for p in BUILT if p.is_file() and p.stat().st_mtime >= newest_source]


def test_the_built_api_page_is_readable():
    pages = fresh_built_pages()
    if not pages:
        pytest.skip("no book built since book/api.md and _config.yml last changed")
    for page in pages:
        check_readable(page.read_text())
        check_tables(page.read_text())


MEASURE = """
window.addEventListener("load", () => {
  const column = document.querySelector("article.bd-article");
  const style = getComputedStyle(column);
  const out = {
    column: column.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
    wide: [],
  };
  const right = column.getBoundingClientRect().right - parseFloat(style.paddingRight);
  for (const el of column.querySelectorAll("table, pre, dt.sig")) {
    const box = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 || box.right > right + 1)
      out.wide.push(el.tagName + " " + (el.id || el.textContent.slice(0, 60)));
    // a signature on one line must not wrap; a long one puts one parameter a line
    const lines = box.height / parseFloat(getComputedStyle(el).lineHeight);
    if (el.tagName === "DT" && !el.querySelector("dl") && lines > 1.5)
      out.wide.push("wrapped signature " + el.id);
  }
  const pre = document.createElement("pre");
  pre.id = "kd-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_built_api_page_fits_the_column_at_1280_px():
    pages = fresh_built_pages()
    if not pages:
        pytest.skip("no book built since book/api.md and _config.yml last changed")
    for page in pages:
        with tempfile.TemporaryDirectory() as tmp:
            measured = measure_in_chromium(page, MEASURE, Path(tmp), "1280,2000")
        assert measured["column"] == pytest.approx(COLUMN_PX, abs=40)
        assert not measured["wide"], (
            f"{page}: wider than the column: {measured['wide']}"
        )
