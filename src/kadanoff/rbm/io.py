"""Model files: RBMs (and, through :mod:`kadanoff.dbn.io`, stacks of them) as ``.safetensors``
plus a sibling ``.json``.

``X.safetensors`` holds the tensors (``weights``, ``visible_bias``, ``hidden_bias`` for an
RBM; ``layers.<i>.weights`` etc. for a DBN) and, in its metadata header under
``"kadanoff"``, the JSON description (kind, unit types, shapes, dtype, user metadata such as
the training config and seed, and versions from :func:`kadanoff.io.environment_info`).
``X.json`` is a human-readable copy of that description. :func:`load_model` trusts only the
``.safetensors`` file (the ``.json`` is informational). Both are written atomically.
:func:`write_layers` and :func:`read_layers` handle any stack of RBMs; deep belief networks
are saved and loaded by :func:`kadanoff.dbn.save_model` / :func:`kadanoff.dbn.load_model`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..io import FileFormatError, atomic_path, environment_info, to_json, write_json
from .model import RBM, rbm_class

__all__ = [
    "save_model",
    "load_model",
    "write_layers",
    "read_layers",
    "model_paths",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "kadanoff.model"
FORMAT_VERSION = 1
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_PARAMS = ("weights", "visible_bias", "hidden_bias")


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(X.safetensors, X.json)`` for ``path`` (``X`` or ``X.safetensors``).

    An existing folder (such as the ``--out`` of ``kadanoff train``) means the model in it,
    ``folder/model.safetensors``.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "model.safetensors"
    if p.suffix == ".json":
        p = p.with_suffix("")
    if p.suffix != ".safetensors":
        p = p.with_name(p.name + ".safetensors")
    return p, p.with_suffix(".json")


def _dtype_name(dtype: torch.dtype) -> str:
    for k, v in _DTYPES.items():
        if v == dtype:
            return k
    raise ValueError(f"only float32 and float64 models can be saved, not {dtype}")


def _layer_info(rbm: RBM) -> dict[str, Any]:
    return {
        "units": rbm.units,
        "n_visible": rbm.n_visible,
        "n_hidden": rbm.n_hidden,
        "dtype": _dtype_name(rbm.dtype),
    }


def save_model(
    model: RBM, path: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Save an RBM to ``X.safetensors`` and ``X.json``.

    Parameters
    ----------
    model : RBM (a deep belief network: :func:`kadanoff.dbn.save_model`)
    path : str or Path
        ``X.safetensors`` or ``X`` (the suffix is added), or an existing folder
        (``folder/model.safetensors``).
    metadata : mapping, optional
        JSON-serializable extras (training config, seed, ...), stored under ``"metadata"``.

    Returns
    -------
    Path of the ``.safetensors`` file.
    """
    if not isinstance(model, RBM):
        raise TypeError(
            f"kadanoff.rbm.io.save_model takes an RBM, got {type(model).__name__} (for an RBM "
            "or a DeepBeliefNetwork use kadanoff.dbn.save_model)"
        )
    return write_layers([model], path, kind="rbm", metadata=metadata)


