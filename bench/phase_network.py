"""A learned phase for the 10x latency target: can a small network replace PGHI and the iterations?

An experiment, not a setting: the drum machine inverts with PGHI + FGLA. A 1-D conv net over the
frames (the bins as channels, ConvNeXt-style blocks) gives every coefficient a phase in one pass,
as an unnormalized 2-vector, relative to the advance a bin-centred sinusoid makes from frame to frame,
so a steady partial's output stays the same along time. It trains on the bank's training
spectrograms with no phase target: the loss is the spectral convergence of the inverse STFT's own
STFT against the magnitude (plus 0.1 x their log-magnitude error), the consistency Griffin-Lim
iterates toward. Every `--eval-every` steps it is judged on `--eval-sounds` test spectrograms (mean
spectral convergence), alone and followed by 2 and 4 FGLA iterations, against PGHI followed by 0, 4,
8 and 12 and zero phase followed by 0, 2 and 4. The network's time for one sound on one CPU thread
is printed first. Prints JSON lines; ``--out FILE`` also writes the baselines and the network (its
size, time and last judgement; every judgement in ``measured``) as rows of docs/results/phase_network.json
(bench/record.py).

    python bench/phase_network.py data/drums --steps 4000 --channels 64 --blocks 3
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np
import record
import torch
from torch import nn

from dkvae.core.config import AudioConfig, InversionConfig
from dkvae.data.bank import Bank
from dkvae.sound.audio import denormalize, stft_magnitude
from dkvae.sound.inversion import fast_griffin_lim, invert

LOG_WEIGHT = 0.1


class Block(nn.Module):
    """Depthwise conv over frames, norm, pointwise expansion and GELU, scaled residual."""

    def __init__(self, channels: int, kernel_size: int = 7, expansion: int = 2) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.norm = nn.GroupNorm(1, channels)
        self.expand = nn.Conv1d(channels, expansion * channels, 1)
        self.project = nn.Conv1d(expansion * channels, channels, 1)
        self.scale = nn.Parameter(torch.full((channels, 1), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.project(nn.functional.gelu(self.expand(self.norm(self.depthwise(x)))))


class PhaseNetwork(nn.Module):
    """Normalized spectrograms ``(batch, bins, frames)`` -> phases ``(batch, bins, frames)``, torch.stft's convention."""

    def __init__(self, bins: int, hop_ratio: float, channels: int, blocks: int) -> None:
        super().__init__()
        self.bins, self.hop_ratio = bins, hop_ratio
        self.inp = nn.Conv1d(bins, channels, 3, padding=1)
        self.blocks = nn.Sequential(*(Block(channels) for _ in range(blocks)))
        self.norm = nn.GroupNorm(1, channels)
        self.out = nn.Conv1d(channels, 2 * bins, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vectors = self.out(self.norm(self.blocks(self.inp(x))))
        relative = torch.atan2(vectors[:, self.bins :], vectors[:, : self.bins])
        bins = torch.arange(self.bins, device=x.device, dtype=x.dtype)[:, None]
        frames = torch.arange(x.shape[-1], device=x.device, dtype=x.dtype)[None]
        return relative + 2 * math.pi * torch.remainder(bins * frames * self.hop_ratio, 1.0)


def magnitudes(normalized: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """STFT magnitudes of normalized spectrograms (the global dB range)."""
    return stft_magnitude(denormalize(normalized, audio.min_db, audio.max_db), audio.n_fft)


def rebuilt(magnitude: torch.Tensor, phase: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """``|STFT(ISTFT(magnitude, phase))|``: what the phase makes of the magnitude once it is a sound."""
    window = torch.hann_window(audio.n_fft, device=magnitude.device)
    sound = torch.istft(
        torch.polar(magnitude, phase), audio.n_fft, audio.hop_length, window=window, length=audio.num_samples
    )
    return stft(sound, audio)


def stft(sound: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """Centred, zero-padded STFT magnitudes, as dkvae's spectrograms are made."""
    window = torch.hann_window(audio.n_fft, device=sound.device)
    return torch.stft(
        sound, audio.n_fft, audio.hop_length, window=window, pad_mode="constant", return_complex=True
    ).abs()


def convergence(target: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Spectral convergence of each spectrogram: ``||S - R|| / ||S||``."""
    return torch.linalg.vector_norm(magnitude - target, dim=(-2, -1)) / torch.linalg.vector_norm(target, dim=(-2, -1))


def mean_convergence(target: torch.Tensor, sounds: torch.Tensor, audio: AudioConfig) -> float:
    """Mean spectral convergence of `sounds` against the magnitudes they were made from, to 4 digits."""
    return round(convergence(target, stft(sounds, audio)).mean().item(), 4)


def network_ms(network: PhaseNetwork, shape: tuple[int, int], runs: int = 50) -> float:
    """Median milliseconds of one sound's phase on one CPU thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    x = torch.rand(1, *shape)
    with torch.inference_mode():
        for _ in range(5):
            network(x)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            network(x)
            times.append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    return round(statistics.median(times) * 1000, 3)


def table_entries(network: dict[str, float], baseline: dict[str, float], judged: list[dict]) -> list[dict]:
    """Two rows of docs/results/phase_network.json: the baselines' spectral convergence, and the network's size
    and time (`network`) with its last judgement (the last of `judged`, one per ``--eval-every`` steps)."""
    last = judged[-1] if judged else {}
    return [
        record.study_entry("baseline", "PGHI and zero phase, then fast Griffin-Lim", baseline, baseline),
        record.study_entry("network", "the phase network, then fast Griffin-Lim", network | last, judged),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--eval-sounds", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    record.add_out(parser, "phase_network")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    bank = Bank(args.bank, process=False)
    audio = bank.audio_config
    x_train, _, x_test, _, _, _ = bank.load_spectrograms()
    device = torch.device(args.device)
    train = torch.from_numpy(np.asarray(x_train, np.float32)).to(device)
    test = torch.from_numpy(
        np.asarray(x_test[:: max(1, len(x_test) // args.eval_sounds)][: args.eval_sounds], np.float32)
    )
    test_magnitude = magnitudes(test, audio)
    size = (audio.n_fft, audio.hop_length, audio.num_samples)

    network = PhaseNetwork(train.shape[1], audio.hop_length / audio.n_fft, args.channels, args.blocks)
    parameters = sum(p.numel() for p in network.parameters())
    size = {"parameters": parameters, "network_ms_1_thread": network_ms(network, tuple(train.shape[1:]))}
    print(json.dumps(size))
    with torch.inference_mode():
        baseline = {
            f"pghi+{n}": mean_convergence(
                test_magnitude,
                torch.stack([invert(m, *size, InversionConfig(method="pghi", iterations=n)) for m in test_magnitude]),
                audio,
            )
            for n in (0, 4, 8, 12)
        }
        baseline |= {
            f"zero+{n}": mean_convergence(test_magnitude, fast_griffin_lim(test_magnitude, *size, n, 0.99), audio)
            for n in (0, 2, 4)
        }
    print(json.dumps({"baseline": baseline}))

    network.to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    draws = torch.Generator(device="cpu").manual_seed(args.seed)
    floor = stft_magnitude(torch.tensor(audio.min_db), audio.n_fft).item()
    start = time.perf_counter()
    judgements = []
    for step in range(1, args.steps + 1):
        batch = train[torch.randint(len(train), (args.batch,), generator=draws).to(device)]
        target = magnitudes(batch, audio)
        made = rebuilt(target, network(batch), audio)
        loss = (
            convergence(target, made).mean()
            + LOG_WEIGHT * (torch.log(made + floor) - torch.log(target + floor)).abs().mean()
        )
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % args.eval_every == 0 or step == args.steps:
            network.eval()
            with torch.inference_mode():
                phase = network(test.to(device)).cpu()
                judged = {
                    f"network+{n}": mean_convergence(
                        test_magnitude, fast_griffin_lim(test_magnitude, *size, n, 0.99, phase), audio
                    )
                    for n in (0, 2, 4)
                }
            network.train()
            judgements.append(
                {"step": step, "seconds": round(time.perf_counter() - start), "loss": round(loss.item(), 4), **judged}
            )
            print(json.dumps(judgements[-1]), flush=True)
    record.write(args.out, *table_entries(size, baseline, judgements), table="phase_network")


if __name__ == "__main__":
    main()
