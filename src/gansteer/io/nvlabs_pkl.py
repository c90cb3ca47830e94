"""NVlabs network pickles (StyleGAN2-ADA / StyleGAN3 `.pkl`) read and written without running their code.

NVlabs pickles its networks through `torch_utils.persistence`: every module is stored as a call
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta = dict(type='class', version=6,
module_src=<the defining module's whole source code>, class_name=..., state=<the module's __dict__>)``. Loading it
with plain `pickle` would `exec` that source. Here a restricted unpickler resolves only the globals listed in
`ALLOWED`; the persistence hook becomes `PersistentRecord`, which keeps the class name and state as data and never
compiles, imports or executes the embedded source. Tensors arrive through torch's storage rebuild path
(``torch.storage._load_from_bytes`` holds a legacy `torch.save` of the storage, which we read with
``weights_only=True``). Anything else a pickle asks for (``os.system``, ``builtins.eval`` ...) is refused before it
can be called.

`dump_nvlabs_pkl` writes the same object layout (records with a module-source string, OrderedDict parameter tables,
numpy-scalar gains, EasyDict kwargs) so tests exercise the real loading path.
"""

from __future__ import annotations

import io
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import GansteerError
from .checkpoints import atomic_path, first_line

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version in StyleGAN2-ADA and StyleGAN3


