"""The import direction check (issue 9, acceptance 1): it finds each kind of violation in a
synthetic package, and the real package has no violations beyond the known ones."""

from __future__ import annotations

from pathlib import Path

from kadanoff._devtools.layers import check, main

# Known before the restructuring (issue 9 lists them); the list may only shrink.
KNOWN: set[str] = set()


def _key(v) -> str:
    return f"{v.module}: {v.rule}: {v.imported}"


def test_package_has_no_new_layering_violations():
    found = {_key(v) for v in check()}
    assert found <= KNOWN, f"new layering violations: {sorted(found - KNOWN)}"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_check_finds_every_kind_of_violation(tmp_path, capsys):
    pkg = tmp_path / "kadanoff"
    for rel in ("__init__.py", "rbm/__init__.py", "ising/__init__.py", "rg/__init__.py"):
        _write(pkg, rel, "")
    _write(pkg, "spins.py", "def _helper(): pass\n")
    _write(pkg, "ising/model.py", "X = 1\n")
    _write(pkg, "rg/_common.py", "def _shared(): pass\n")
    _write(pkg, "rg/ok.py", "from ._common import _shared\nfrom ..ising.model import X\n")
    _write(pkg, "rbm/up.py", "def f():\n    from ..rg import ok\n")
    _write(pkg, "rbm/side.py", "from kadanoff.ising import model\n")
    _write(pkg, "rbm/private.py", "from ..spins import _helper\n")
    _write(pkg, "rbm/plot.py", "import matplotlib.pyplot as plt\n")
    assert main([str(pkg)]) == 1
    found = {_key(v) for v in check(pkg)}
    assert found == {
        "kadanoff.rbm.up: imports upwards (rbm -> rg): kadanoff.rg",
        "kadanoff.rbm.up: imports upwards (rbm -> rg): kadanoff.rg.ok",
        "kadanoff.rbm.side: imports upwards (rbm -> ising): kadanoff.ising",
        "kadanoff.rbm.side: imports upwards (rbm -> ising): kadanoff.ising.model",
        "kadanoff.rbm.private: imports a private name: kadanoff.spins:_helper",
        "kadanoff.rbm.plot: computing code imports matplotlib: matplotlib.pyplot",
    }
    assert "6 layering violation(s)" in capsys.readouterr().out
