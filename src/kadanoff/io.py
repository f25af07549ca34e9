"""Files: atomic writes, ``.npz`` without pickle, strict JSON metadata (versions, git commit).

Every file kadanoff writes goes through :func:`atomic_path` (directly, or through
:func:`write_bytes`, :func:`write_text`, :func:`write_json`, :func:`write_npz` and
:func:`save_figure`): it is written to a temporary file in the same folder, flushed to
disk (``fsync``) and renamed onto its name (``os.replace``), so an interrupted run never
leaves a half-written file behind. Files get the mode a plain ``open(path, "w")`` would
give them, ``0o666 & ~umask`` (``0644`` under umask ``022``, ``0664`` under ``002``),
also when they replace an existing file.

JSON is strict (RFC 8259): non-finite floats (NaN, +-inf) are written as ``null``, since
strict parsers reject the ``NaN`` and ``Infinity`` tokens Python's :mod:`json` would emit.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_path",
    "write_bytes",
    "write_text",
    "write_json",
    "write_npz",
    "save_figure",
    "read_npz",
    "to_json",
    "strict_json",
    "environment_info",
    "git_commit",
    "FileFormatError",
]


class FileFormatError(ValueError):
    """A file is missing, corrupt, or not one kadanoff wrote."""


def _new_file(folder: Path, prefix: str, suffix: str) -> tuple[Path, int]:
    """Create an empty, uniquely named file in ``folder`` with mode ``0o666 & ~umask``.

    Unlike :func:`tempfile.mkstemp` (always ``0600``) the kernel applies the umask, so no
    process-wide ``os.umask`` call (racy in threads) is needed. Returns the path and mode.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        try:
            mode = os.fstat(fd).st_mode & 0o7777
        finally:
            os.close(fd)
        return path, mode
    raise FileExistsError(f"could not create a temporary file in {folder}")  # pragma: no cover


def _fsync(path: Path, *, folder: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    except OSError:
        if folder:  # some systems cannot open folders; the rename is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


def _naming(e: OSError, path: Path) -> OSError:
    """``e`` (same errno, so the same OSError subclass) as a message naming ``path``."""
    message = f"cannot write {path} ({e.strerror or e})"
    return OSError(e.errno, message) if e.errno is not None else OSError(message)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` atomically.

    The caller (or a library such as NumPy, safetensors or Matplotlib) writes the
    temporary file; then it gets mode ``0o666 & ~umask``, is flushed to disk and renamed
    onto ``path``, and the rename is flushed too. The temporary name keeps ``path``'s
    suffix (``suffix`` overrides it) before a final ``.tmp``. Missing folders are created.
    On error the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    OSError
        Naming ``path`` (never the temporary file) when the folder cannot be written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp, mode = _new_file(
            folder, f".{path.name}.", (suffix if suffix is not None else path.suffix) + ".tmp"
        )
    except OSError as e:
        raise _naming(e, path) from e
    try:
        try:
            yield tmp
            os.chmod(tmp, mode)  # in case the writer replaced the file or changed its mode
            _fsync(tmp)
            os.replace(tmp, path)
        except OSError as e:  # name the file the user asked for, not the temporary
            raise _naming(e, path) from e
        _fsync(folder, folder=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    return write_bytes(path, text.encode("utf-8"))


def save_figure(fig: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """``fig.savefig(path, **kwargs)``, atomically; the format comes from ``path``'s suffix.

    Takes any object with Matplotlib's ``savefig`` (this module does not import Matplotlib).
    """
    path = Path(path)
    kwargs.setdefault("format", path.suffix.lstrip(".") or None)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        fig.savefig(f, **kwargs)
    return path


def strict_json(obj: Any) -> Any:
    """``obj`` with NumPy scalars and arrays as Python values and non-finite floats as ``None``.

    Dicts, lists and tuples are converted recursively (tuples become lists).
    """
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic | np.ndarray):
        return strict_json(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def to_json(obj: Any, **kw: Any) -> str:
    """Strict JSON text of ``obj``: NaN and +-inf become ``null`` (see :func:`strict_json`);
    NumPy values and paths are converted. Keyword arguments go to :func:`json.dumps`."""
    return json.dumps(strict_json(obj), default=_json_default, allow_nan=False, **kw)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented strict JSON (non-finite floats as ``null``), atomically."""
    return write_text(path, to_json(obj, indent=2, sort_keys=False) + "\n")


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
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **payload)  # type: ignore[arg-type]
    return path


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with entries, an empty archive
_NPY_MAGIC = b"\x93NUMPY"


def read_npz(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_npz`: ``(arrays, meta)``. Never unpickles.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    IsADirectoryError
        ``path`` is a folder.
    FileFormatError
        ``path`` is not an ``.npz`` archive (a text file, a ``.npy`` file, ...), is
        truncated or corrupt, holds pickled objects, or lacks kadanoff's ``meta``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an .npz file")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(_ZIP_MAGIC):
        if head.startswith(_NPY_MAGIC):
            what = "a single-array .npy file"
        elif not head:
            what = "empty"
        else:
            what = f"not an .npz archive (it starts with {head!r})"
        raise FileFormatError(f"{path} is {what}; give an .npz file written by kadanoff")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower() or "object arrays" in str(e).lower():
            raise FileFormatError(
                f"{path} holds pickled objects; kadanoff refuses to load it ({e})"
            ) from e
        raise FileFormatError(f"{path} is not a readable .npz file ({e})") from e
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