@dataclass
class PersistentRecord:
    """Stand-in for one NVlabs persistent object: its class name and state (module `__dict__`), nothing executed."""

    class_name: str
    state: dict[str, Any]
    module_src: str = field(default="", repr=False)  # kept as an inert string, only to report / rewrite it
    version: int = PERSISTENCE_VERSION

    @classmethod
    def from_meta(cls, meta: Any) -> PersistentRecord:
        if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
            raise GansteerError("persistent object record is malformed; expected dict(type='class', state={...})")
        return cls(str(meta.get("class_name")), dict(meta["state"]), str(meta.get("module_src", "")),
                   int(meta.get("version", 0)))

    def children(self) -> dict[str, PersistentRecord]:
        return {k: v for k, v in (self.state.get("_modules") or {}).items() if isinstance(v, PersistentRecord)}

    def tensors(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) for every parameter and buffer, like `nn.Module.state_dict()`."""
        for table in ("_parameters", "_buffers"):
            for name, value in (self.state.get(table) or {}).items():
                if isinstance(value, Tensor):
                    yield prefix + name, value
        for name, child in self.children().items():
            yield from child.tensors(f"{prefix}{name}.")

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.tensors())

    def find(self, path: str) -> PersistentRecord | None:
        """The sub-record at a dotted path (``"synthesis.b4.conv1"``), or None."""
        node: PersistentRecord | None = self
        for part in path.split(".") if path else []:
            node = node.children().get(part) if node is not None else None
        return node

    def attr(self, path: str, default: Any = None) -> Any:
        """A plain attribute of a sub-record, e.g. ``attr("mapping.fc0.bias_gain")``."""
        owner, _, name = path.rpartition(".")
        node = self.find(owner)
        return node.state.get(name, default) if node is not None else default


class EasyDict(dict):
    """Stand-in for `dnnlib.util.EasyDict` (a dict with attribute access); holds the kwargs NVlabs stores."""

    def __setstate__(self, state: Any) -> None:  # BUILD with an empty or dict state
        if isinstance(state, dict):
            self.update(state)


def _rebuild_tensor(storage: Any, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> Tensor:
    if not isinstance(storage, torch.TypedStorage):
        raise GansteerError(f"tensor record refers to {type(storage).__name__}; expected a tensor storage")
    t = torch.empty((0,), dtype=storage.dtype)
    return t.set_(storage._untyped_storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, *_: Any) -> Tensor:
    if not isinstance(data, Tensor):
        raise GansteerError(f"parameter record holds {type(data).__name__}; expected a tensor")
    return data


def _storage_from_bytes(data: bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notices
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


_NUMERIC_DTYPES = {f"{kind}{size}" for kind in "fiu" for size in (1, 2, 4, 8)} | {"b1"}


def _numpy_dtype(name: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if name not in _NUMERIC_DTYPES:
        raise GansteerError(f"numpy dtype {name!r} is not a plain number type")
    return np.dtype(name)


def _numpy_scalar(dtype: Any, data: Any = b"") -> Any:
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or not isinstance(data, bytes):
        raise GansteerError("numpy scalar record is malformed; expected a numeric dtype and its bytes")
    return np.frombuffer(data, dtype=dtype)[0].item()  # a Python int / float


# (module, name) -> what it becomes. Everything else is refused before it can be called.
ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentRecord.from_meta,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        target = ALLOWED.get((module, name))
        if target is None:
            raise GansteerError(
                f"{self.source}: refused to unpickle global {module}.{name} (only tensors, dicts and NVlabs "
                "persistence records are allowed; nothing was run)"
            )
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise GansteerError(f"{self.source}: unexpected persistent id in a network pickle; expected plain pickle")


def load_nvlabs_pkl(path: str | Path) -> Any:
    """Unpickle an NVlabs network pickle with the allow-list; modules come back as `PersistentRecord`s."""
    path = Path(path)
    if not path.is_file():
        raise GansteerError(f"network pickle {path} does not exist")
    with open(path, "rb") as f:
        try:
            return _RestrictedUnpickler(f, str(path)).load()
        except GansteerError as e:
            message = str(e)
            raise GansteerError(message if message.startswith(str(path)) else f"{path}: {message}") from None
        except Exception as e:  # noqa: BLE001  (a corrupt pickle can raise almost anything)
            raise GansteerError(f"{path}: not a readable network pickle ({first_line(e)})") from None


# ------------------------------------------------------------------------------------------------------ writing
@dataclass(frozen=True)
class GlobalRef:
    """A reference to ``module.name`` written into a pickle without that module existing here."""

    module: str
    name: str

    def __call__(self, *args: Any) -> Any:  # pickle insists that a reduce function be callable
        raise GansteerError(f"{self.module}.{self.name} is a reference for writing pickles, not a function")


RECONSTRUCT = GlobalRef("torch_utils.persistence", "_reconstruct_persistent_obj")
EASYDICT = GlobalRef("dnnlib.util", "EasyDict")
NUMPY_SCALAR = GlobalRef("numpy.core.multiarray", "scalar")  # the spelling numpy < 2 wrote in 2021


class _Writer(pickle._Pickler):  # the pure-Python pickler lets us emit GLOBAL opcodes for absent modules
    dispatch = dict(pickle._Pickler.dispatch)

    def save_ref(self, obj: GlobalRef) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    def save_easydict(self, obj: EasyDict) -> None:  # what pickle does for a dict subclass: NEWOBJ + SETITEMS
        self.save(EASYDICT)
        self.save(())
        self.write(pickle.NEWOBJ)
        self.memoize(obj)
        self.write(pickle.MARK)
        for key, value in obj.items():
            self.save(key)
            self.save(value)
        self.write(pickle.SETITEMS)

    def save_record(self, obj: PersistentRecord) -> None:
        meta = dict(type="class", version=obj.version, module_src=obj.module_src, class_name=obj.class_name,
                    state=obj.state)
        self.save_reduce(RECONSTRUCT, (meta,), obj=obj)

    def save_float64(self, obj: np.float64) -> None:  # numpy scalars as numpy < 2 pickled them
        self.save_reduce(NUMPY_SCALAR, (obj.dtype, obj.tobytes()), obj=obj)

    dispatch[GlobalRef] = save_ref
    dispatch[EasyDict] = save_easydict
    dispatch[PersistentRecord] = save_record
    dispatch[np.float64] = save_float64


def dump_nvlabs_pkl(obj: Any, path: str | Path) -> Path:
    """Pickle `obj` (dicts of `PersistentRecord`s, tensors, EasyDicts ...) atomically, protocol 3 like Python 3.7."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _Writer(buffer, protocol=3).dump(obj)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


def module_state(
    *, parameters: dict[str, Tensor] | None = None, buffers: dict[str, Tensor] | None = None,
    modules: dict[str, PersistentRecord] | None = None, **attributes: Any,
) -> dict[str, Any]:
    """The `__dict__` an `nn.Module` pickles: hook tables, parameter / buffer / child tables, plain attributes."""
    state: dict[str, Any] = {"training": False}
    state["_parameters"] = OrderedDict((k, torch.nn.Parameter(v.detach().clone(), requires_grad=False))
                                       for k, v in (parameters or {}).items())
    state["_buffers"] = OrderedDict((k, v.detach().clone()) for k, v in (buffers or {}).items())
    state["_non_persistent_buffers_set"] = set()
    for hooks in ("_backward_hooks", "_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks",
                  "_load_state_dict_pre_hooks"):
        state[hooks] = OrderedDict()
    state["_modules"] = OrderedDict(modules or {})
    state.update(attributes)
    return state
