"""The chapters read like chapters: the lesson's code on the page, bookkeeping hidden, prose that
follows the verdicts."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = [
    "02_mnist_teacher_student",
    "03_temperature",
    "04_vit_to_mobilenet",
    "05_deit_distillation_token",
    "06_what_makes_a_good_teacher",
]
HIDDEN = {"remove-input", "remove-cell", "hide-input", "hide-cell"}
DISTILLATION = re.compile(
    r"\b(kd_objective|distillation_loss|deit_loss|soft_kd_loss)\("
)
# words that state a finding held: wrong next to a claim the runs did not reproduce
HELD = re.compile(r"\b(reproduced|confirms?|helps|not optional|always)\b", re.I)


def cells(name: str) -> list[dict]:
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def visible_code(name: str) -> list[str]:
    return [
        source(c)
        for c in cells(name)
        if c["cell_type"] == "code"
        and not HIDDEN & set(c.get("metadata", {}).get("tags", []))
        and "parameters" not in c.get("metadata", {}).get("tags", [])
    ]


def lines(text: str) -> int:
    return sum(bool(line.strip()) for line in text.splitlines())


# chapters written to the same pattern, though not a source's experiment
PATTERNED = [*EXPERIMENTS, "07_distil_your_own_model"]


@pytest.mark.parametrize("name", PATTERNED)
def test_visible_code_is_no_longer_than_the_prose(name):
    code = sum(lines(s) for s in visible_code(name))
    prose = sum(lines(source(c)) for c in cells(name) if c["cell_type"] == "markdown")
    assert code <= prose, f"{name}: {code} visible code lines, {prose} of prose"
    long = [s.splitlines()[0] for s in visible_code(name) if lines(s) > 40]
    assert not long, f"{name}: visible code cells over 40 lines, starting {long}"


@pytest.mark.parametrize("name", PATTERNED)
def test_one_distillation_is_written_out_and_the_sweep_calls_it(name):
    shown = [s for s in visible_code(name) if "fit(" in s and DISTILLATION.search(s)]
    assert shown, f"{name}: no visible cell calls fit( with a distillation objective"
    defined = {m for s in shown for m in re.findall(r"^def (\w+)\(", s, re.M)}
    assert defined, f"{name}: the visible distillation cell defines no function"
    code = "\n".join(source(c) for c in cells(name) if c["cell_type"] == "code")
    swept = set(re.findall(r"\bsweep\(\s*(\w+)", code))
    assert defined & swept, (
        f"{name}: the sweeps call {sorted(swept)}, not the page's {sorted(defined)}"
    )


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.;:!?])\s+|\n\s*[*-]\s+", text)


@pytest.mark.parametrize(
    "name", EXPERIMENTS + ["01_kd_theory", "07_distil_your_own_model"]
)
def test_prose_does_not_contradict_the_verdicts(name):
    path = ROOT / "build" / "cpu" / "results" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"no cpu results for {name}: run `make book` first")
    verdicts = {c["id"]: c["verdict"] for c in json.loads(path.read_text())["claims"]}
    prose = "\n".join(source(c) for c in cells(name) if c["cell_type"] == "markdown")
    wrong = [
        (claim, sentence.strip())
        for sentence in sentences(prose)
        for claim, verdict in verdicts.items()
        if verdict != "reproduced"
        and re.search(rf"(?<![\w-]){re.escape(claim)}(?![\w-])", sentence)
        and HELD.search(sentence)
    ]
    assert not wrong, f"{name}: prose says a claim held that did not: {wrong}"


@pytest.mark.parametrize(
    "name", ["01_kd_theory", *EXPERIMENTS, "07_distil_your_own_model"]
)
def test_every_figure_has_alt_text(name):
    figures = [
        c for c in cells(name) if c["cell_type"] == "code" and "plt.show()" in source(c)
    ]
    missing = [
        source(c).splitlines()[0]
        for c in figures
        if not c.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
    ]
    assert not missing, f"{name}: figures without alt text, in cells starting {missing}"


def test_the_own_model_demo_shows_the_recipe_working():
    """Under cpu, the demo's student is smaller and faster than its teacher, learns alone, the
    teacher passes the check, and distilled vs alone has a verdict from at least 5 seeds."""
    path = ROOT / "build" / "cpu" / "results" / "07_distil_your_own_model.json"
    if not path.is_file():
        pytest.skip(
            "no cpu results for 07_distil_your_own_model: run `make book` first"
        )
    payload = json.loads(path.read_text())
    sizes, check = payload["metrics"]["sizes"], payload["metrics"]["teacher_check"]
    assert sizes["student"]["parameters"] < sizes["teacher"]["parameters"]
    assert sizes["student"]["ms"] < sizes["teacher"]["ms"]
    alone = payload["metrics"]["students"]["alone"]
    assert min(r["accuracy"] for r in alone) >= 0.75 and check["headroom"]
    (claim,) = payload["claims"]
    assert claim["protocol"]["seeds"] >= 5 and claim["verdict"] != "not testable here"
    assert "NaN" not in path.read_text()
