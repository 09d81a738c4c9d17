"""TensorRT export/scorer logic, tested with fake ``tensorrt`` and ``pycuda`` modules.

TensorRT and pycuda cannot be installed on machines without an NVIDIA GPU. The fakes below follow
TensorRT's documented Python API (Builder, OnnxParser, optimisation profiles, named I/O tensors,
execute_async_v3) and pycuda's (mem_alloc, pagelocked_empty, memcpy_*_async, Stream); the fake
engine really runs the graph it was given (with ONNX Runtime) out of the fake device memory, so the
whole data path — names, shapes, buffer sizes and growth, copies — is checked against ORT.
The real-GPU test at the end skips with a reason where there is no GPU.
"""
import json
import sys
import types

import numpy as np
import onnx
import pytest

from engine import tensorrt as T
from engine.scorers import BackendUnavailable, OrtScorer, make_scorer
from engine_helpers import package_varied, real_frames

MAGIC = b"FAKE-TRT-ENGINE\0"


# ----------------------------------------------------------------------------- fake pycuda


class FakeCuda:
    def __init__(self, n_devices=1, name="NVIDIA FakeGPU 9000", cc=(9, 0)):
        self.n, self.name, self.cc = n_devices, name, cc
        self.mem: dict[int, np.ndarray] = {}
        self.next_addr = 0x1000
        self.allocs: list[int] = []  # sizes of every allocation
        self.freed = 0
        self.pinned = 0
        self.ctx_depth = 0
        fake = self

        class Device:
            @staticmethod
            def count():
                return fake.n

            def __init__(self, i):
                if i >= fake.n:
                    raise RuntimeError(f"invalid device ordinal {i}")

            def name(self):
                return fake.name

            def compute_capability(self):
                return fake.cc

            def retain_primary_context(self):
                return Ctx()

        class Ctx:
            def push(self):
                fake.ctx_depth += 1

        class Context:
            @staticmethod
            def pop():
                assert fake.ctx_depth > 0, "pop without push"
                fake.ctx_depth -= 1

        class Alloc:
            def __init__(self, nbytes):
                self.addr = fake.next_addr
                fake.next_addr += nbytes + 256
                fake.mem[self.addr] = np.zeros(nbytes, np.uint8)
                fake.allocs.append(nbytes)

            def __int__(self):
                return self.addr

            def free(self):
                fake.mem.pop(self.addr, None)
                fake.freed += 1

        class Stream:
            handle = 77

            def synchronize(self):
                pass

        def init():
            pass

        def mem_alloc(nbytes):
            return Alloc(nbytes)

        def pagelocked_empty(shape, dtype):
            fake.pinned += 1
            return np.empty(shape, dtype)

        def memcpy_htod_async(dest, src, stream):
            buf = fake.mem[int(dest)]
            b = np.ascontiguousarray(src).view(np.uint8).reshape(-1)
            assert b.size <= buf.size, f"host->device copy of {b.size} bytes into {buf.size}"
            buf[: b.size] = b

        def memcpy_dtoh_async(dest, src, stream):
            buf = fake.mem[int(src)]
            assert dest.flags.c_contiguous
            view = dest.reshape(-1).view(np.uint8)
            assert view.size <= buf.size, f"device->host copy of {view.size} bytes from {buf.size}"
            view[:] = buf[: view.size]

        self.driver = types.SimpleNamespace(
            init=init, Device=Device, Context=Context, Stream=Stream, mem_alloc=mem_alloc,
            pagelocked_empty=pagelocked_empty, memcpy_htod_async=memcpy_htod_async,
            memcpy_dtoh_async=memcpy_dtoh_async,
        )


# ----------------------------------------------------------------------------- fake tensorrt


