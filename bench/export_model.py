"""Exported decoder speed: one sound's decode on one thread in ONNX Runtime and TorchScript against PyTorch.

The model (default: the bundled one) is exported to a temporary folder with `dkvae.export_model`;
then one latent of `--instrument` (from the model's latent prior) is decoded to STFT magnitudes by:
- pytorch: `SpectrogramDecoder`, the exported module itself, run eagerly (``torch.set_num_threads(1)``,
  inference mode): DrumMachine's decode and the denormalization, what the exports are checked against;
- onnxruntime: the ONNX file on the CPU execution provider, ``intra_op_num_threads=1``,
  ``inter_op_num_threads=1``, all graph optimizations;
- torchscript: the TorchScript file (one torch thread, inference mode).
Each is warmed up, then they take turns for `--runs` rounds so all see the same load; figures are
medians in milliseconds, and ``speedup`` is pytorch's time over onnxruntime's. ``max_abs_diff`` is
each export's largest difference from pytorch's magnitudes, and ``max_magnitude`` their largest value.

    python bench/export_model.py --runs 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from dkvae.export_model import SpectrogramDecoder, export_model
from dkvae.machine import DrumMachine


def seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def onnx_session(path: Path) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on one CPU thread."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--instrument", default="snare")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    machine = DrumMachine.load(args.model)
    latent = machine.sample_latents(1, 0, args.instrument)
    weights = machine.class_weights(args.instrument, 1)
    with tempfile.TemporaryDirectory() as folder:
        session = onnx_session(export_model(args.model, "onnx", Path(folder) / "decoder.onnx"))
        scripted = torch.jit.load(str(export_model(args.model, "torchscript", Path(folder) / "decoder.pt")))
    decoder = SpectrogramDecoder(machine).eval()
    latent_tensor, weights_tensor = torch.from_numpy(latent), torch.from_numpy(weights)

    def run_torch(module: Callable[..., torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return module(latent_tensor, weights_tensor).numpy()

    candidates: dict[str, Callable[[], np.ndarray]] = {
        "pytorch": lambda: run_torch(decoder),
        "onnxruntime": lambda: session.run(["magnitude"], {"latent": latent, "class_weights": weights})[0],
        "torchscript": lambda: run_torch(scripted),
    }
    outputs = {name: work() for name, work in candidates.items()}
    for work in candidates.values():
        for _ in range(args.warmup):
            work()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.runs):
        for name, work in candidates.items():
            times[name].append(seconds(work))
    latency = {name: round(statistics.median(values) * 1000, 3) for name, values in times.items()}
    print(
        json.dumps(
            {
                "model": str(machine.directory.path),
                "model_id": machine.model_id,
                "threads": 1,
                "runs": args.runs,
                "decode_ms": latency,
                "speedup": round(latency["pytorch"] / latency["onnxruntime"], 2),
                "torchscript_speedup": round(latency["pytorch"] / latency["torchscript"], 2),
                "max_abs_diff": {
                    name: float(np.abs(outputs[name] - outputs["pytorch"]).max())
                    for name in ("onnxruntime", "torchscript")
                },
                "max_magnitude": float(outputs["pytorch"].max()),
                "onnxruntime": onnxruntime.__version__,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
