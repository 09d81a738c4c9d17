"""ONNX -> TensorRT engine (cached on disk) and the TensorRT + pycuda scorer.

Written against TensorRT's documented Python API for 10.x and 11.x (named I/O tensors)::

    Builder -> create_network(flags) -> OnnxParser.parse -> optimisation profile (batch min/opt/max)
            -> build_serialized_network -> engine file (atomic) + timing cache
    Runtime.deserialize_cuda_engine -> create_execution_context -> set_input_shape /
            set_tensor_address -> execute_async_v3(stream)

Precision
---------
``fp16`` (the default) on TensorRT 10.x sets ``BuilderFlag.FP16`` on the float32 graph (weak
typing: TensorRT picks FP16 kernels where it likes). TensorRT 11 removed that flag: every network
is strongly typed, so precision must be in the graph. There we convert the float32 ONNX graph to
FP16 first (:func:`engine.export.onnx_to_fp16`, onnxconverter-common's converter, I/O kept float32
with casts) and create the network with ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``.
``fp32`` builds the float32 graph as is on both.

Cache
-----
Engines are tied to the GPU architecture and the TensorRT version, so the cache file name carries a
digest of the key ``{engine format, model hash, GPU name, compute capability, TensorRT version,
precision, batch profile}`` (see :func:`cache_key`): when any of them changes the file is not found
and the engine is rebuilt. A ``.json`` beside each engine records the key; an engine whose record
does not match, or that fails to deserialize, is rebuilt too. Files are written atomically. A
timing cache per GPU/TensorRT version speeds rebuilds. Default folder: ``$FUIQA_CACHE/trt`` or
``~/.cache/fuiqa/trt``.

Nothing here is imported unless TensorRT is asked for; a missing ``tensorrt``/``pycuda``/GPU raises
:class:`~engine.backend.BackendUnavailable` whose message says what is missing (auto prints it).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import modelpack
from .export import INPUT_NAME, OUTPUT_NAMES
from .backend import BackendUnavailable
from .scorers import Scorer, ScoreResult, _concat

#: bump when the build recipe changes (invalidates every cached engine)
ENGINE_FORMAT = 1
#: optimisation profile for the dynamic batch axis: (min, opt, max)
DEFAULT_PROFILE = (1, 8, 32)
WORKSPACE_BYTES = 1 << 30


class TensorRTError(BackendUnavailable):
    """TensorRT is present but could not build or run the engine."""


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: tuple[int, int]
    trt_version: str
    index: int = 0

    @property
    def sm(self) -> str:
        return f"{self.compute_capability[0]}{self.compute_capability[1]}"


# ----------------------------------------------------------------------------- discovery


def import_tensorrt():
    try:
        import tensorrt as trt
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken install raising OSError
        raise BackendUnavailable(f"TensorRT not installed ({type(e).__name__}: {e})") from None
    return trt


def import_cuda():
    try:
        import pycuda.driver as cuda
    except Exception as e:  # noqa: BLE001
        raise BackendUnavailable(f"pycuda not installed ({type(e).__name__}: {e})") from None
    try:
        cuda.init()
        n = cuda.Device.count()
    except Exception as e:  # noqa: BLE001 - pycuda raises its own error types (no driver, no device)
        raise BackendUnavailable(f"no usable CUDA driver/GPU ({type(e).__name__}: {e})") from None
    if n < 1:
        raise BackendUnavailable("no NVIDIA GPU found (CUDA reports 0 devices)")
    return cuda


def trt_major(trt) -> int:
    m = re.match(r"(\d+)", str(getattr(trt, "__version__", "0")))
    return int(m.group(1)) if m else 0


def probe(device: int = 0):
    """-> ``(tensorrt module, pycuda.driver module, GpuInfo)``; raises BackendUnavailable saying why not."""
    trt = import_tensorrt()
    if trt_major(trt) < 10:
        raise BackendUnavailable(f"TensorRT {trt.__version__} is too old (need 10.x or 11.x)")
    cuda = import_cuda()
    try:
        dev = cuda.Device(device)
        info = GpuInfo(str(dev.name()), tuple(int(v) for v in dev.compute_capability()), str(trt.__version__), device)
    except Exception as e:  # noqa: BLE001
        raise BackendUnavailable(f"CUDA device {device} is not usable ({type(e).__name__}: {e})") from None
    return trt, cuda, info


# ----------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    base = os.environ.get("FUIQA_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "fuiqa") / "trt"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:40] or "gpu"


def cache_key(model_hash: str, gpu: GpuInfo, precision: str, profile=DEFAULT_PROFILE) -> dict:
    """Everything an engine depends on. A change in any field means a different engine file."""
    return {
        "engine_format": ENGINE_FORMAT,
        "model_hash": model_hash,
        "gpu": gpu.name,
        "compute_capability": f"{gpu.compute_capability[0]}.{gpu.compute_capability[1]}",
        "tensorrt": gpu.trt_version,
        "precision": precision,
        "profile": [int(v) for v in profile],
    }


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def engine_path(cache_dir, key: dict) -> Path:
    name = (
        f"{key['model_hash'][:12]}-{_slug(key['gpu'])}-sm{key['compute_capability'].replace('.', '')}"
        f"-trt{key['tensorrt']}-{key['precision']}-{key_digest(key)}.engine"
    )
    return Path(cache_dir) / name


def timing_cache_path(cache_dir, gpu: GpuInfo) -> Path:
    return Path(cache_dir) / f"timing-{_slug(gpu.name)}-sm{gpu.sm}-trt{gpu.trt_version}.cache"


# ----------------------------------------------------------------------------- build


def precision_mode(trt, precision: str) -> str:
    """``fp32`` | ``fp16-flag`` (10.x BuilderFlag.FP16) | ``fp16-strong`` (11.x: FP16 graph, strongly typed)."""
    if precision == "fp32":
        return "fp32"
    if precision != "fp16":
        raise ValueError(f"precision must be 'fp16' or 'fp32', not {precision!r}")
    flag = getattr(getattr(trt, "BuilderFlag", None), "FP16", None)
    if trt_major(trt) >= 11 or flag is None:
        return "fp16-strong"
    return "fp16-flag"


def _log(msg: str, log=None) -> None:
    (log or (lambda m: print(m, file=sys.stderr)))(msg)


def build_engine(trt, onnx_bytes: bytes, *, precision: str = "fp16", profile=DEFAULT_PROFILE,
                 timing_cache: Path | None = None, logger=None, log=None) -> bytes:
    """Build a serialized engine from ONNX bytes (see the module docstring for the precision path)."""
    mode = precision_mode(trt, precision)
    logger = logger or trt.Logger(trt.Logger.WARNING)
    flags = 0
    strong = mode == "fp16-strong" or trt_major(trt) >= 11
    if strong:
        st = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        if st is not None:  # accepted (and implied) on 11.x; opt-in on 10.x
            flags |= 1 << int(st)
    graph = onnx_bytes
    if mode == "fp16-strong":
        from .export import onnx_to_fp16

        try:
            graph = onnx_to_fp16(onnx_bytes)
        except ImportError as e:
            raise TensorRTError(
                f"FP16 on TensorRT {trt.__version__} needs an FP16 ONNX graph and onnxconverter-common is "
                f"missing ({e}); install '.[gpu]' or use --precision fp32"
            ) from None
    builder = trt.Builder(logger)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(graph):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or "no detail"
        raise TensorRTError(f"TensorRT's ONNX parser rejected the model: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if mode == "fp16-flag":
        config.set_flag(trt.BuilderFlag.FP16)
    mn, opt, mx = (int(v) for v in profile)
    if not 1 <= mn <= opt <= mx:
        raise ValueError(f"batch profile must be 1 <= min <= opt <= max, not {profile}")
    prof = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        inp = network.get_input(i)
        rest = tuple(int(d) for d in tuple(inp.shape)[1:])
        if any(d < 0 for d in rest):
            raise TensorRTError(f"input {inp.name} has dynamic non-batch dims {tuple(inp.shape)}")
        prof.set_shape(inp.name, (mn, *rest), (opt, *rest), (mx, *rest))
    config.add_optimization_profile(prof)
    tc = None
    if timing_cache is not None:
        data = b""
        if Path(timing_cache).exists():
            data = Path(timing_cache).read_bytes()
        try:
            tc = config.create_timing_cache(data)
        except Exception:  # noqa: BLE001 - unreadable timing cache: start a fresh one
            tc = config.create_timing_cache(b"")
        config.set_timing_cache(tc, False)
    _log(f"building TensorRT engine ({precision}, {mode}, batch {mn}/{opt}/{mx}); this takes a while once", log)
    ser = builder.build_serialized_network(network, config)
    if ser is None:
        raise TensorRTError("TensorRT could not build the engine (build_serialized_network returned None)")
    if timing_cache is not None:
        try:
            modelpack.atomic_write_bytes(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
        except Exception as e:  # noqa: BLE001 - a timing cache is an optimisation only
            _log(f"warning: could not save the TensorRT timing cache {timing_cache}: {e}", log)
    return bytes(memoryview(ser))


def get_engine(pkg: modelpack.ModelPackage, trt, gpu: GpuInfo, *, cache_dir=None, precision: str = "fp16",
               profile=DEFAULT_PROFILE, rebuild: bool = False, log=None) -> tuple[Path, bytes, bool]:
    """The cached engine for ``pkg`` on ``gpu`` (built and cached when missing or stale).

    Returns ``(path, engine bytes, built_now)``.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(pkg.model_hash, gpu, precision, profile)
    path = engine_path(cache_dir, key)
    meta = path.with_suffix(".json")
    if not rebuild and path.exists() and meta.exists():
        try:
            recorded = json.loads(meta.read_text())
        except (OSError, ValueError):
            recorded = None
        if recorded == key:
            return path, path.read_bytes(), False
        _log(f"cached TensorRT engine {path} does not match its key; rebuilding", log)
    data = build_engine(trt, pkg.onnx, precision=precision, profile=profile,
                        timing_cache=timing_cache_path(cache_dir, gpu), log=log)
    try:
        modelpack.atomic_write_bytes(path, data)
        modelpack.atomic_write_bytes(meta, json.dumps(key, indent=2, sort_keys=True).encode())
    except OSError as e:
        _log(f"warning: could not cache the TensorRT engine in {cache_dir}: {e}", log)
    return path, data, True


