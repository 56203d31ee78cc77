"""The sound map's projection and the planes its spots read."""

from __future__ import annotations

import numpy as np
import pytest

from dkvae.web.maps import PlaneStore, project_2d


def test_a_spot_is_the_least_squares_plane_through_the_points() -> None:
    latents = np.random.default_rng(0).normal(size=(40, 9)).astype(np.float32)
    points, plane = project_2d(latents)
    assert points.shape == (40, 2) and np.abs(points).max() == pytest.approx(1.0)
    design = np.column_stack([np.ones(len(points)), points]).astype(np.float64)
    fit, *_ = np.linalg.lstsq(design, latents.astype(np.float64), rcond=None)
    for x, y in [(0.0, 0.0), (0.3, -0.7), (-1.0, 1.0)]:
        assert plane.latent_at(x, y) == pytest.approx(np.array([1.0, x, y]) @ fit, abs=1e-4)


def test_points_on_a_line_have_no_plane() -> None:
    assert project_2d(np.zeros((0, 5), np.float32))[1] is None
    assert project_2d(np.ones((1, 5), np.float32))[1] is None
    assert project_2d(np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32))[1] is None
    line = np.outer(np.linspace(-1, 1, 7), np.arange(5)).astype(np.float32)
    points, plane = project_2d(line)
    assert plane is None and np.abs(points[:, 1]).max() < 1e-5
    assert project_2d(np.ones((4, 5), np.float32))[1] is None


def test_the_store_names_a_plane_by_its_map_and_forgets_the_oldest() -> None:
    store = PlaneStore(capacity=2)
    maps = [np.random.default_rng(seed).normal(size=(5, 3)).astype(np.float32) for seed in range(3)]
    planes = [project_2d(latents)[1] for latents in maps]
    first = store.keep(maps[0], planes[0])
    assert store.keep(maps[0], planes[0]) == first and len(first) == 16 and store.get(first) is planes[0]
    second, third = store.keep(maps[1], planes[1]), store.keep(maps[2], planes[2])
    assert len({first, second, third}) == 3
    assert store.get(first) is None and store.get(second) is planes[1] and store.get(third) is planes[2]
