"""Check the import direction of kadanoff's packages: ``python -m kadanoff._devtools.layers``.

The layers, lowest first (DEVELOPERS guide, "Design")::

    base (spins, lattice, _rng, io, stats) -> kernels -> ising | rbm -> dbn -> rg -> analysis
    -> experiments -> sweep -> cli

A module may import its own layer and the layers below; ``ising`` and ``rbm`` are side by side
and never import each other. Three more rules: no module imports a private name (``_x``) defined
in another top-level package; only experiments, sweep and cli import matplotlib; the package's
``__init__`` (the curated public API) and ``_devtools`` are exempt. Every import counts, also
the lazy ones inside functions. Reads the source with :mod:`ast`; imports nothing it checks.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LAYERS", "Violation", "check", "main"]

#: top-level part of ``kadanoff`` -> rank; equal ranks may not import each other
LAYERS: dict[str, int] = {
    "spins": 0,
    "lattice": 0,
    "_rng": 0,
    "io": 0,
    "stats": 0,
    "kernels": 1,
    "ising": 2,
    "rbm": 2,
    "dbn": 3,
    "rg": 4,
    "analysis": 5,
    "experiments": 6,
    "sweep": 7,
    "cli": 8,
}
#: layers that may share a rank and import each other (the base modules)
_SHARED_RANK = {0}
_PLOTTING_ALLOWED = {"experiments", "sweep", "cli"}
_EXEMPT = {"__init__", "__main__", "_devtools"}


@dataclass(frozen=True)
class Violation:
    module: str  # dotted name of the importing module
    line: int
    imported: str  # dotted name (plus ``:name`` for a private name)
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.rule}: {self.imported}"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _top(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "kadanoff" else None


def _imports(tree: ast.AST, module: str, is_package: bool):
    """Yield ``(line, imported module, names or None)`` for every import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            names = [a.name for a in node.names]
            yield node.lineno, target, names


def _is_module(dotted: str, root: Path) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (root / rel).with_suffix(".py").exists() or (root / rel / "__init__.py").exists()


def check(root: str | Path | None = None) -> list[Violation]:
    """All violations in the package folder ``root`` (default: the installed ``kadanoff``)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    out: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        top = _top(module) or "__init__"
        if top in _EXEMPT or module == "kadanoff":
            continue
        if top not in LAYERS:
            out.append(Violation(module, 0, module, "module outside the declared layers"))
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, target, names in _imports(tree, module, path.name == "__init__.py"):
            if target.split(".")[0] == "matplotlib" and top not in _PLOTTING_ALLOWED:
                out.append(Violation(module, line, target, "computing code imports matplotlib"))
            out += _private_names(module, package, line, target, names or [], root)
            # `from .. import rbm` imports the subpackage kadanoff.rbm
            subs = [f"{target}.{n}" for n in names or [] if _is_module(f"{target}.{n}", root)]
            for dotted in [target, *subs]:
                out += _direction(module, top, line, dotted, root)
    # the same import seen twice is reported once
    return sorted(set(out), key=lambda v: (v.module, v.line, v.imported))


def _private_names(
    module: str, package: str, line: int, target: str, names: list[str], root: Path
) -> list[Violation]:
    """A private name may only be imported from a private module of the same package
    (``from ._common import _helper``), never across modules or packages."""
    source_package, _, source_name = target.rpartition(".")
    shared_helper = source_name.startswith("_") and source_package == package
    return [
        Violation(module, line, f"{target}:{name}", "imports a private name")
        for name in names
        if name.startswith("_")
        and not name.startswith("__")
        and not shared_helper
        and not _is_module(f"{target}.{name}", root)
    ]


def _direction(module: str, top: str, line: int, target: str, root: Path) -> list[Violation]:
    other = _top(target)
    if other is None or other == top or other == "__init__":
        return []
    if other in _EXEMPT:
        return [Violation(module, line, target, "imports the dev tools")]
    if other not in LAYERS:
        if _is_module(target, root):
            return [Violation(module, line, target, "imports an undeclared layer")]
        return []
    mine, theirs = LAYERS[top], LAYERS[other]
    if theirs > mine or (theirs == mine and mine not in _SHARED_RANK):
        return [Violation(module, line, target, f"imports upwards ({top} -> {other})")]
    return []


def main(argv: list[str] | None = None) -> int:
    violations = check(argv[0] if argv else None)
    for v in violations:
        print(v)
    print(f"{len(violations)} layering violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
