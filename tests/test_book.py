"""End to end: every notebook under `smoke` with papermill, nbval on the executed copies, the HTML book."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch

from kdbook import runner
from kdbook.claims import (
    COMPARATIVE_VERDICTS,
    MAX_PRIMARY,
    NOT_POWERED,
    NOT_TESTABLE,
    VERDICTS,
)
from kdbook.runner import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "smoke"
SITE = ROOT / "build" / PROFILE / "site"
HTML = SITE / "_build" / "html"
CHAPTERS = toc_notebooks()
# the others: 60 s
SMOKE_BUDGET_SECONDS = {
    "04_vit_to_mobilenet": 90,
    "05_deit_distillation_token": 90,
}


def kdutils_cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "kdbook", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """Execute every chapter under smoke (teachers trained afresh), then build the HTML with -W."""
    env = os.environ | {"KD_CHECKPOINTS": str(tmp_path_factory.mktemp("checkpoints"))}
    seconds = {}
    for name in CHAPTERS:
        tic = time.perf_counter()
        result = kdutils_cli(
            "run", "--profile", PROFILE, "--only", name, "--force", env=env
        )
        seconds[name] = time.perf_counter() - tic
        assert result.returncode == 0, (
            f"{name} failed under {PROFILE}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    built = kdutils_cli("book", "--profile", PROFILE, env=env)
    assert built.returncode == 0, (
        f"jupyter-book build -W failed:\n{built.stdout[-5000:]}\n{built.stderr[-3000:]}"
    )
    return {"seconds": seconds, "env": env}


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_source_is_paired_and_clean(name):
    py, ipynb = ROOT / "notebooks" / f"{name}.py", ROOT / "notebooks" / f"{name}.ipynb"
    assert py.is_file() and ipynb.is_file(), (
        f"{name}: both {py.name} and {ipynb.name} must exist"
    )
    from_py, from_nb = jupytext.read(py), nbformat.read(ipynb, as_version=4)
    assert [(c.cell_type, c.source) for c in from_py.cells] == [
        (c.cell_type, c.source) for c in from_nb.cells
    ], f"{name}: .py and .ipynb differ; run: make notebooks"
    code = [c for c in from_nb.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), (
        f"{ipynb.name} is committed with outputs"
    )
    assert "parameters" in code[0].metadata.get("tags", []), (
        f"{name}: the first code cell must be tagged parameters"
    )
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in code), (
        f"{name}: no cell checked by nbval"
    )
    wide = [line for c in code for line in c.source.splitlines() if len(line) > 88]
    assert not wide, f"{name}: code lines wider than the page (88): {wide[:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_runs_under_smoke_within_budget(book, name):
    budget = SMOKE_BUDGET_SECONDS.get(name, 60)
    assert book["seconds"][name] < budget, (
        f"{name} took {book['seconds'][name]:.0f} s under smoke (budget {budget} s)"
    )
    executed = nbformat.read(SITE / "notebooks" / f"{name}.ipynb", as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    injected = [
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert injected and f'profile = "{PROFILE}"' in injected[0].source


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_results_record_claims_with_verdicts(book, name):
    payload = json.loads(
        (ROOT / "build" / PROFILE / "results" / f"{name}.json").read_text()
    )
    assert (
        payload["profile"] == PROFILE and payload["data_source"] and payload["claims"]
    )
    assert payload["environment"]["versions"]["torch"]
    primary = [c for c in payload["claims"] if c["role"] == "primary"]
    # no claim from a source to test
    how_to = (
        "01_kd_theory",
        "07_distil_your_own_model",
    )
    assert len(primary) <= MAX_PRIMARY and (primary or name in how_to), (
        f"{name}: no primary claim"
    )
    for claim in payload["claims"]:
        assert (
            claim["source"]
            and claim["measurement"]
            and claim["section"].startswith("ch")
        )
        if claim["kind"] == "exact":  # mathematical statements must hold on every run
            assert claim["verdict"] == "reproduced", (
                f"{name}: {claim['id']} {claim['reason']}"
            )
        elif claim["kind"] == "comparative":
            assert claim["verdict"] in (
                *COMPARATIVE_VERDICTS,
                NOT_TESTABLE,
                NOT_POWERED,
            )
            assert claim["role"] in (
                "primary",
                "exploratory",
            )
            protocol = claim["protocol"]
            assert (
                protocol["seeds"] >= 2 and protocol["scoring"] and protocol["interval"]
            )
            # Holm makes a primary claim's interval wider, never narrower
            assert claim["numbers"]["ci_level"] >= 0.95
        else:  # a target such as a speed-up: its verdict depends on the machine, but it must be measured
            assert claim["kind"] == "bound" and claim["numbers"]["observed"] > 0
    gated = [
        c
        for c in payload["claims"]
        if c["kind"] == "comparative" and c["numbers"]["headroom"]
    ]
    if (
        name != "01_kd_theory"
    ):  # every chapter that distils measures its teacher's headroom
        assert gated, f"{name}: no claim records the teacher's headroom"
    for claim in gated:
        testable = claim["numbers"]["headroom"]["testable"]
        assert testable == (claim["verdict"] != NOT_TESTABLE), claim["id"]


def test_same_numbers_whatever_the_number_of_notebooks_side_by_side(
    tmp_path, monkeypatch
):
    """The same seed gives the same numbers with --jobs 1 and --jobs 3: every run uses the profile's threads."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KD_WORKERS", "KD_RESULTS_DIR"):
        # the runner sets them for its kernels; restored after the test
        monkeypatch.setenv(name, "")
    names = ["01_kd_theory", "02_mnist_teacher_student"]
    numbers = {}
    for jobs in (1, 3):
        root = tmp_path / f"jobs{jobs}"
        (root / "notebooks").mkdir(parents=True)
        (root / "_toc.yml").write_text((ROOT / "_toc.yml").read_text())
        for name in names:
            (root / "notebooks" / f"{name}.ipynb").write_bytes(
                (ROOT / "notebooks" / f"{name}.ipynb").read_bytes()
            )
        # each run trains its own teachers
        monkeypatch.setenv("KD_CHECKPOINTS", str(root / "checkpoints"))
        runner.run(PROFILE, only=names, jobs=jobs, root=root)
        payload = json.loads(
            (
                root / "build" / PROFILE / "results" / "02_mnist_teacher_student.json"
            ).read_text()
        )
        numbers[jobs] = (
            {
                c["id"]: c["numbers"]
                for c in payload["claims"]
                if c["kind"] == "comparative"
            },
            payload["metrics"]["students"],
            payload["metrics"]["teacher_test"],
        )
    assert numbers[1] == numbers[3]


