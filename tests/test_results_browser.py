"""The results page in a real browser at 1280 px: every table fits the column, every verdict whole.

Headless Chromium loads the page with a small script that opens every fold, measures each table
against the article's content box and writes the numbers into the DOM, which ``--dump-dom``
prints. Skipped where no Chromium is installed (Debian: ``apt-get install chromium``).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from kdbook import report
from tests.conftest import CHROMIUM, measure_in_chromium
from tests.test_report import fake_results, with_outlier

ROOT = Path(__file__).resolve().parent.parent
CPU_HTML = ROOT / "build" / "cpu" / "site" / "_build" / "html"
WINDOW = "1280,900"
BROWSER = CHROMIUM
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed")

# Runs after the page's own scripts: opens the folds, then measures. Tables inside a fold count.
MEASURE = """
window.addEventListener('load', () => setTimeout(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const article = document.querySelector('.bd-article') || document.body;
  const style = getComputedStyle(article), box = article.getBoundingClientRect();
  const column = {left: box.left + parseFloat(style.paddingLeft),
                  right: box.right - parseFloat(style.paddingRight)};
  const tables = [...article.querySelectorAll('table')].map(t => {
    const r = t.getBoundingClientRect();
    const heads = [...t.querySelectorAll('thead th')].map(th => th.textContent.trim());
    const v = heads.indexOf('verdict');
    const clipped = v < 0 ? [] : [...t.querySelectorAll('tbody tr')]
      .map(tr => tr.children[v])
      .filter(td => td.getBoundingClientRect().right > column.right + 0.5
                    || td.scrollWidth > td.clientWidth + 1)
      .map(td => td.textContent.trim());
    return {heads, verdict: v, right: r.right, width: r.width, clipped};
  });
  const images = [...article.querySelectorAll('img')].map(
    im => ({src: im.getAttribute('src'), natural: im.naturalWidth,
            shown: im.getBoundingClientRect().width, alt: im.alt}));
  const out = document.createElement('pre');
  out.id = 'kd-measure';
  out.textContent = JSON.stringify(
    {column: column.right - column.left, columnRight: column.right, tables, images});
  document.body.appendChild(out);
}, 100));
"""


def measure(page: Path, scratch: Path) -> dict:
    """Load ``page`` in headless Chromium at 1280 px; the widths the script above measured."""
    return measure_in_chromium(page, MEASURE, scratch, WINDOW)


def assert_fits(numbers: dict, verdict_tables: int) -> None:
    """Every table inside the column, no verdict cell cut, figures not scaled down."""
    assert numbers["column"] > 600, f"not the desktop layout: {numbers['column']} px"
    wide = [t for t in numbers["tables"] if t["right"] > numbers["columnRight"] + 0.5]
    assert not wide, f"tables wider than the {numbers['column']:.0f} px column: {wide}"
    with_verdicts = [t for t in numbers["tables"] if t["verdict"] >= 0]
    assert len(with_verdicts) >= verdict_tables
    # the verdict among the first columns: first, or after a table's row labels
    assert all(t["verdict"] <= 1 for t in with_verdicts), "verdict not in front"
    assert not [t["clipped"] for t in with_verdicts if t["clipped"]]
    for image in numbers["images"]:
        assert image["shown"] >= image["natural"] - 0.5, f"scaled down: {image}"


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    """A book of one page, the results page of a few fake chapters, built with the book's theme."""
    site = tmp_path_factory.mktemp("book")
    runs = [*with_outlier(), *fake_results()]
    runs[-1]["claims"][0]["statement"] = (
        "A long statement, " * 12
    )  # wraps, never widens
    (site / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: 'off'\nonly_build_toc_files: true\n"
    )
    (site / "_toc.yml").write_text("format: jb-book\nroot: results\n")
    titles = {r["notebook"]: f"Chapter {r['notebook']}: a long subtitle" for r in runs}
    (site / "results.md").write_text(
        report.results_page("smoke", runs, titles, forest=True)
    )
    report.forest_plot(runs, site / report.FOREST_FILE, titles)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run(
        [str(jb) if jb.exists() else "jupyter-book", "build", str(site)],
        check=True,
        capture_output=True,
    )
    return site / "_build" / "html" / "results.html"


def test_small_results_page_fits_at_1280(small_book, tmp_path):
    assert_fits(measure(small_book, tmp_path), verdict_tables=3)


@pytest.mark.skipif(
    not (CPU_HTML / "book" / "results.html").is_file(),
    reason="no cpu book built (make book)",
)
def test_built_cpu_pages_fit_at_1280(tmp_path):
    results = measure(CPU_HTML / "book" / "results.html", tmp_path)
    assert_fits(results, verdict_tables=len(list(CPU_HTML.glob("notebooks/*.html"))))
    forest = [i for i in results["images"] if "forest" in i["src"]]
    assert forest and "Forest plot of the" in forest[0]["alt"]
    for chapter in sorted(CPU_HTML.glob("notebooks/*.html")):
        numbers = measure(chapter, tmp_path)
        # the chapter's own verdict table; its other tables belong to the chapter's story
        numbers["tables"] = [t for t in numbers["tables"] if t["verdict"] >= 0]
        numbers["images"] = []
        assert_fits(numbers, verdict_tables=1)
