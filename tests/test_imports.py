"""Data flows one way: each module imports only modules earlier in the chain."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "refimpl"

# network spec -> quantization -> engine -> encoding -> vectors and reports -> cli
ORDER = ["errors", "fileio", "spec", "networks", "profile", "layout", "train", "image", "fixedpoint", "quantize",
         "trained", "kernels", "engine", "schedule", "cost", "tiled", "jpeg", "features", "evaluate", "split",
         "wordfile", "manifest", "dump", "plotting", "report", "experiments", "vectors", "compare", "cli",
         "__main__", "__init__", "sets"]


def rank(name: str) -> int:
    return ORDER.index(name)


def module_of(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    return rel.parts[0]


def imported(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("refimpl"):
                parts = node.module.split(".")[1:]
                yield parts[0] if parts else None, [a.name for a in node.names]
            elif node.level >= 1:
                inside_sub = len(path.relative_to(PKG).parts) > 1
                if node.level == 1 and inside_sub:
                    continue                                # sibling inside a subpackage
                mod = node.module.split(".")[0] if node.module else None
                yield mod, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("refimpl."):
                    yield a.name.split(".")[1], []


def test_every_module_is_ranked():
    names = {module_of(p) for p in PKG.rglob("*.py")}
    assert names <= set(ORDER), names - set(ORDER)


def test_imports_point_down_the_chain():
    bad = []
    for path in PKG.rglob("*.py"):
        me = module_of(path)
        for mod, names in imported(path):
            targets = [mod] if mod else names           # "from . import engine" names the modules
            for t in targets:
                if t in ORDER and t != me and me != "__init__" and rank(t) > rank(me):
                    bad.append(f"{path.relative_to(PKG)} imports {t}")
    assert not bad, bad


def test_compare_reads_files_only():
    """The RTL scoreboard never imports the engine: only file readers (and the error type)."""
    path = PKG / "compare.py"
    targets = {mod or n for mod, names in imported(path) for n in (names if not mod else [mod])}
    assert targets <= {"errors", "fileio", "manifest", "wordfile"}, targets