@pytest.mark.slow
def test_nbval_reproduces_checked_outputs(book, tmp_path):
    notebooks = [str(SITE / "notebooks" / f"{name}.ipynb") for name in CHAPTERS]
    # the re-run writes its results elsewhere: the book's results are those of the run it was built from
    env = book["env"] | {"KD_RESULTS_DIR": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(SITE),
            *notebooks,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert re.search(r"\d+ passed", result.stdout)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        f"{n}.json" for n in CHAPTERS
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, code",
    [
        ("01_kd_theory", "def soft_kd_loss"),
        ("02_mnist_teacher_student", "def naive_fit"),
        ("02_mnist_teacher_student", "def blog_buggy_loss"),
        ("05_deit_distillation_token", "def deit_loss"),
        ("05_deit_distillation_token", "class DistilledViT"),
        ("06_what_makes_a_good_teacher", "def fidelity_metrics"),
        ("06_what_makes_a_good_teacher", "partner = torch.randperm"),
    ],
)
def test_html_chapters_show_the_library_code_they_teach(book, name, code):
    import html

    page = html.unescape(
        re.sub(r"<[^>]+>", "", (HTML / "notebooks" / f"{name}.html").read_text())
    )
    assert code in page, f"{name}.html does not show {code}"


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_html_chapter_has_figures_and_no_traceback(book, name):
    page = (HTML / "notebooks" / f"{name}.html").read_text()
    assert page.count("<img") >= 1, f"{name}.html has no figure"
    for image in re.findall(r'<img[^>]+src="([^"]+)"', page):
        if not image.startswith(("http", "data:")):
            assert (HTML / "notebooks" / image).resolve().is_file(), (
                f"{name}.html links a missing image {image}"
            )
    # MyST-NB renders an error output as a "traceback" block; library code shown with literalinclude
    # may name exceptions, so look for the output, not for the word
    assert (
        "output traceback" not in page
        and "Traceback (most recent call last)" not in page
    )