def make_fake_trt(version="10.8.0", cuda=None, io_order=None, rename=None, fail_build=False, build_raises=None):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.builds = []  # one record per build_serialized_network call
    major = int(version.split(".")[0])

    class Logger:
        WARNING = 2

        def __init__(self, severity=None):
            self.severity = severity

    class BuilderFlag:
        pass

    if major < 11:
        BuilderFlag.FP16 = "FP16"  # removed in TensorRT 11

    class NetworkDefinitionCreationFlag:
        STRONGLY_TYPED = 1

    class MemoryPoolType:
        WORKSPACE = "workspace"

    class TensorIOMode:
        INPUT = "input"
        OUTPUT = "output"

    class DataType:
        FLOAT = "float32"

    class Input:
        def __init__(self, name, shape):
            self.name, self.shape = name, shape

    class Network:
        def __init__(self, flags):
            self.flags = flags
            self.graph = None
            self.inputs = []

        @property
        def num_inputs(self):
            return len(self.inputs)

        def get_input(self, i):
            return self.inputs[i]

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.errors = network, []

        def parse(self, data):
            try:
                m = onnx.load_from_string(data)
                onnx.checker.check_model(m)
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"In node -1: {e}")
                return False
            self.network.graph = data
            for i in m.graph.input:
                dims = [d.dim_value if d.HasField("dim_value") else -1 for d in i.type.tensor_type.shape.dim]
                self.network.inputs.append(Input(i.name, tuple(dims)))
            return True

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, i):
            return self.errors[i]

    class TimingCache:
        def __init__(self, data):
            self.data = bytes(data)

        def serialize(self):
            return self.data + b"+t"

    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, mn, opt, mx):
            self.shapes[name] = (mn, opt, mx)

    class Config:
        def __init__(self):
            self.flags, self.profiles, self.pool, self.tc = set(), [], {}, None

        def set_memory_pool_limit(self, pool, size):
            self.pool[pool] = size

        def set_flag(self, f):
            self.flags.add(f)

        def add_optimization_profile(self, p):
            self.profiles.append(p)

        def create_timing_cache(self, data):
            return TimingCache(data)

        def set_timing_cache(self, tc, ignore_mismatch):
            self.tc = tc
            return True

        def get_timing_cache(self):
            return self.tc

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags=0):
            return Network(flags)

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            m = onnx.load_from_string(network.graph)
            trt.builds.append({
                "network_flags": network.flags,
                "config_flags": set(config.flags),
                "profiles": [p.shapes for p in config.profiles],
                "fp16_initializers": sum(t.data_type == onnx.TensorProto.FLOAT16 for t in m.graph.initializer),
                "io_types": [v.type.tensor_type.elem_type for v in [*m.graph.input, *m.graph.output]],
                "timing_cache_in": config.tc.data if config.tc else None,
            })
            if build_raises is not None:
                raise build_raises
            if fail_build:
                return None
            return MAGIC + network.graph

    class Engine:
        def __init__(self, graph):
            import onnxruntime as ort

            self.sess = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
            self.in_name = self.sess.get_inputs()[0].name
            self.out_names = [o.name for o in self.sess.get_outputs()]
            rn = rename or {}
            self.ext = {n: rn.get(n, n) for n in [self.in_name, *self.out_names]}  # onnx name -> engine name
            names = list(self.ext.values())
            self.names = [names[i] for i in io_order] if io_order else names
            S = self.sess.get_inputs()[0].shape[-1]
            x = np.zeros((1, 1, S, S), np.float32)
            self.sample = {self.ext[n]: o.shape[1:] for n, o in zip(self.out_names, self.sess.run(None, {self.in_name: x}))}

        @property
        def num_io_tensors(self):
            return len(self.names)

        def get_tensor_name(self, i):
            return self.names[i]

        def get_tensor_mode(self, name):
            return TensorIOMode.INPUT if name == self.ext[self.in_name] else TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return DataType.FLOAT

        def create_execution_context(self):
            return Context(self)

    class Context:
        def __init__(self, eng):
            self.eng, self.shape, self.addr = eng, None, {}
            self.runs = []

        def set_input_shape(self, name, shape):
            assert name == self.eng.ext[self.eng.in_name], f"set_input_shape on {name}"
            if not 1 <= shape[0] <= 32:
                return False
            self.shape = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            return (self.shape[0], *self.eng.sample[name])

        def set_tensor_address(self, name, ptr):
            assert name in self.eng.names, f"unknown tensor {name}"
            self.addr[name] = int(ptr)

        def execute_async_v3(self, stream_handle):
            assert stream_handle == 77
            eng, n = self.eng, self.shape[0]
            src = cuda.mem[self.addr[eng.ext[eng.in_name]]]
            nb = int(np.prod(self.shape)) * 4
            x = src[:nb].view(np.float32).reshape(self.shape)
            outs = eng.sess.run(None, {eng.in_name: x})
            for on, o in zip(eng.out_names, outs):
                dst = cuda.mem[self.addr[eng.ext[on]]]
                b = np.ascontiguousarray(o, np.float32).view(np.uint8).reshape(-1)
                assert b.size <= dst.size, f"output {on}: {b.size} bytes into a {dst.size}-byte buffer"
                dst[: b.size] = b
            self.runs.append(n)
            return True

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if not data.startswith(MAGIC):
                return None
            return Engine(data[len(MAGIC):])

    def nptype(dt):
        return np.dtype(dt).type

    for k, v in dict(Logger=Logger, BuilderFlag=BuilderFlag, NetworkDefinitionCreationFlag=NetworkDefinitionCreationFlag,
                     MemoryPoolType=MemoryPoolType, TensorIOMode=TensorIOMode, DataType=DataType, Builder=Builder,
                     OnnxParser=OnnxParser, Runtime=Runtime, nptype=nptype).items():
        setattr(trt, k, v)
    return trt