def write_layers(
    layers: Sequence[RBM],
    path: str | os.PathLike,
    *,
    kind: str,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save a stack of RBMs (``kind`` ``"rbm"`` for one, ``"dbn"``); see :func:`save_model`."""
    from safetensors.torch import save_file

    st_path, json_path = model_paths(path)
    layers = list(layers)
    if not layers:
        raise ValueError("cannot save a deep belief network with no layers")
    if kind not in ("rbm", "dbn") or (kind == "rbm" and len(layers) != 1):
        raise ValueError(f"kind must be 'rbm' (one layer) or 'dbn', got {kind!r}")
    tensors: dict[str, torch.Tensor] = {}
    for i, layer in enumerate(layers):
        prefix = "" if kind == "rbm" else f"layers.{i}."
        for name, t in zip(_PARAMS, layer.parameters(), strict=True):
            t = t.detach()
            if not torch.all(torch.isfinite(t)):
                raise ValueError(f"refusing to save non-finite values in {prefix}{name}")
            tensors[prefix + name] = t.to("cpu").contiguous().clone()
    info: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "layers": [_layer_info(m) for m in layers],
        "metadata": dict(metadata) if metadata is not None else {},
        "environment": environment_info(),
    }
    header = to_json(info)  # raises TypeError early if metadata is not serializable
    with atomic_path(st_path) as tmp:
        save_file(tensors, str(tmp), metadata={"kadanoff": header})
    write_json(json_path, info)
    return st_path


def _fail(path: Path, msg: str) -> FileFormatError:
    return FileFormatError(f"{path}: {msg}")


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> RBM:
    """Load an RBM saved by :func:`save_model`.

    ``path`` is ``X.safetensors``, ``X``, or a folder holding ``model.safetensors`` (the
    ``--out`` of ``kadanoff train``). A deep belief network's file is refused (load it with
    :func:`kadanoff.dbn.load_model`, which reads both kinds).

    Raises
    ------
    FileFormatError
        When the file is missing, unreadable or truncated, lacks kadanoff metadata, or holds
        tensors with wrong names, shapes, dtypes or non-finite values.
    """
    kind, layers, _ = read_layers(path, device=device)
    if kind != "rbm":
        raise FileFormatError(
            f"{model_paths(path)[0]} holds a deep belief network: load it with "
            "kadanoff.dbn.load_model"
        )
    return layers[0]


def read_layers(
    path: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> tuple[str, list[RBM], dict[str, Any]]:
    """``(kind, layers, info)`` of a model file: ``"rbm"`` or ``"dbn"``, the RBMs in file
    order (checked as :func:`load_model` says) and the JSON description."""
    from safetensors import SafetensorError, safe_open

    st_path, _ = model_paths(path)
    if not st_path.is_file():
        raise FileFormatError(
            f"no model file {st_path}: give the path of a .safetensors file written by "
            "kadanoff, or the --out folder of `kadanoff train`"
        )
    try:
        with safe_open(str(st_path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise _fail(st_path, f"not a readable safetensors file, corrupt or truncated ({e})") from e
    if "kadanoff" not in header:
        raise _fail(st_path, "a safetensors file without kadanoff metadata (not saved by kadanoff)")
    try:
        info = json.loads(header["kadanoff"])
    except json.JSONDecodeError as e:
        raise _fail(st_path, f"its kadanoff metadata is not valid JSON ({e})") from e
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise _fail(st_path, f"its metadata does not describe a {FORMAT_NAME} file")
    if info.get("format_version") != FORMAT_VERSION:
        raise _fail(
            st_path,
            f"format version {info.get('format_version')!r} is not supported "
            f"(this kadanoff reads version {FORMAT_VERSION})",
        )
    kind = info.get("kind")
    layer_infos = info.get("layers")
    if kind not in ("rbm", "dbn") or not isinstance(layer_infos, list) or not layer_infos:
        raise _fail(st_path, "metadata lacks a valid 'kind' and 'layers' description")
    if kind == "rbm" and len(layer_infos) != 1:
        raise _fail(st_path, "an RBM file must describe exactly one layer")
    expected: set[str] = set()
    layers: list[RBM] = []
    for i, li in enumerate(layer_infos):
        prefix = "" if kind == "rbm" else f"layers.{i}."
        try:
            cls = rbm_class(li["units"])
            nv, nh = int(li["n_visible"]), int(li["n_hidden"])
            dtype = _DTYPES[li["dtype"]]
        except (KeyError, TypeError, ValueError) as e:
            raise _fail(st_path, f"bad description of layer {i}: {li!r} ({e})") from e
        shapes = {"weights": (nv, nh), "visible_bias": (nv,), "hidden_bias": (nh,)}
        params = []
        for name in _PARAMS:
            key = prefix + name
            expected.add(key)
            if key not in tensors:
                raise _fail(st_path, f"missing tensor {key!r}")
            t = tensors[key]
            if t.dtype != dtype:
                raise _fail(
                    st_path, f"tensor {key!r} has dtype {t.dtype}, the metadata says {li['dtype']}"
                )
            if tuple(t.shape) != shapes[name]:
                raise _fail(
                    st_path,
                    f"tensor {key!r} has shape {tuple(t.shape)}, expected {shapes[name]} "
                    f"for a {nv} x {nh} layer",
                )
            if not torch.all(torch.isfinite(t)):
                raise _fail(st_path, f"tensor {key!r} holds non-finite values (NaN or inf)")
            params.append(t)
        layers.append(cls.from_parameters(*params, dtype=dtype, device=device))
    extra = set(tensors) - expected
    if extra:
        raise _fail(st_path, f"unexpected tensors {sorted(extra)}")
    return kind, layers, info