@pytest.mark.slow
def test_html_book_pages(book):
    for page in (
        "index.html",
        "book/running.html",
        "book/gpu.html",
        "book/results.html",
        "book/when-to-distil.html",
        "book/references.html",
        "book/api.html",
    ):
        assert (HTML / page).is_file(), f"{page} was not built"
    results = (HTML / "book" / "results.html").read_text()
    payloads = [
        json.loads(p.read_text())
        for p in (ROOT / "build" / PROFILE / "results").glob("*.json")
    ]
    claims = [c for payload in payloads for c in payload["claims"]]
    # one table row per claim
    verdicts = re.findall(r"<td><p><strong>([a-z ]+)</strong>", results)
    assert sorted(verdicts) == sorted(c["verdict"] for c in claims) and set(
        verdicts
    ) <= set(VERDICTS)
    assert "Summary" in results and re.search(
        r'<img[^>]+src="[^"]*forest\.png"', results
    ), "no forest plot"
    assert (HTML / "_images" / "forest.png").is_file() or (
        HTML / "book" / "forest.png"
    ).is_file()
    for (
        claim
    ) in claims:  # each claim links to the section of the chapter that measured it
        assert f"#{claim['section']}" in results, (
            f"no link to {claim['section']} for {claim['id']}"
        )
    intro = (HTML / "book" / "intro.html").read_text()
    assert "What this book found" in intro
    primary = [c for c in claims if c["role"] == "primary"]
    assert f"declared {len(primary)} primary claims" in intro
    assert "smoke" in (HTML / "book" / "running.html").read_text()