@pytest.fixture(scope="module")
def pkg(tmp_path_factory):
    # a model file of the first format (score, heatmap, attention only): the fakes below model that
    # engine layout; the heads model's extra outputs are matched by the same name rule
    return package_varied(tmp_path_factory.mktemp("trt") / "varied.fuiqa", heads=False)


@pytest.fixture(scope="module")
def frames():
    return real_frames()


def install(monkeypatch, trt=None, cuda=None):
    cuda = cuda or FakeCuda()
    trt = trt or make_fake_trt(cuda=cuda)
    pycuda = types.ModuleType("pycuda")
    pycuda.driver = cuda.driver
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda.driver)
    return trt, cuda


# ----------------------------------------------------------------------------- cache keys


def test_cache_key_covers_gpu_cc_trt_version_model_precision_profile(tmp_path):
    g = T.GpuInfo("NVIDIA H100 80GB HBM3", (9, 0), "10.8.0")
    base = T.engine_path(tmp_path, T.cache_key("a" * 64, g, "fp16"))
    assert base == T.engine_path(tmp_path, T.cache_key("a" * 64, g, "fp16"))
    assert base.parent == tmp_path and base.suffix == ".engine"
    assert "sm90" in base.name and "trt10.8.0" in base.name and "fp16" in base.name
    variants = [
        T.cache_key("b" * 64, g, "fp16"),
        T.cache_key("a" * 64, T.GpuInfo("NVIDIA L4", (9, 0), "10.8.0"), "fp16"),
        T.cache_key("a" * 64, T.GpuInfo("NVIDIA H100 80GB HBM3", (8, 9), "10.8.0"), "fp16"),
        T.cache_key("a" * 64, T.GpuInfo("NVIDIA H100 80GB HBM3", (9, 0), "11.0.1"), "fp16"),
        T.cache_key("a" * 64, g, "fp32"),
        T.cache_key("a" * 64, g, "fp16", (1, 1, 32)),
    ]
    paths = {T.engine_path(tmp_path, k) for k in variants}
    assert base not in paths and len(paths) == len(variants)


def test_default_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FUIQA_CACHE", str(tmp_path))
    assert T.default_cache_dir() == tmp_path / "trt"


