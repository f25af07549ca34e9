"""Run the worked examples of docs/extending.md: read a section's Python blocks and import one
as a module file, so that it registers itself exactly as a user's module would."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of the section ``## <heading>`` of docs/extending.md, in order."""
    section = DOC.read_text(encoding="utf-8").split(f"## {heading}", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@contextmanager
def imported_example(code: str, path: Path, name: str) -> Iterator[ModuleType]:
    """``code`` written to ``path`` and imported as module ``name`` (removed again afterwards)."""
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
