"""The package layering, read from the source (every import, also those inside functions).

    callqa/ (CLI, report)  ->  flows/  ->  speech/, analysis/, warehouse/  ->  core/

An arrow may only point down (or stay inside a package). speech/ and analysis/ know nothing
of Prefect or DuckDB; only warehouse/ opens DuckDB; only flows/ imports Prefect.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = ("core", "speech", "analysis", "warehouse", "flows", "callqa")
MAY_IMPORT = {
    "core": {"core"},
    "speech": {"core", "speech"},
    "analysis": {"core", "analysis"},
    "warehouse": {"core", "warehouse"},
    "flows": {"core", "speech", "analysis", "warehouse", "flows"},
    "callqa": set(OURS),
}
THIRD_PARTY_ONLY_IN = {"duckdb": {"warehouse"}, "prefect": {"flows"}, "prefect_dask": {"flows"}}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def wrong_arrows(package: str) -> list[str]:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, module in imports_of(path):
            rel = f"{path.relative_to(REPO)}:{line}"
            if module in OURS and module not in MAY_IMPORT[package]:
                bad.append(f"{rel} imports {module}")
            if module in THIRD_PARTY_ONLY_IN and package not in THIRD_PARTY_ONLY_IN[module]:
                bad.append(f"{rel} imports {module} (only {', '.join(sorted(THIRD_PARTY_ONLY_IN[module]))} may)")
    return bad


@pytest.mark.parametrize("package", OURS)
def test_imports_point_down(package):
    assert wrong_arrows(package) == []


def test_the_check_sees_a_wrong_arrow(tmp_path, monkeypatch):
    """A file in speech/ importing warehouse/ or DuckDB is caught (the test can fail)."""
    fake = tmp_path / "speech"
    fake.mkdir()
    (fake / "bad.py").write_text("def f():\n    from warehouse.store import Warehouse\n    import duckdb\n")
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    assert wrong_arrows("speech") == ["speech/bad.py:2 imports warehouse",
                                      "speech/bad.py:3 imports duckdb (only warehouse may)"]
