"""Which of the project's source files a notebook imports, directly or through one another: what its run key hashes."""

from __future__ import annotations

import ast
from pathlib import Path

from .results import REPO_ROOT

PACKAGES = ("kdutils", "kdbook")


def _module_file(module: str, root: Path) -> Path | None:
    """``root/kdutils/losses.py`` for ``kdutils.losses`` (or the package's ``__init__.py``); None if not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_modules(tree: ast.AST, package: str | None) -> set[str]:
    """Dotted names a parsed source imports; ``package``: the package of a module, for relative imports."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if package is None:
                    continue
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # ``from kdutils import losses``
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def imported_sources(name: str, root: Path = REPO_ROOT) -> list[Path]:
    """The kdutils and kdbook source files notebook ``name`` imports, directly or through one another."""
    import nbformat

    notebook = nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4)
    code = "\n".join(
        "\n".join(
            line
            for line in cell.source.splitlines()
            if not line.lstrip().startswith(("%", "!"))
        )
        for cell in notebook.cells
        if cell.cell_type == "code"
    )
    pending, seen = list(_imported_modules(ast.parse(code), None)), set()
    while pending:
        module = pending.pop()
        parents = [
            ".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)
        ]
        # importing kdutils.losses runs kdutils/__init__.py first
        for dotted in (*parents, module):
            path = _module_file(dotted, root)
            if path is None or path in seen:
                continue
            seen.add(path)
            package = (
                dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
            )
            pending.extend(_imported_modules(ast.parse(path.read_text()), package))
    return sorted(seen)
