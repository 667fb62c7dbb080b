#!/usr/bin/python3
"""Reference resizes for tests/unit/test_resize.cpp, from Debian's scipy/skimage.

Usage: resize_ref.py JOB [JOB ...]
  JOB = OP:IN.npy:OUT.npy:SHAPE   SHAPE = output shape in numpy order, e.g. 28,28
Every result is written as float64, before any rounding.

OPs
  zoom     scipy.ndimage.zoom(order=3, grid_mode=True, mode='grid-mirror'):
           the spline on axes that grow or keep their size (no clipping).
  skimage  skimage.transform.resize(order=3, anti_aliasing=True,
           preserve_range=True): Gaussian sigma=(s-1)/2 on shrinking axes,
           spline with the 'mirror' boundary, clipped to the input's range.
  recipe   the header's per-axis recipe (common/ops/resize.h) for any mix of
           shrinking and growing axes: a shrinking axis is smoothed and
           sampled as skimage does, any other axis as zoom does (no clipping).
One process runs all jobs, so scipy and skimage are imported once per test.
"""
import sys

import numpy as np
from scipy import ndimage
from skimage.transform import resize


def zoom(x, shape):
    factors = [o / i for o, i in zip(shape, x.shape)]
    return ndimage.zoom(x, factors, order=3, grid_mode=True, mode='grid-mirror')


def skimage_resize(x, shape):
    return resize(x, shape, order=3, anti_aliasing=True, preserve_range=True, mode='reflect')


def recipe(x, shape):
    # Separable, so one axis at a time is exact; zoom by 1 on the other axes
    # samples the spline at the knots, which returns the data unchanged.
    for axis, (n_in, n_out) in enumerate(zip(x.shape, shape)):
        if n_in == n_out:
            continue
        factors = [1.0] * x.ndim
        factors[axis] = n_out / n_in
        if n_in > n_out:
            sigma = (n_in / n_out - 1) / 2
            x = ndimage.gaussian_filter1d(x, sigma, axis=axis, mode='mirror', truncate=4.0)
            x = ndimage.zoom(x, factors, order=3, grid_mode=True, mode='mirror')
        else:
            x = ndimage.zoom(x, factors, order=3, grid_mode=True, mode='grid-mirror')
    return x


OPS = {'zoom': zoom, 'skimage': skimage_resize, 'recipe': recipe}


def main(jobs):
    for job in jobs:
        op, src, dst, shape = job.split(':')
        shape = tuple(int(v) for v in shape.split(','))
        x = np.load(src).astype(np.float64)
        y = OPS[op](x, shape)
        assert y.shape == shape, (op, y.shape, shape)
        np.save(dst, np.ascontiguousarray(y, dtype=np.float64))


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
