"""The README's quickstart runs as printed."""

import re
from pathlib import Path


def test_readme_quickstart_runs(capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## kdutils in ten lines\n\n```python\n(.*?)```", readme, re.S)
    # ten lines of kdutils (the teacher check first among them), the imports and a blank line
    assert code and len(code.group(1).strip().splitlines()) <= 12
    exec(compile(code.group(1), "README.md", "exec"), {})
    accuracy = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert accuracy > 0.8