# ----------------------------------------------------------------------------- build, cache, rebuild


def test_build_then_cache_then_rebuild_on_key_change(monkeypatch, tmp_path, pkg, frames):
    cuda = FakeCuda()
    trt, _ = install(monkeypatch, make_fake_trt("10.8.0", cuda=cuda), cuda)
    s1 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=lambda m: None)
    assert s1.built_now and len(trt.builds) == 1
    assert s1.engine_file.exists() and json.loads(s1.engine_file.with_suffix(".json").read_text())["tensorrt"] == "10.8.0"
    timing = list(tmp_path.glob("timing-*.cache"))
    assert len(timing) == 1 and trt.builds[0]["timing_cache_in"] == b""
    S = pkg.input_size
    assert trt.builds[0]["profiles"] == [{"image": ((1, 1, S, S), (8, 1, S, S), (32, 1, S, S))}]
    assert "TensorRT 10.8.0 on NVIDIA FakeGPU 9000 (sm 9.0)" in s1.reason and "built" in s1.reason

    s2 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=lambda m: None)  # same key: from the cache
    assert not s2.built_now and len(trt.builds) == 1 and s2.engine_file == s1.engine_file
    assert "from cache" in s2.reason

    # a new TensorRT version: a new key, so a new engine (the timing cache of that version starts empty)
    trt.__version__ = "10.9.1"
    s3 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=lambda m: None)
    assert s3.built_now and len(trt.builds) == 2 and s3.engine_file != s1.engine_file

    # another GPU: rebuilt again
    cuda.name = "NVIDIA L40S"
    cuda.cc = (8, 9)
    s4 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=lambda m: None)
    assert s4.built_now and len(trt.builds) == 3 and "sm89" in s4.engine_file.name

    # the same GPU+version again: the timing cache written by the first build is reused
    cuda.name, cuda.cc, trt.__version__ = "NVIDIA FakeGPU 9000", (9, 0), "10.8.0"
    T.TensorRTScorer(pkg, cache_dir=tmp_path, rebuild=True, log=lambda m: None)
    assert len(trt.builds) == 4 and trt.builds[3]["timing_cache_in"] == b"+t"
    assert cuda.ctx_depth == 0  # every push was popped


def test_corrupt_or_mismatched_cache_is_rebuilt(monkeypatch, tmp_path, pkg):
    trt, cuda = install(monkeypatch)
    msgs = []
    s1 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=msgs.append)
    s1.engine_file.write_bytes(b"garbage, not an engine")
    s2 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=msgs.append)
    assert s2.built_now and len(trt.builds) == 2 and any("does not load; rebuilding" in m for m in msgs)
    meta = s2.engine_file.with_suffix(".json")
    meta.write_text(json.dumps({"model_hash": "something else"}))
    s3 = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=msgs.append)
    assert s3.built_now and len(trt.builds) == 3 and any("does not match its key" in m for m in msgs)
    assert json.loads(meta.read_text())["model_hash"] == pkg.model_hash
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


# ----------------------------------------------------------------------------- precision: 10.x vs 11.x


def test_trt10_fp16_uses_builder_flag_on_float32_graph(monkeypatch, tmp_path, pkg, frames):
    trt, _ = install(monkeypatch, make_fake_trt("10.8.0", cuda=(c := FakeCuda())), c)
    s = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=lambda m: None)
    b = trt.builds[0]
    assert s.mode == "fp16-flag" and "FP16" in b["config_flags"]
    assert b["network_flags"] == 0 and b["fp16_initializers"] == 0


