"""torch -> ONNX -> model package (and, in :mod:`engine.tensorrt`, ONNX -> TensorRT engine).

``export_onnx`` traces the network with a dynamic batch axis and checks ONNX Runtime's outputs
against torch on a random batch before returning the bytes.
"""
from __future__ import annotations

import io
import os
import tempfile
import warnings

import numpy as np

from . import modelpack
from .preprocess import MEAN, STD

INPUT_NAME = "image"
#: the outputs every model has; models with heads add ``plane``, ``criteria``, ``ood`` (engine.model.OUTPUTS)
OUTPUT_NAMES = ("score", "heatmap", "attention")


def output_names(model) -> list[str]:
    from .model import OUTPUTS

    return list(OUTPUTS if model.cfg.heads else OUTPUT_NAMES)


def export_onnx(model, check: bool = True, atol_points: float = 0.05) -> bytes:
    """Export an :class:`~engine.model.MQFNet` to ONNX bytes (opset 18, dynamic batch)."""
    import torch

    model = model.eval().cpu()
    size = model.cfg.input_size
    dummy = torch.zeros(2, 1, size, size)
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = os.path.join(d, "m.onnx")
        torch.onnx.export(
            model,
            (dummy,),
            path,
            input_names=[INPUT_NAME],
            output_names=output_names(model),
            dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in output_names(model)}},
            opset_version=18,
            dynamo=False,
        )
        with open(path, "rb") as f:
            data = f.read()
    if check:
        check_onnx_against_torch(model, data, atol_points)
    return data


def check_onnx_against_torch(model, onnx_bytes: bytes, atol_points: float = 0.05, batch: int = 3) -> float:
    """Run both on one random batch; raise if scores differ by more than ``atol_points``."""
    import onnxruntime as ort
    import torch

    size = model.cfg.input_size
    x = np.random.default_rng(0).normal(0, 1, (batch, 1, size, size)).astype(np.float32)
    names = output_names(model)
    with torch.no_grad():
        t = model(torch.from_numpy(x))
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    o = sess.run(names, {INPUT_NAME: x})
    d = {n: float(np.max(np.abs(a - b.numpy()))) for n, a, b in zip(names, o, t)}
    limits = {"score": atol_points, "heatmap": 10 * atol_points, "attention": 1e-3, "plane": 1e-3, "criteria": 1e-3}
    bad = {n: v for n, v in d.items() if v > limits.get(n, np.inf)}
    if n_ood := d.get("ood"):  # relative: the density score's scale depends on the fitted precision
        scale = float(np.max(np.abs(t[names.index("ood")].numpy()))) + 1.0
        if n_ood > 1e-3 * scale:
            bad["ood"] = n_ood
    if bad:
        raise RuntimeError("ONNX export disagrees with torch: " + ", ".join(f"{n} diff {v:.4f}" for n, v in bad.items()))
    return d["score"]


def weights_bytes(model) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def package_model(model, path, **meta) -> modelpack.ModelPackage:
    """Export ``model`` and write a complete, validated ``.fuiqa`` package atomically.

    ``meta`` adds to the metadata: ``trained`` (default False), ``synthetic_training_data``,
    ``data_hash``, ``metrics``, ``generator``, ``name``, ``train_config`` …
    """
    from .model import count_flops

    onnx_bytes = export_onnx(model)
    base = {
        "arch": model.cfg.to_dict(),
        "input_size": model.cfg.input_size,
        "heatmap_size": model.cfg.input_size // model.cfg.grid_stride,
        "gflops": round(count_flops(model), 5),
        "trained": False,
        "preprocess": {"mean": MEAN, "std": STD, "color": "gray", "letterbox": True},
    }
    if model.cfg.heads:
        from .result import CRITERIA, PLANES

        base["heads"] = {"planes": list(PLANES), "criteria": list(CRITERIA), "outputs": output_names(model)}
    base.update(meta)
    return modelpack.save(path, base, onnx_bytes, weights_bytes(model))


def onnx_to_fp16(onnx_bytes: bytes) -> bytes:
    """Float32 ONNX graph -> FP16 graph with float32 inputs/outputs (casts at the edges).

    For TensorRT 11's strongly typed networks (no FP16 builder flag). Uses onnxconverter-common's
    float16 converter (the ``gpu`` extra); ops it keeps in float32 (e.g. Resize) get casts around
    them. Graph outputs that are also used inside the graph (``heatmap`` and ``attention`` feed the
    score) are first routed through an Identity, because the converter's ``keep_io_types`` otherwise
    leaves an FP16 tensor where a float32 one is declared.
    """
    import onnx
    from onnx import helper
    from onnxconverter_common import float16  # ImportError -> the caller says what to install

    m = onnx.load_from_string(onnx_bytes)
    outs = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for i, name in enumerate(node.output):
            if name in outs:
                node.output[i] = name + "__f16"
        for i, name in enumerate(node.input):
            if name in outs:
                node.input[i] = name + "__f16"
    for name in sorted(outs):
        m.graph.node.append(helper.make_node("Identity", [name + "__f16"], [name], name=name + "__out"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "float32 number 1e-10 will be truncated": tiny weights, harmless
        m16 = float16.convert_float_to_float16(m, keep_io_types=True)
    onnx.checker.check_model(m16)
    return m16.SerializeToString()