@pytest.mark.slow
def test_html_equations_use_the_mathjax_make_fetched(book):
    if not (ROOT / "build" / "mathjax" / "tex-mml-chtml.js").is_file():
        pytest.skip(
            "make could not fetch MathJax from npm; the book uses MathJax's CDN"
        )
    page = (HTML / "notebooks" / f"{CHAPTERS[0]}.html").read_text()
    assert re.search(
        r'<script[^>]+src="\.\./_static/mathjax/tex-mml-chtml\.js', page
    ), "MathJax is not served locally"
    assert "cdn.jsdelivr.net/npm/mathjax" not in page
    assert (HTML / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert any(
        (HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob(
            "*.woff"
        )
    )


@pytest.mark.slow
def test_html_shows_the_parameters_actually_used(book):
    import html

    text = html.unescape(
        re.sub(r"<[^>]+>", "", (HTML / "notebooks" / f"{CHAPTERS[0]}.html").read_text())
    )
    assert "Run settings: profile smoke" in text
    # neither the notebook's default parameters nor papermill's injected cell is on the page
    assert 'profile = "cpu"' not in text and 'profile = "smoke"' not in text


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_html_chapter_reads_like_a_book(book, name):
    """Nothing a reader should not see, every figure captioned, every glued value in place."""
    import html

    page = (HTML / "notebooks" / f"{name}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "Claim(" not in text, f"{name}: an object's repr is on the page"
    assert str(ROOT) not in text, f"{name}: an absolute path of the build machine"
    assert "{glue:" not in text and "glue:text" not in text, f"{name}: unresolved glue"
    assert "Run settings:" in text
    code_blocks = re.findall(
        r'<div class="cell_input.*?<pre>(.*?)</pre>', page, flags=re.DOTALL
    )
    code = html.unescape(re.sub(r"<[^>]+>", "", "".join(code_blocks)))
    wide = [line for line in code.splitlines() if len(line) > 88]
    assert not wide, f"{name}: code wider than 88 columns: {wide[:2]}"
    images = re.findall(r"<img[^>]+src=\"[^\"]+\.png\"", page)
    assert images and len(images) <= page.count("<figcaption"), (
        f"{name}: {len(images)} figures but {page.count('<figcaption')} captions"
    )
    executed = nbformat.read(SITE / "notebooks" / f"{name}.ipynb", as_version=4)
    stderr = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stderr"
    ]
    assert not stderr, f"{name}: progress bars or warnings left in the notebook"


@pytest.mark.slow
def test_html_references_hold_every_source_cited(book):
    references = (HTML / "book" / "references.html").read_text()
    for url in (
        "huggingface.co/docs/transformers/tasks/knowledge_distillation",
        "keras.io/examples/vision/knowledge_distillation",
        "pytorch.org/tutorials/beginner/knowledge_distillation_tutorial",
        "arxiv.org/abs/2106.05237",
    ):
        assert url in references, f"the bibliography has no {url}"


@pytest.mark.slow
def test_html_api_reference_is_generated_from_the_docstrings(book):
    import html

    page = (HTML / "book" / "api.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for name in (
        "kdutils.train.fit",
        "kdutils.cache.TeacherCache",
        "kdutils.losses.kd_objective",
        "kdutils.folders.image_folder_datasets",
        "kdutils.models.load_classifier",
    ):
        assert f'id="{name}"' in page, f"the API page does not document {name}"
    # a docstring's own words, not just the names
    assert "Train model with AdamW, where it is (CPU or GPU)" in text
    for library in ("Hugging Face", "torchdistill", "Keras"):
        assert library in text


@pytest.mark.slow
def test_your_own_model_runs_on_a_folder_the_test_writes(book, tmp_path):
    """The "distil your own model" page on a reader's folder: train/ and test/ class folders,
    a torchvision teacher trained on it, papermill parameters, results beside the book's."""
    import papermill
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for split, n in (("train", 16), ("test", 6)):
        for name in ("circle", "square", "stripes"):
            (tmp_path / "images" / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = torch.rand(20, 20, 3, generator=g) * 60
                if name == "circle":
                    yy, xx = torch.meshgrid(
                        torch.arange(20), torch.arange(20), indexing="ij"
                    )
                    pixels[((yy - 10) ** 2 + (xx - 10) ** 2) < 40] += 180
                elif name == "square":
                    pixels[5:15, 5:15] += 180
                else:
                    pixels[:, ::4] += 180
                Image.fromarray(pixels.clamp(0, 255).byte().numpy()).save(
                    tmp_path / "images" / split / name / f"{i}.png"
                )
    out = tmp_path / "run.ipynb"
    env = book["env"] | {"KD_RESULTS_DIR": str(tmp_path / "results")}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "07_distil_your_own_model.ipynb"),
            str(out),
            parameters={
                "profile": PROFILE,
                "data_dir": str(tmp_path / "images"),
                "teacher": "resnet18",
                "image_mode": "RGB",
                "image_size": 16,
                "teacher_epochs": 2,
                "student_epochs": 2,
            },
            cwd=str(ROOT / "notebooks"),
            progress_bar=False,
        )
    finally:
        os.environ.clear()
        os.environ.update(old)
    executed = nbformat.read(out, as_version=4)
    text = "\n".join(
        o.get("text", "")
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "resnet18 trained here for 2 epochs" in text
    assert "teacher check: " in text  # before any distillation
    assert "refused:" in text and "RandomHorizontalFlip" in text
    payload = json.loads(
        (tmp_path / "results" / "07_distil_your_own_model.json").read_text()
    )
    assert payload["config"]["classes"] == ["circle", "square", "stripes"]
    assert payload["config"]["images"] == {"train": 43, "val": 5, "test": 18}
    assert len(payload["metrics"]["students"]["distilled"]) == len(payload["seeds"])