def test_trt11_fp16_builds_strongly_typed_fp16_graph_with_float32_io(monkeypatch, tmp_path, pkg, frames):
    pytest.importorskip("onnxconverter_common")
    trt, _ = install(monkeypatch, make_fake_trt("11.1.0", cuda=(c := FakeCuda())), c)
    assert not hasattr(trt.BuilderFlag, "FP16")
    s = T.TensorRTScorer(pkg, cache_dir=tmp_path, log=lambda m: None)
    b = trt.builds[0]
    assert s.mode == "fp16-strong" and b["config_flags"] == set()
    assert b["network_flags"] == 1 << trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED
    assert b["fp16_initializers"] > 10
    assert set(b["io_types"]) == {onnx.TensorProto.FLOAT}  # I/O stays float32, casts inside
    # the FP16 graph still gives the same scores (within half a point) as the float32 ORT scorer
    ref = OrtScorer(pkg).score(frames)
    got = s.score(frames)
    assert np.max(np.abs(ref.scores - got.scores)) < 0.5


def test_trt11_fp32_is_strongly_typed_float32(monkeypatch, tmp_path, pkg):
    trt, _ = install(monkeypatch, make_fake_trt("11.1.0", cuda=(c := FakeCuda())), c)
    s = T.TensorRTScorer(pkg, cache_dir=tmp_path, precision="fp32", log=lambda m: None)
    b = trt.builds[0]
    assert s.mode == "fp32" and b["fp16_initializers"] == 0 and b["network_flags"] == 2
    with pytest.raises(ValueError, match="precision"):
        T.precision_mode(trt, "int8")


# ----------------------------------------------------------------------------- buffers, names, results


def test_scores_match_ort_and_buffers_grow_only_when_needed(monkeypatch, tmp_path, pkg, frames):
    trt, cuda = install(monkeypatch)
    s = T.TensorRTScorer(pkg, cache_dir=tmp_path, precision="fp32", log=lambda m: None)
    ref = OrtScorer(pkg)
    r1 = s.score(frames[:1])
    assert s._cap == 8 and s.grow_count == 1  # first allocation: the profile's opt batch
    # device buffers sized for 8 frames: input 8×1×S×S floats, score 8, heatmap and attention 8×H×H
    S, H = pkg.input_size, pkg.input_size // pkg.meta["arch"]["grid_stride"]
    assert sorted(cuda.allocs) == sorted([8 * S * S * 4, 8 * 4, 8 * H * H * 4, 8 * H * H * 4])
    np.testing.assert_allclose(r1.scores, ref.score(frames[:1]).scores, atol=1e-3)
    s.score(frames[:5])
    assert s.grow_count == 1  # fits
    many = [frames[i % len(frames)] for i in range(20)]
    r20 = s.score(many)
    assert s._cap == 32 and s.grow_count == 2 and cuda.freed == 4  # old buffers freed
    np.testing.assert_allclose(r20.scores, ref.score(many).scores, atol=1e-3)
    np.testing.assert_allclose(r20.heatmaps, ref.score(many).heatmaps, atol=1e-2)
    big = [frames[i % len(frames)] for i in range(45)]  # above the profile max (32): chunked
    r45 = s.score(big)
    assert r45.scores.shape == (45,) and s._cap == 32 and s.grow_count == 2
    assert s.context.runs[-2:] == [32, 13]
    np.testing.assert_allclose(r45.scores, ref.score(big).scores, atol=1e-3)
    s.close()
    assert cuda.ctx_depth == 0


def test_io_tensors_are_matched_by_name_not_order(monkeypatch, tmp_path, pkg, frames):
    cuda = FakeCuda()
    # engine lists attention, image, score, heatmap
    trt, _ = install(monkeypatch, make_fake_trt(cuda=cuda, io_order=[3, 0, 1, 2]), cuda)
    s = T.TensorRTScorer(pkg, cache_dir=tmp_path, precision="fp32", log=lambda m: None)
    assert s.input_name == "image" and s.output_names == ["score", "heatmap", "attention"]
    r = s.score(frames[:3])
    ref = OrtScorer(pkg).score(frames[:3])
    np.testing.assert_allclose(r.scores, ref.scores, atol=1e-3)
    np.testing.assert_allclose(r.attention, ref.attention, atol=1e-4)


