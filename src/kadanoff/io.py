"""Files: atomic writes, ``.npz`` without pickle, JSON metadata (versions, git commit).

Every file kadanoff writes goes through :func:`atomic_path`: it is written to a
temporary file in the same folder and renamed into place, so an interrupted run never
leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_path",
    "write_json",
    "write_npz",
    "read_npz",
    "environment_info",
    "git_commit",
    "FileFormatError",
]


class FileFormatError(ValueError):
    """A file is missing, corrupt, or not one kadanoff wrote."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix (libraries such as NumPy append one
    otherwise). On error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OSError(f"cannot create folder {folder} for {path}: {e.strerror}") from e
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write to {folder}: choose another output path")
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=(suffix if suffix is not None else path.suffix) + ".tmp",
        dir=folder,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def to_json(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, default=_json_default, **kw)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(to_json(obj, indent=2, sort_keys=False) + "\n")
    return Path(path)


def write_npz(
    path: str | os.PathLike, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> Path:
    """Write ``arrays`` plus ``meta`` (stored as a JSON string under ``"meta"``), atomically.

    ``path`` must end in ``.npz``. Object arrays are refused (they would need pickle).
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"output file must end in .npz, got {path}")
    for k, a in arrays.items():
        if np.asarray(a).dtype == object:
            raise TypeError(f"array {k!r} has dtype object; kadanoff never pickles")
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(to_json(dict(meta)))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **payload)  # type: ignore[arg-type]
    return path


def read_npz(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_npz`: ``(arrays, meta)``. Never unpickles."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        raise FileFormatError(
            f"{path} holds pickled objects; kadanoff refuses to load it ({e})"
        ) from e
    except Exception as e:  # zipfile.BadZipFile, OSError, EOFError...
        raise FileFormatError(
            f"{path} is not a readable .npz file ({type(e).__name__}: {e})"
        ) from e
    if "meta" not in arrays:
        raise FileFormatError(f"{path} has no 'meta' entry: it was not written by kadanoff")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as e:
        raise FileFormatError(f"{path}: its 'meta' entry is not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise FileFormatError(f"{path}: its 'meta' entry is not a JSON object")
    return arrays, meta


def git_commit() -> str | None:
    """The git commit of the kadanoff source tree, if it is a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment_info() -> dict[str, Any]:
    """Versions of kadanoff and its main dependencies, the platform and the git commit."""
    from . import __version__

    info: dict[str, Any] = {
        "kadanoff": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "git_commit": git_commit(),
    }
    from importlib.metadata import PackageNotFoundError, version

    for mod in ("scipy", "numba", "torch"):  # metadata only: importing torch costs seconds
        try:
            info[mod] = version(mod)
        except PackageNotFoundError:  # pragma: no cover - optional at runtime
            info[mod] = None
    return info
