#!/usr/bin/python3
"""Reference ROI resampling for tests/unit/test_roi_resample.cpp, with Debian's scipy.

Usage: roi_ref.py JOB [JOB ...]
  JOB = VOLUME.npy:COORDS.npy:OUT.npy:ORDER:SIGMAS:FILL
    VOLUME  float64 array in numpy order (k, j, i): the whole test volume
    COORDS  float64 (N, 3): the continuous index (i, j, k) of each output voxel,
            computed by the test from the physical points, independently of
            common/ops/roi_resample.cpp
    ORDER   3 (cubic B-spline) or 1 (linear)
    SIGMAS  "si,sj,sk": anti-aliasing Gaussian per volume axis, in voxels (0 = none)
    FILL    value of points outside [-0.5, n - 0.5] on any axis
  OUT is float64 (N,).

The recipe of common/ops/roi_resample.h, on the WHOLE volume rather than a
sub-block (so the comparison also measures the sub-block's truncation):
  gaussian_filter1d(sigma, mode='mirror', truncate=4.0) on each axis with sigma > 0,
  then map_coordinates(order, mode='mirror', prefilter=True), then the fill.
One process runs all jobs, so scipy is imported once per test.
"""
import sys

import numpy as np
from scipy import ndimage


def reference(volume, coords, order, sigmas, fill):
    smoothed = volume
    for axis_ijk, sigma in enumerate(sigmas):
        if sigma > 0:
            smoothed = ndimage.gaussian_filter1d(smoothed, sigma, axis=2 - axis_ijk, mode='mirror', truncate=4.0)
    kji = coords[:, ::-1].T  # map_coordinates wants one row per numpy axis: k, j, i
    values = ndimage.map_coordinates(smoothed, kji, order=order, mode='mirror', prefilter=True)
    shape_ijk = volume.shape[::-1]
    outside = np.zeros(len(coords), dtype=bool)
    for a in range(3):
        outside |= (coords[:, a] < -0.5) | (coords[:, a] > shape_ijk[a] - 0.5)
    values[outside] = fill
    return values


def main(jobs):
    for job in jobs:
        vol_path, coords_path, out_path, order, sigmas, fill = job.split(':')
        volume = np.load(vol_path).astype(np.float64)
        coords = np.load(coords_path).astype(np.float64)
        sigmas = [float(s) for s in sigmas.split(',')]
        values = reference(volume, coords, int(order), sigmas, float(fill))
        np.save(out_path, np.ascontiguousarray(values, dtype=np.float64))


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