def test_unknown_output_names_fall_back_to_engine_order(monkeypatch, tmp_path, pkg, frames):
    cuda = FakeCuda()
    ren = {"image": "input.1", "score": "out0", "heatmap": "out1", "attention": "out2"}
    trt, _ = install(monkeypatch, make_fake_trt(cuda=cuda, rename=ren), cuda)
    s = T.TensorRTScorer(pkg, cache_dir=tmp_path, precision="fp32", log=lambda m: None)
    assert s.input_name == "input.1" and s.output_names == ["out0", "out1", "out2"]
    np.testing.assert_allclose(s.score(frames[:2]).scores, OrtScorer(pkg).score(frames[:2]).scores, atol=1e-3)


# ----------------------------------------------------------------------------- auto choice


def test_auto_picks_tensorrt_when_usable(monkeypatch, tmp_path, pkg):
    install(monkeypatch)
    s = make_scorer("auto", pkg, cache_dir=tmp_path)
    assert s.backend == "tensorrt" and "auto: usable GPU and TensorRT found" in s.reason


def test_auto_falls_back_without_gpu(monkeypatch, tmp_path, pkg):
    cuda = FakeCuda(n_devices=0)
    install(monkeypatch, make_fake_trt(cuda=cuda), cuda)
    s = make_scorer("auto", pkg, cache_dir=tmp_path)
    assert s.backend == "onnxruntime"
    assert s.reason.startswith("no NVIDIA GPU found") and "using ONNX Runtime on the CPU" in s.reason


def test_auto_falls_back_without_pycuda(monkeypatch, tmp_path, pkg):
    install(monkeypatch)
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    s = make_scorer("auto", pkg, cache_dir=tmp_path)
    assert s.backend == "onnxruntime" and s.reason.startswith("pycuda not installed (")


def test_auto_falls_back_when_the_build_fails(monkeypatch, tmp_path, pkg):
    cuda = FakeCuda()
    install(monkeypatch, make_fake_trt(cuda=cuda, fail_build=True), cuda)
    s = make_scorer("auto", pkg, cache_dir=tmp_path)
    assert s.backend == "onnxruntime" and "could not build the engine" in s.reason
    assert cuda.ctx_depth == 0


def test_auto_survives_an_unexpected_gpu_error(monkeypatch, tmp_path, pkg):
    cuda = FakeCuda()
    install(monkeypatch, make_fake_trt(cuda=cuda, build_raises=MemoryError("out of device memory")), cuda)
    s = make_scorer("auto", pkg, cache_dir=tmp_path)
    assert s.backend == "onnxruntime" and s.reason.startswith("TensorRT failed (MemoryError: out of device memory)")
    assert cuda.ctx_depth == 0


def test_old_tensorrt_is_refused(monkeypatch, tmp_path, pkg):
    cuda = FakeCuda()
    install(monkeypatch, make_fake_trt("8.6.1", cuda=cuda), cuda)
    s = make_scorer("auto", pkg, cache_dir=tmp_path)
    assert s.backend == "onnxruntime" and "too old" in s.reason


# ----------------------------------------------------------------------------- real GPU


def _real_gpu_reason():
    try:
        import tensorrt  # noqa: F401
    except ImportError as e:
        return f"needs an NVIDIA GPU with TensorRT: tensorrt not importable ({type(e).__name__})"
    try:
        T.probe()
    except BackendUnavailable as e:  # probe's "why not here"; any other exception is a failure
        return f"needs an NVIDIA GPU: {e}"
    return None


@pytest.mark.gpu
def test_real_tensorrt_matches_ort(tmp_path, pkg, frames):
    why = _real_gpu_reason()
    if why:
        pytest.skip(why)
    ref = OrtScorer(pkg).score(frames)
    for precision, tol in (("fp32", 0.05), ("fp16", 0.5)):
        s = T.TensorRTScorer(pkg, cache_dir=tmp_path, precision=precision)
        got = s.score(frames)
        assert np.max(np.abs(ref.scores - got.scores)) < tol, precision
        s.close()
