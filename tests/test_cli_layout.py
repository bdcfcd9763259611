"""The command-line package: imports point one way (no cycles, lazy imports included) and no
module reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import autodip.cli

PACKAGE = Path(autodip.cli.__file__).parent


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every ``from autodip.cli… import …`` in ``path``, at any depth (lazy ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autodip.cli"):
            found.append((node.module, [alias.name for alias in node.names]))
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("autodip.cli")]
    return found


def test_no_cycles_and_no_private_names_across_modules():
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = "autodip.cli" + ("" if path.stem == "__init__" else f".{path.stem}")
        imports = _imports(path)
        graph[name] = {module for module, _ in imports}
        private = [n for _, names in imports for n in names if n.startswith("_")]
        assert not private, f"{name} imports private names {private}"
    for name, targets in graph.items():
        if name != "autodip.cli":
            assert "autodip.cli" not in targets, f"{name} imports the package's __init__"
            allowed = {f"autodip.cli.{m}" for m in ALLOWED.get(name.rsplit(".", 1)[1], {"common"})}
            assert targets <= allowed, (name, targets - allowed)


#: What each module of the command line may import of it (anything else: only ``common``). The
#: layers: common <- files <- single (one image) <- restore (the commands, batches); the tool
#: commands check where they write with ``files``.
ALLOWED = {
    "common": set(),
    "files": {"common"},
    "single": {"common", "files"},
    "restore": {"common", "files", "single"},
    "tools": {"common", "files"},
}