# ----------------------------------------------------------------------------- scorer


def _is_input(trt, engine, name) -> bool:
    return engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT


class TensorRTScorer(Scorer):
    """TensorRT engine + pycuda buffers (pagelocked host, device, one stream)."""

    backend = "tensorrt"

    def __init__(self, package, cache_dir=None, precision: str = "fp16", profile=DEFAULT_PROFILE,
                 rebuild: bool = False, device: int = 0, log=None):
        super().__init__(package)
        trt, cuda, gpu = probe(device)
        self.trt, self.cuda, self.gpu = trt, cuda, gpu
        self.precision = precision
        self.mode = precision_mode(trt, precision)
        self.profile = tuple(int(v) for v in profile)
        self.max_batch = self.profile[2]
        self.grow_count = 0
        self._cap = 0
        self._dev: dict[str, object] = {}
        self._host: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # one set of device buffers and one context: one call at a time
        self._ctx = cuda.Device(device).retain_primary_context()
        self.logger = trt.Logger(trt.Logger.WARNING)
        with self._active():
            self.engine_file, data, built = get_engine(package, trt, gpu, cache_dir=cache_dir, precision=precision,
                                                       profile=self.profile, rebuild=rebuild, log=log)
            self.runtime = trt.Runtime(self.logger)
            self.engine = self.runtime.deserialize_cuda_engine(data)
            if self.engine is None and not built:  # stale/corrupt cache file: rebuild once
                _log(f"cached TensorRT engine {self.engine_file} does not load; rebuilding", log)
                self.engine_file, data, built = get_engine(package, trt, gpu, cache_dir=cache_dir, precision=precision,
                                                           profile=self.profile, rebuild=True, log=log)
                self.engine = self.runtime.deserialize_cuda_engine(data)
            if self.engine is None:
                raise TensorRTError(f"TensorRT could not deserialize the engine {self.engine_file}")
            self.context = self.engine.create_execution_context()
            self.stream = cuda.Stream()
            self._bind_names()
        self.built_now = built
        self.reason = (
            f"TensorRT {gpu.trt_version} on {gpu.name} (sm {gpu.compute_capability[0]}.{gpu.compute_capability[1]}), "
            f"{precision.upper()} ({self.mode}), engine {'built' if built else 'from cache'}: {self.engine_file}"
        )

    @contextmanager
    def _active(self):
        """Make our CUDA context current on this thread (the GUI scores from a worker thread)."""
        self._ctx.push()
        try:
            yield
        finally:
            self.cuda.Context.pop()

    def _bind_names(self) -> None:
        trt, eng = self.trt, self.engine
        names = [eng.get_tensor_name(i) for i in range(eng.num_io_tensors)]
        inputs = [n for n in names if _is_input(trt, eng, n)]
        outputs = [n for n in names if not _is_input(trt, eng, n)]
        if len(inputs) != 1:
            raise TensorRTError(f"engine {self.engine_file} has inputs {inputs}; expected one ({INPUT_NAME!r})")
        if len(outputs) < 2:
            raise TensorRTError(f"engine {self.engine_file} has outputs {outputs}; expected {list(OUTPUT_NAMES)}")
        self.input_name = inputs[0]
        # match outputs by name (score, heatmap, attention [, plane, criteria, ood]), else engine order
        from .model import OUTPUTS

        if all(n in outputs for n in OUTPUT_NAMES[:2]):
            self.output_names = [n for n in OUTPUTS if n in outputs]
        else:
            self.output_names = outputs[:3]
        self.dtypes = {n: np.dtype(trt.nptype(eng.get_tensor_dtype(n))) for n in [self.input_name, *self.output_names]}
        S = self.input_size
        # per-sample output shapes: set batch 1 and ask the context
        self.context.set_input_shape(self.input_name, (1, 1, S, S))
        self.sample_shapes = {self.input_name: (1, S, S)}
        for n in self.output_names:
            shp = tuple(int(d) for d in tuple(self.context.get_tensor_shape(n)))
            if not shp or shp[0] != 1 or any(d < 0 for d in shp):
                raise TensorRTError(f"engine output {n} has shape {shp} at batch 1")
            self.sample_shapes[n] = shp[1:]

    def _ensure(self, n: int) -> None:
        """Grow device + pagelocked host buffers to hold a batch of ``n`` (powers of two, ≤ max)."""
        if n <= self._cap:
            return
        cap = max(n, self.profile[1], 1)
        cap = min(self.max_batch, 1 << (cap - 1).bit_length())
        cap = max(cap, n)
        cuda = self.cuda
        for d in self._dev.values():
            try:
                d.free()
            except Exception:  # noqa: BLE001
                pass
        self._dev, self._host = {}, {}
        for name, shp in self.sample_shapes.items():
            dt = self.dtypes[name]
            self._host[name] = cuda.pagelocked_empty((cap, *shp), dt)
            self._dev[name] = cuda.mem_alloc(max(1, int(np.prod((cap, *shp))) * dt.itemsize))
            self.context.set_tensor_address(name, int(self._dev[name]))
        self._cap = cap
        self.grow_count += 1

    def score_tensor(self, x):
        x = np.asarray(x)
        if x.shape[0] > self.max_batch:
            return _concat([self.score_tensor(x[a : a + self.max_batch]) for a in range(0, x.shape[0], self.max_batch)])
        n = int(x.shape[0])
        cuda = self.cuda
        with self._lock, self._active():
            self._ensure(n)
            hin = self._host[self.input_name][:n]
            np.copyto(hin, x, casting="same_kind")
            if self.context.set_input_shape(self.input_name, tuple(int(v) for v in hin.shape)) is False:
                raise TensorRTError(f"TensorRT refused input shape {hin.shape} (profile {self.profile})")
            cuda.memcpy_htod_async(self._dev[self.input_name], hin, self.stream)
            if not self.context.execute_async_v3(self.stream.handle):
                raise TensorRTError("TensorRT execute_async_v3 failed")
            for name in self.output_names:
                cuda.memcpy_dtoh_async(self._host[name][:n], self._dev[name], self.stream)
            self.stream.synchronize()
            outs = [self._host[name][:n].astype(np.float32, copy=True) for name in self.output_names]
        from .scorers import result_from_outputs

        return result_from_outputs(dict(zip(self.output_names, outs)), self.package)

    def close(self) -> None:
        try:
            for d in self._dev.values():
                d.free()
        except Exception:  # noqa: BLE001
            pass
        self._dev, self._host, self._cap = {}, {}, 0
        for attr in ("context", "engine", "runtime"):
            if hasattr(self, attr):
                delattr(self, attr)
