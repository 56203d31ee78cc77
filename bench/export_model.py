"""Exported decoder and inversion speed: one sound on one thread in ONNX Runtime and TorchScript against PyTorch.

The model (default: the bundled one) is exported to a temporary folder with `dkvae.inference.export`;
then one latent of `--instrument` (from the model's latent prior) is decoded to STFT magnitudes by:
- pytorch: `SpectrogramDecoder`, the exported module itself, run eagerly (``torch.set_num_threads(1)``,
  inference mode): DrumMachine's decode and the denormalization, what the exports are checked against;
- onnxruntime: the ONNX file on the CPU execution provider, ``intra_op_num_threads=1``,
  ``inter_op_num_threads=1``, all graph optimizations;
- torchscript: the TorchScript file (one torch thread, inference mode).
Each is warmed up, then they take turns for `--runs` rounds so all see the same load; figures are
medians in milliseconds, and ``speedup`` is pytorch's time over onnxruntime's. ``max_abs_diff`` is
each export's largest difference from pytorch's magnitudes, and ``max_magnitude`` their largest value.
The exported inversions (the model's fast Griffin-Lim iterations) are then raced the same way on
those magnitudes and their PGHI phase: ``inversion_ms`` and ``inversion_max_abs_diff`` (audio in [-1, 1]).

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``export_onnx`` (bench/record.py).

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
import record
import torch

from dkvae.inference.export import GriffinLimIterations, SpectrogramDecoder, export_model, inversion_path
from dkvae.inference.machine import DrumMachine
from dkvae.sound.inversion import pghi_phase


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
    record.add_out(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    machine = DrumMachine.load(args.model)
    latent = machine.sample_latents(1, 0, args.instrument)
    weights = machine.class_weights(args.instrument, 1)
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = export_model(args.model, "onnx", Path(folder) / "decoder.onnx")
        script_file = export_model(args.model, "torchscript", Path(folder) / "decoder.pt")
        session, inversion_session = onnx_session(onnx_file), onnx_session(inversion_path(onnx_file))
        scripted, scripted_inversion = torch.jit.load(str(script_file)), torch.jit.load(str(inversion_path(script_file)))
    decoder, inversion = SpectrogramDecoder(machine).eval(), GriffinLimIterations(machine).eval()
    latent_tensor, weights_tensor = torch.from_numpy(latent), torch.from_numpy(weights)
    with torch.inference_mode():
        magnitude = decoder(latent_tensor, weights_tensor)
    settings = machine.config.audio
    phase = pghi_phase(magnitude, settings.n_fft, settings.hop_length)

    def run_torch(module: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return module(*inputs).numpy()

    decoders: dict[str, Callable[[], np.ndarray]] = {
        "pytorch": lambda: run_torch(decoder, latent_tensor, weights_tensor),
        "onnxruntime": lambda: session.run(["magnitude"], {"latent": latent, "class_weights": weights})[0],
        "torchscript": lambda: run_torch(scripted, latent_tensor, weights_tensor),
    }
    feeds = {"magnitude": magnitude.numpy(), "phase": phase.numpy()}
    inversions: dict[str, Callable[[], np.ndarray]] = {
        "pytorch": lambda: run_torch(inversion, magnitude, phase),
        "onnxruntime": lambda: inversion_session.run(["audio"], feeds)[0],
        "torchscript": lambda: run_torch(scripted_inversion, magnitude, phase),
    }
    decode_ms, decoded = race(decoders, args.runs, args.warmup)
    invert_ms, inverted = race(inversions, args.runs, args.warmup)
    result = {
        "model": str(machine.directory.path),
        "model_id": machine.model_id,
        "threads": 1,
        "runs": args.runs,
        "decode_ms": decode_ms,
        "speedup": round(decode_ms["pytorch"] / decode_ms["onnxruntime"], 2),
        "torchscript_speedup": round(decode_ms["pytorch"] / decode_ms["torchscript"], 2),
        "max_abs_diff": differences(decoded),
        "max_magnitude": float(decoded["pytorch"].max()),
        "inversion_ms": invert_ms,
        "inversion_max_abs_diff": differences(inverted),
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
    }
    print(json.dumps(result))
    model = "bundled model" if args.model is None else f"model {machine.model_id}"
    note = (
        f"median of {args.runs} (PyTorch {decode_ms['pytorch']} ms, ONNX Runtime {decode_ms['onnxruntime']} ms, "
        f"TorchScript {decode_ms['torchscript']} ms), max abs difference {result['max_abs_diff']['onnxruntime']:.1e} "
        f"on magnitudes up to {result['max_magnitude']:.0f}. The exported inversion: PyTorch {invert_ms['pytorch']} "
        f"ms, TorchScript {invert_ms['torchscript']} ms, ONNX Runtime {invert_ms['onnxruntime']} ms, ONNX Runtime "
        f"within {result['inversion_max_abs_diff']['onnxruntime']:.1e}"
    )
    title = f"decoding one sound, {model}, 1 thread: ONNX Runtime against PyTorch"
    record.write(args.out, record.entry("export_onnx", title, result["speedup"], "×", note, result, "≥ 1× (a tie)"))


def race(candidates: dict[str, Callable[[], np.ndarray]], runs: int, warmup: int) -> tuple[dict, dict]:
    """Median milliseconds of each candidate over `runs` rounds taken in turn, and each one's output."""
    outputs = {name: work() for name, work in candidates.items()}
    for work in candidates.values():
        for _ in range(warmup):
            work()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, work in candidates.items():
            times[name].append(seconds(work))
    return {name: round(statistics.median(values) * 1000, 3) for name, values in times.items()}, outputs


def differences(outputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Each export's largest absolute difference from pytorch's output."""
    return {name: float(np.abs(outputs[name] - outputs["pytorch"]).max()) for name in ("onnxruntime", "torchscript")}


if __name__ == "__main__":
    main()
