"""Random changes of training spectrograms that keep a drum's class: gain, delay and pitch.

Each works on one normalized spectrogram ``(freq, frames)`` in [0, 1], where 0 is silence (the dB
floor), and draws from torch's global generator, which Lightning seeds per run and per loader worker.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dkvae.core.config import AudioConfig

#: Largest random gain change of `augment_spectrogram`, in dB.
AUGMENT_GAIN_DB = 6.0
#: Largest random delay of `augment_spectrogram`, in frames.
AUGMENT_SHIFT_FRAMES = 2


def augment_spectrogram(spectrogram: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """A random gain (up to ±`AUGMENT_GAIN_DB`) and delay (up to `AUGMENT_SHIFT_FRAMES`) of ``(freq, frames)``.

    Only meaningful for the global dB normalization, where a gain is a constant shift.
    """
    if audio.normalization == "global":
        gain = (torch.rand(()) * 2 - 1) * AUGMENT_GAIN_DB / (audio.max_db - audio.min_db)
        spectrogram = (spectrogram + gain).clamp(0.0, 1.0)
    shift = int(torch.randint(0, AUGMENT_SHIFT_FRAMES + 1, ()))
    if shift:
        spectrogram = torch.cat([spectrogram.new_zeros(spectrogram.shape[0], shift), spectrogram[:, :-shift]], dim=1)
    return spectrogram


def shift_pitch(spectrogram: torch.Tensor, semitones: float) -> torch.Tensor:
    """``(freq, frames)`` of the sound played `semitones` higher by changing its playback rate, as a sampler's
    tune knob does: with ``rate = 2 ** (semitones / 12)`` bin k takes the level of bin ``k / rate`` and
    frame t that of frame ``t * rate`` (linear interpolation), so partials move up and the sound gets
    shorter; what comes from outside the grid is silence. Exact for the rate's change of the STFT's
    grid; the window's length in the sound's own time changes too, which this does not model.
    """
    rate = 2.0 ** (semitones / 12.0)
    freq, frames = spectrogram.shape
    source_bins = torch.arange(freq, dtype=torch.float32) / rate
    source_frames = torch.arange(frames, dtype=torch.float32) * rate
    x = (source_frames * (2.0 / (frames - 1)) - 1.0).expand(freq, frames)
    y = (source_bins * (2.0 / (freq - 1)) - 1.0)[:, None].expand(freq, frames)
    grid = torch.stack([x, y], dim=-1)[None]
    return F.grid_sample(spectrogram[None, None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0, 0]


def random_pitch(spectrogram: torch.Tensor, largest_semitones: float) -> torch.Tensor:
    """`shift_pitch` by a uniform random amount within ±`largest_semitones`."""
    return shift_pitch(spectrogram, float((torch.rand(()) * 2 - 1) * largest_semitones))
