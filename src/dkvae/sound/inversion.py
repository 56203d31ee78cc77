"""Spectrogram to waveform: plain and fast Griffin-Lim, and PGHI phase from the magnitude, batched in torch.

Magnitudes are linear STFT magnitudes ``(..., freq, frames)`` as ``torch.stft`` makes them
(``freq = n_fft // 2 + 1``, periodic Hann window, frames centred on ``frame * hop_length`` with zero
padding), so ``|stft(audio)|`` inverts to `audio`'s sound. Phases follow the same convention.
Everything is deterministic: initial phases are zero or computed, never random.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from dkvae.core.config import (
    HANN_GAUSSIAN_RATIO,
    ITERATION_CUT_DB,
    PGHI_RANDOM_PHASE_SEED,
    PGHI_TOLERANCE_DB,
    SMOOTH_CURVATURE,
    InversionConfig,
)

#: PGHI ranks coefficients by their level below the spectrogram's peak, quantized to this many bits
#: over the tolerance range (int16); an edge's int64 key packs its ends' levels above its position.
_LEVEL_BITS = 15
_WEAKEST = (1 << _LEVEL_BITS) - 2
_UNUSED = (1 << _LEVEL_BITS) - 1
_EDGE_BITS = 63 - 2 * _LEVEL_BITS
_EDGE_MASK = (1 << _EDGE_BITS) - 1
_NO_EDGE = torch.iinfo(torch.int64).max


@dataclass(frozen=True, eq=False)
class _Stft:
    """A centred STFT and its least-squares inverse for one size, with the window and envelope made once.

    Spectra are kept frame-major, ``(..., frames, freq)``, while iterating: that is the layout the FFTs
    read and write, so no copy is made per iteration.
    """

    n_fft: int
    hop_length: int
    num_samples: int
    #: Samples of the zero-padded signal the frames cover: ``(frames - 1) * hop_length + n_fft``.
    padded_length: int
    window: torch.Tensor
    #: Sample index in the padded signal of every frame's every sample, ``(frames * n_fft,)``; only kept
    #: when the hop does not divide the frame (`_overlap_add` needs it then).
    positions: torch.Tensor | None
    #: One over the overlap-added squared window, over the unpadded samples, ``(num_samples,)``.
    inverse_envelope: torch.Tensor

    @classmethod
    @functools.lru_cache(maxsize=64)
    def make(cls, n_fft: int, hop_length: int, num_samples: int, device: torch.device) -> _Stft:
        """The transform for `num_samples` samples, ``1 + num_samples // hop_length`` frames (made once per size:
        not free; PGHI's iterations over a sound's heard frames use up to 32 sizes of one STFT)."""
        frames = 1 + num_samples // hop_length
        window = torch.hann_window(n_fft, periodic=True, device=device)
        starts = torch.arange(frames, device=device)[:, None] * hop_length
        positions = (starts + torch.arange(n_fft, device=device)).reshape(-1)
        padded = (frames - 1) * hop_length + n_fft
        envelope = torch.zeros(padded, device=device).index_add_(0, positions, window.square().repeat(frames))
        kept = envelope[n_fft // 2 : n_fft // 2 + num_samples]
        positions = positions if n_fft % hop_length else None
        return cls(n_fft, hop_length, num_samples, padded, window, positions, 1.0 / kept.clamp_min(1e-11))

    def analyse(self, audio: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(..., frames, freq)`` of ``(..., num_samples)`` audio."""
        half = self.n_fft // 2
        signal = torch.nn.functional.pad(audio, (half, self.padded_length - half - audio.shape[-1]))
        return torch.fft.rfft(signal.unfold(-1, self.n_fft, self.hop_length) * self.window, dim=-1)

    def synthesise(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Least-squares audio ``(..., num_samples)`` of a complex ``(..., frames, freq)`` spectrum, as ``torch.istft``."""
        frames = torch.fft.irfft(spectrum, n=self.n_fft, dim=-1) * self.window
        half = self.n_fft // 2
        return self._overlap_add(frames)[..., half : half + self.num_samples] * self.inverse_envelope

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``(..., frames, n_fft)`` summed at their positions into ``(..., padded_length)`` samples.

        When the hop divides the frame, as a few slice additions of hop-long blocks (faster than
        ``index_add_``); otherwise by ``index_add_``.
        """
        count = frames.shape[-2]
        if self.positions is not None:
            padded = frames.new_zeros((*frames.shape[:-2], self.padded_length))
            return padded.index_add_(-1, self.positions, frames.flatten(-2))
        blocks = self.n_fft // self.hop_length
        pieces = frames.unflatten(-1, (blocks, self.hop_length))
        summed = frames.new_zeros((*frames.shape[:-2], count + blocks - 1, self.hop_length))
        for block in range(blocks):
            summed[..., block : block + count, :] += pieces[..., block, :]
        return summed.flatten(-2)


def griffin_lim(
    magnitude: torch.Tensor, n_fft: int, hop_length: int, num_samples: int, iterations: int = 32
) -> torch.Tensor:
    """Plain Griffin-Lim from zero phase: STFT magnitudes ``(..., freq, frames)`` to audio ``(..., num_samples)``.

    The seed's inversion, kept as the baseline; what ``librosa.griffinlim(momentum=0, init=None)`` computes.

    Examples
    --------
    >>> audio = torch.sin(torch.arange(4096) * 0.3)
    >>> magnitude = torch.stft(audio, 512, 128, window=torch.hann_window(512), return_complex=True).abs()
    >>> griffin_lim(magnitude, 512, 128, 4096, iterations=8).shape
    torch.Size([4096])
    """
    return fast_griffin_lim(magnitude, n_fft, hop_length, num_samples, iterations, momentum=0.0)


def fast_griffin_lim(
    magnitude: torch.Tensor,
    n_fft: int,
    hop_length: int,
    num_samples: int,
    iterations: int = 32,
    momentum: float = 0.99,
    phase: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fast Griffin-Lim: STFT magnitudes ``(..., freq, frames)`` to audio ``(..., num_samples)``.

    Perraudin, Balazs and Søndergaard (2013), "A fast Griffin-Lim algorithm".

    Each iteration projects on consistent spectrograms (STFT of the inverse STFT), then steps past
    the result by `momentum` times its change since the previous iteration, then restores the
    magnitude; ``momentum=0`` is plain Griffin-Lim. It starts from `phase` (radians, same shape as
    `magnitude`, ``torch.stft``'s convention) or from zero phase, and returns the inverse STFT of the
    last estimate, so ``iterations=0`` just applies `phase`. From zero phase this is what
    ``librosa.griffinlim(momentum=momentum, init=None)`` computes.
    """
    transform = _Stft.make(n_fft, hop_length, num_samples, magnitude.device)
    target = magnitude.to(torch.float32).transpose(-1, -2).contiguous()
    return transform.synthesise(_iterate(transform, target, _spectrum(target, phase), iterations, momentum))


def _spectrum(target: torch.Tensor, phase: torch.Tensor | None) -> torch.Tensor:
    """The complex spectrum ``(..., frames, freq)`` of frame-major magnitudes `target` and ``(..., freq, frames)``
    `phase` (radians; None: zero phase)."""
    if phase is None:
        return target.to(torch.complex64)
    angle = phase.to(torch.float32).transpose(-1, -2)
    # (torch.polar makes the same values at more cost)
    return torch.complex(target * torch.cos(angle), target * torch.sin(angle))


def _iterate(
    transform: _Stft, target: torch.Tensor, spectrum: torch.Tensor, iterations: int, momentum: float
) -> torch.Tensor:
    """`iterations` fast Griffin-Lim steps from `spectrum` toward magnitudes `target`, both ``(..., frames, freq)``."""
    step = momentum / (1.0 + momentum)
    previous = None
    for _ in range(iterations):
        rebuilt = transform.analyse(transform.synthesise(spectrum))
        accelerated = rebuilt if previous is None or step == 0 else torch.sub(rebuilt, previous, alpha=step)
        previous = rebuilt
        spectrum = _with_magnitude(accelerated, target)
    return spectrum


def _with_magnitude(spectrum: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """`spectrum`'s phases with `magnitude`: ``torch.sgn(spectrum) * magnitude`` through the power, as fast as
    the complex sign and, unlike it, exportable to ONNX. A coefficient under about 1e-19, whose square
    underflows, is taken as zero (the sign's zero) instead of a unit phase."""
    parts = torch.view_as_real(spectrum)
    power = parts[..., 0].square().addcmul_(parts[..., 1], parts[..., 1])
    return spectrum * power.clamp_min_(torch.finfo(power.dtype).tiny).rsqrt_().mul_(magnitude)


def pghi_phase(
    magnitude: torch.Tensor,
    n_fft: int,
    hop_length: int,
    tolerance_db: float = PGHI_TOLERANCE_DB,
    smooth_guard: bool = True,
    smooth_curvature: float = SMOOTH_CURVATURE,
) -> torch.Tensor:
    """Phase (radians) of STFT magnitudes ``(..., freq, frames)`` by Phase Gradient Heuristic Integration.

    Průša, Balazs and Søndergaard (2017), "A noniterative method for reconstruction of phase from
    STFT magnitude". The Hann window is taken as a Gaussian ``exp(-pi t^2 / lam)`` with
    ``lam = HANN_GAUSSIAN_RATIO * n_fft^2`` samples². For a Gaussian window the phase's time
    derivative follows from the log-magnitude's frequency derivative and the phase's frequency
    derivative from its time derivative (centred differences; radians per frame and per bin, phase
    measured from the frame's centre)::

        dphase/dframe = 2 pi hop k / n_fft + (hop n_fft / lam) dlog|S|/dk
        dphase/dk     = -(lam / (hop n_fft)) dlog|S|/dframe

    These are integrated (trapezoid rule) between neighbouring coefficients along the strongest
    paths. The paper does it with a heap, always extending from the largest coefficient reached;
    here the integration tree is the maximum spanning tree of the coefficient grid (an edge weighs
    its weaker end, then its stronger one), which keeps the paper's property that every path runs
    through coefficients as strong as possible, and is built in a few vectorised rounds
    (`_spanning_forest`) instead of one coefficient at a time. Coefficients more than `tolerance_db`
    dB below their spectrogram's peak get a random phase, as in the paper (from a fixed seed, so the
    result is deterministic): a zero phase would line them up into a click at every frame's start,
    audible in a quiet tail.

    A spectrogram too smooth to be an STFT's (`_curvature_ratio` under `smooth_curvature`: a
    decoder's) gets random steps across frequency (from the same seed) and PGHI's along time. Its
    log-magnitude rises and falls alike in every bin, so the integration would give every bin of a
    frame one group delay and the frame would sum to one click: at the loudest frame, one hop in,
    where the tree's paths cross the bins, that click stood far above the sound's body and took its peak.
    Along time each bin still turns at its own frequency, so partials stay steady. `smooth_guard`
    False leaves it out (`InversionConfig.smooth_guard`: sidecars rendered before it recall without it).

    Returns float32 ``(..., freq, frames)`` in ``torch.stft``'s convention (phase measured from the
    frame's first sample).
    """
    if tolerance_db >= 0:
        raise ValueError("tolerance_db must be negative (dB below the peak)")
    shape = magnitude.shape
    grid = magnitude.reshape(-1, *shape[-2:]).to(torch.float32)
    logs = torch.log(grid.clamp_min(torch.finfo(torch.float32).tiny))
    top = logs.amax(dim=(-2, -1), keepdim=True)
    depth = -tolerance_db * math.log(10.0) / 20.0
    valid = (logs > top - depth) & (grid > 0)
    logs = torch.maximum(logs, top - depth)
    bins = torch.arange(shape[-2], device=grid.device)[:, None]
    ratio = hop_length / (HANN_GAUSSIAN_RATIO * n_fft)
    advance = (2.0 * math.pi / n_fft) * ((hop_length * bins) % n_fft)
    per_frame = advance + ratio * torch.gradient(logs, dim=-2)[0]
    per_bin = torch.gradient(logs, dim=-1)[0] / -ratio
    step_time = torch.zeros_like(logs)
    step_time[..., :-1] = (per_frame[..., :-1] + per_frame[..., 1:]) / 2.0
    step_freq = torch.zeros_like(logs)
    step_freq[:, :-1] = (per_bin[:, :-1] + per_bin[:, 1:]) / 2.0
    random = _random_phase(*shape[-2:], grid.device)
    if smooth_guard:
        smooth = _curvature_ratio(logs, logs > top - depth / 2, n_fft, hop_length) < smooth_curvature
        step_freq = torch.where(smooth[:, None, None], random, step_freq)
    levels = ((top - logs) * (_WEAKEST / depth)).round().to(torch.int16).masked_fill_(~valid, _UNUSED)
    phase = _spanning_forest(levels, step_time, step_freq) + math.pi * (bins % 2)
    return torch.where(valid, phase, random).reshape(shape)


def _curvature_ratio(logs: torch.Tensor, strong: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """How curved natural-log magnitudes ``(batch, freq, frames)`` are against the Gaussian window's own
    curvature: for each grid the median, over its `strong` coefficients off the grid's edges, of the
    Laplacian of `logs` (second differences over frames and over bins, each scaled by the window's
    spread) over the window's. Returns ``(batch,)``; NaN for a grid with no such coefficient.

    With a Gaussian window the log-magnitude of any signal's STFT has the window's Laplacian,
    ``-2 pi`` in these units, everywhere but at its zeros: an impulse's curves only over frames, a
    sinusoid's only over bins, a noise's over both, so the ratio reads about 1 (less at a hop of half
    the window, which samples the curve coarsely). A mean of many magnitudes (what a VAE decodes) is
    flatter than any one sound's and reads near 0.
    """
    lam = HANN_GAUSSIAN_RATIO * n_fft**2
    ratios = logs.new_full((len(logs),), math.nan)
    for index, (grid, keep) in enumerate(zip(logs, strong)):
        bins, frames = (where + 1 for where in torch.nonzero(keep[1:-1, 1:-1], as_tuple=True))
        if len(bins):
            centre = 2.0 * grid[bins, frames]
            over_frames = grid[bins, frames + 1] + grid[bins, frames - 1] - centre
            over_bins = grid[bins + 1, frames] + grid[bins - 1, frames] - centre
            laplacian = over_frames * (lam / hop_length**2) + over_bins * (n_fft**2 / lam)
            ratios[index] = laplacian.median() / (-2.0 * math.pi)
    return ratios


@functools.lru_cache(maxsize=8)
def _random_phase(bins: int, frames: int, device: torch.device) -> torch.Tensor:
    """PGHI's phase ``(bins, frames)`` for coefficients under the tolerance: uniform in [-pi, pi) from a fixed
    seed, drawn frame by frame, so the first frames of a longer grid are this grid (made once per size; read-only)."""
    generator = torch.Generator(device=device).manual_seed(PGHI_RANDOM_PHASE_SEED)
    return ((torch.rand((frames, bins), generator=generator, device=device) * 2.0 - 1.0) * math.pi).T


def _spanning_forest(levels: torch.Tensor, step_time: torch.Tensor, step_freq: torch.Tensor) -> torch.Tensor:
    """Integrate phase steps over the maximum spanning forest of each grid ``(batch, freq, frames)`` (Borůvka).

    `levels` (int16) ranks coefficients: 0 is the peak, larger is weaker, `_UNUSED` takes no part.
    `step_time` ``(batch, freq, frames)`` is the phase change from each coefficient to the next
    frame's, `step_freq` the same to the next bin's (their last frame and bin unused). Edges are
    ordered by their weaker end's level, then the stronger end's, then position, so the tree is
    unique. Borůvka's algorithm joins every tree to its best neighbour in each round: the first
    round, where every tree is one coefficient, looks at each used coefficient's four neighbours (each
    joins its strongest), the later ones at the few edges left between trees (`_join_trees`). Only
    used coefficients are visited, numbered in grid order, so the work follows how many there are.
    Returns float32 phases ``(batch, freq, frames)``, each relative to the root of its connected part
    (zero where unused).
    """
    batch, bins, frames = levels.shape
    device = levels.device
    # Everything is indexed on grids with a border of unused coefficients, so no neighbour falls outside.
    padded = levels.new_full((batch, bins + 2, frames + 2), _UNUSED)
    padded[:, 1:-1, 1:-1] = levels
    flat_levels = padded.reshape(-1)
    flat_time, flat_freq = (torch.nn.functional.pad(step, (1, 1, 1, 1)).reshape(-1) for step in (step_time, step_freq))
    row = frames + 2
    position = torch.nonzero(flat_levels != _UNUSED).squeeze(1)
    count = len(position)
    phase = torch.zeros(flat_levels.shape, dtype=step_time.dtype, device=device)
    node = torch.arange(count, device=device)
    level = flat_levels.index_select(0, position)
    # Round one: every coefficient joins its strongest neighbour, looked at in the order of their
    # index (previous bin, previous frame, next frame, next bin) so that of equal ones the first
    # wins. `offset` is the neighbour's index minus this one's, `step` this phase minus that one's:
    # for neighbour j, ``signs[j]`` times the step stored at ``position + reads[j]`` of `flat_steps`.
    flat_steps = torch.cat([flat_time, flat_freq])
    size = len(flat_levels)
    shifts = torch.tensor([-row, -1, 1, row], device=device)
    reads = torch.tensor([size - row, -1, 0, size], device=device)
    signs = torch.tensor([1.0, 1.0, -1.0, -1.0], device=device)
    neighbours = flat_levels.index_select(0, (position + shifts[:, None]).reshape(-1)).view(4, count)
    # The strongest as the least of ``level * 4 + j`` (three elementwise minimums: a reduction over the
    # four rows is many times slower).
    ranked = neighbours.int().mul_(4).add_(torch.arange(4, dtype=torch.int32, device=device)[:, None])
    least = torch.minimum(torch.minimum(ranked[0], ranked[1]), torch.minimum(ranked[2], ranked[3]))
    best, which = least >> 2, least & 3
    offset = shifts.index_select(0, which)
    step = flat_steps.index_select(0, position + reads.index_select(0, which)) * signs.index_select(0, which)
    # Grid index -> node number, for the used coefficients.
    numbering = torch.zeros(flat_levels.shape, dtype=torch.long, device=device).index_copy_(0, position, node)
    joins = best != _UNUSED
    parent = torch.where(joins, numbering.index_select(0, position + offset), node)
    # Of two that choose each other, the stronger (by level, then index) stays a root.
    mutual = parent.index_select(0, parent) == node
    stronger = (level < best) | ((level == best) & (offset > 0))
    root = ~joins | (mutual & stronger)
    label, relative = _find_roots(torch.where(root, node, parent), torch.where(root, 0.0, step))

    # Later rounds: the edges between trees, each tree standing for one node; time edges first, then
    # frequency edges, each in grid order.
    sources, targets, changes = [], [], []
    for neighbour, distance, steps in ((neighbours[2], 1, flat_time), (neighbours[3], row, flat_freq)):
        linked = torch.nonzero(neighbour != _UNUSED).squeeze(1)
        at = position.index_select(0, linked)
        target = numbering.index_select(0, at + distance)
        across = torch.nonzero(label.index_select(0, linked) != label.index_select(0, target)).squeeze(1)
        sources.append(linked.index_select(0, across))
        targets.append(target.index_select(0, across))
        changes.append(steps.index_select(0, at.index_select(0, across)))
    source, target, change = torch.cat(sources), torch.cat(targets), torch.cat(changes)
    if len(source):
        # (phase of the target's root) - (phase of the source's root), through the edge
        change = change + relative.index_select(0, source) - relative.index_select(0, target)
        # Number the trees that edges join 0, 1, ... in the order of their roots (a dense count, not a sort).
        ends = torch.cat([label.index_select(0, source), label.index_select(0, target)])
        joined = torch.zeros(count, dtype=torch.bool, device=device).index_fill_(0, ends, True)
        trees = torch.nonzero(joined).squeeze(1)
        ends = (torch.cumsum(joined, 0) - 1).index_select(0, ends)
        source_level = level.index_select(0, source).long()
        target_level = level.index_select(0, target).long()
        weaker, stronger_end = torch.maximum(source_level, target_level), torch.minimum(source_level, target_level)
        key = (((weaker << _LEVEL_BITS) | stronger_end) << _EDGE_BITS) | torch.arange(len(source), device=device)
        offset_of_tree = _join_trees(len(trees), ends[: len(source)], ends[len(source) :], key, change)
        root_offset = torch.zeros_like(relative).index_put_((trees,), offset_of_tree)
        relative = relative + root_offset.index_select(0, label)
    return phase.index_copy_(0, position, relative).view(padded.shape)[:, 1:-1, 1:-1]


def _find_roots(parent: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Root of every node of a forest ``(nodes,)`` and the sum of `step` on its way there (pointer jumping).

    `parent` points every node at its parent (a root at itself, with step 0); `step` is a node's
    phase minus its parent's. Takes ``log2(depth)`` rounds.
    """
    while True:
        grandparent = parent.index_select(0, parent)
        if torch.equal(grandparent, parent):
            return parent, step
        step = step + step.index_select(0, parent)
        parent = grandparent


def _join_trees(
    trees: int, source: torch.Tensor, target: torch.Tensor, key: torch.Tensor, change: torch.Tensor
) -> torch.Tensor:
    """Borůvka over `trees` nodes joined by edges ``source -> target``: each node's phase over its root.

    `key` orders the edges (smaller is better, all distinct; its low bits are the edge's position)
    and `change` is the target's phase minus the source's along each edge. Each round every node's
    tree takes its best edge out, the trees so linked become one (a pair that chose the same edge
    keeps the lower-numbered root), until no edge joins two trees. Returns ``(trees,)``.
    """
    device = source.device
    top = torch.arange(trees, device=device)
    offset = torch.zeros(trees, dtype=change.dtype, device=device)
    edge_source, edge_target, edge_change = source, target, change
    while True:
        source_top, target_top = top.index_select(0, source), top.index_select(0, target)
        between = torch.nonzero(source_top != target_top).squeeze(1)
        if len(between) == 0:
            return offset
        source, target, key = source.index_select(0, between), target.index_select(0, between), key.index_select(0, between)
        best = torch.full((trees,), _NO_EDGE, dtype=torch.long, device=device)
        best.scatter_reduce_(0, source_top.index_select(0, between), key, "amin")
        best.scatter_reduce_(0, target_top.index_select(0, between), key, "amin")
        joining = torch.nonzero(best != _NO_EDGE).squeeze(1)
        chosen = best.index_select(0, joining)
        edge = chosen & _EDGE_MASK
        ends = edge_source.index_select(0, edge), edge_target.index_select(0, edge)
        own_source = top.index_select(0, ends[0]) == joining
        mine = torch.where(own_source, ends[0], ends[1])
        theirs = torch.where(own_source, ends[1], ends[0])
        along = edge_change.index_select(0, edge)
        other = top.index_select(0, theirs)
        # (phase of my top) - (phase of the other top), through the chosen edge
        step = torch.where(own_source, -along, along) + offset.index_select(0, theirs) - offset.index_select(0, mine)
        root = (best.index_select(0, other) == chosen) & (joining < other)
        parent = torch.arange(trees, device=device)
        parent[joining] = torch.where(root, joining, other)
        steps = torch.zeros(trees, dtype=change.dtype, device=device)
        steps[joining] = torch.where(root, 0.0, step)
        parent, steps = _find_roots(parent, steps)
        offset = offset + steps.index_select(0, top)
        top = parent.index_select(0, top)


def invert(
    magnitude: torch.Tensor, n_fft: int, hop_length: int, num_samples: int, settings: InversionConfig
) -> torch.Tensor:
    """Audio ``(..., num_samples)`` from STFT magnitudes ``(..., freq, frames)`` by `settings.method`.

    ``gla``: plain Griffin-Lim from zero phase; ``fgla``: fast Griffin-Lim from zero phase; ``pghi``:
    PGHI phase, then `settings.iterations` fast Griffin-Lim iterations. The magnitudes must have
    ``n_fft // 2 + 1`` bins and ``1 + num_samples // hop_length`` frames (a ValueError otherwise).
    """
    expected = (n_fft // 2 + 1, 1 + num_samples // hop_length)
    if magnitude.dim() < 2 or tuple(magnitude.shape[-2:]) != expected:
        raise ValueError(f"magnitudes of shape {tuple(magnitude.shape)} do not end in (freq, frames) = {expected}")
    if settings.method == "gla":
        return griffin_lim(magnitude, n_fft, hop_length, num_samples, settings.iterations)
    if settings.method == "fgla":
        return fast_griffin_lim(magnitude, n_fft, hop_length, num_samples, settings.iterations, settings.momentum)
    return _pghi_then_iterations(magnitude, n_fft, hop_length, num_samples, settings)


def active_frames(magnitude: torch.Tensor, tolerance_db: float, margin: int) -> list[int]:
    """For each spectrogram of STFT magnitudes ``(..., freq, frames)`` (flattened over the batch), how many
    leading frames hold a coefficient within `tolerance_db` of its peak, plus `margin`, at most all.

    Past them every coefficient is more than `tolerance_db` under the peak (with PGHI's tolerance, each
    gets a random phase).
    """
    grid = magnitude.reshape(-1, *magnitude.shape[-2:])
    floor = grid.amax(dim=(-2, -1)) * 10.0 ** (tolerance_db / 20.0)
    heard = grid.amax(dim=-2) > floor[:, None]
    last = torch.where(heard, torch.arange(1, grid.shape[-1] + 1, device=grid.device), 0).amax(dim=-1)
    return (last + margin).clamp_max(grid.shape[-1]).tolist()


def _pghi_with(settings: InversionConfig, magnitude: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """`pghi_phase` with the smooth guard `settings` ask for."""
    return pghi_phase(
        magnitude, n_fft, hop_length, smooth_guard=settings.smooth_guard, smooth_curvature=settings.smooth_curvature
    )


def _pghi_then_iterations(
    magnitude: torch.Tensor, n_fft: int, hop_length: int, num_samples: int, settings: InversionConfig
) -> torch.Tensor:
    """PGHI's phase, then fast Griffin-Lim iterations over the frames a sound is heard in.

    The frames past `active_frames` at `ITERATION_CUT_DB` (with a margin of one window, so every frame
    that overlaps a heard one is iterated, rounded up to a whole window so that few STFT sizes occur)
    hold nothing within 70 dB of the peak; they keep PGHI's random phase and join only the last
    inverse STFT. A drum that dies away early (a kick: often within the first 60 of 128 frames) costs
    fewer iterations; every frame within 70 dB of its peak is iterated as before. The heard frames'
    phase is PGHI's over all frames, exactly: its trees join only coefficients within its tolerance,
    60 dB, and its smoothness test reads only those within half of it.
    """
    frames = magnitude.shape[-1]
    window = -(-n_fft // hop_length)
    each = [min(frames, -(-count // window) * window) for count in active_frames(magnitude, ITERATION_CUT_DB, window)]
    if len(set(each)) > 1:  # each spectrogram inverts as it would alone
        grid = magnitude.reshape(-1, *magnitude.shape[-2:])
        audio = torch.stack([_pghi_then_iterations(item, n_fft, hop_length, num_samples, settings) for item in grid])
        return audio.reshape(*magnitude.shape[:-2], num_samples)
    heard = max(2, each[0])
    if heard == frames:
        phase = _pghi_with(settings, magnitude, n_fft, hop_length)
        return fast_griffin_lim(magnitude, n_fft, hop_length, num_samples, settings.iterations, settings.momentum, phase)
    head = magnitude[..., :heard]
    transform = _Stft.make(n_fft, hop_length, (heard - 1) * hop_length, magnitude.device)
    target = head.to(torch.float32).transpose(-1, -2).contiguous()
    start = _spectrum(target, _pghi_with(settings, head, n_fft, hop_length))
    spectrum = _iterate(transform, target, start, settings.iterations, settings.momentum)
    tail = magnitude[..., heard:].to(torch.float32).transpose(-1, -2)
    quiet = _spectrum(tail, _random_phase(magnitude.shape[-2], frames, magnitude.device)[:, heard:])
    whole = _Stft.make(n_fft, hop_length, num_samples, magnitude.device)
    return whole.synthesise(torch.cat([spectrum, quiet], dim=-2))
