#!/usr/bin/python3
"""Reference resizes for tests/unit/test_pil_resample.cpp, from Debian's python3-pil.

Usage: pil_ref.py JOB [JOB ...]
  JOB = IN.npy:OUT.npy:WIDTH:HEIGHT:FILTER
  IN is uint8 (h, w) (mode "L") or (h, w, 3) (mode "RGB"); FILTER is a
  PIL.Image.Resampling name (NEAREST, BOX, BILINEAR, HAMMING, BICUBIC, LANCZOS).
  OUT = np.asarray(Image.fromarray(IN).resize((WIDTH, HEIGHT), FILTER)), uint8.
  Image.resize's defaults apply (box = whole image, reducing_gap = None).
One process runs all jobs.
"""
import sys

import numpy as np
from PIL import Image

inputs = {}
for job in sys.argv[1:]:
    src, dst, w, h, name = job.split(":")
    if src not in inputs:
        inputs[src] = Image.fromarray(np.load(src))
    out = inputs[src].resize((int(w), int(h)), getattr(Image.Resampling, name))
    np.save(dst, np.asarray(out, dtype=np.uint8))
