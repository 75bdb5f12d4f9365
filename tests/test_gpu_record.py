"""The GPU page's tables, generated from the committed record of a gpu run."""

from kdbook import gpu_record
from kdbook.results import REPO_ROOT


def test_committed_record_renders_beside_the_cpu_results():
    record = gpu_record.load_record()
    assert record is not None and record["env"]["device"]
    chapters = ["01_kd_theory", "02_mnist_teacher_student", "99_never_run"]
    recorded = record["results"]["01_kd_theory"]
    cpu = [{"notebook": "01_kd_theory", "claims": recorded["claims"][:1]}]
    page = gpu_record.record_page(record, cpu, chapters)
    assert record["env"]["device"] in page
    assert "| 99_never_run | not run |  | not run | not run |" in page
    # every recorded claim has a row, with its cpu verdict where the cpu run has the claim
    for claim in recorded["claims"]:
        assert f"| `{claim['id']}` |" in page
    first = recorded["claims"][0]
    assert f"| `{first['id']}` | **{first['verdict']}**" in page
    second = recorded["claims"][1]
    assert f"| `{second['id']}` | — |" in page
    assert page.count("ms per step") == 1


def test_no_record_says_so(tmp_path):
    assert gpu_record.load_record(tmp_path) is None
    assert "No run of the `gpu` profile" in gpu_record.record_page(None, [], [])
    assert (REPO_ROOT / "book" / "gpu-record" / "env.json").is_file()
