"""Shared helpers for the end-to-end tests: run the CLI, make fixtures, read outputs.

Run with Debian's /usr/bin/python3 (numpy, scipy, skimage, PIL). ctest sets
MMB_BUILD_DIR and MMB_SOURCE_DIR.
"""
import hashlib
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SOURCE_DIR = pathlib.Path(os.environ.get("MMB_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILD_DIR = pathlib.Path(os.environ.get("MMB_BUILD_DIR", SOURCE_DIR / "build"))
BINARY = BUILD_DIR / "medmnist-build"
INFO = json.loads((SOURCE_DIR / "tests/data/medmnist-info.json").read_text())


def load_tool(name):
    """Imports tools/fixtures/<name>.py as a module."""
    path = SOURCE_DIR / "tools/fixtures" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run(*args, check=True, **kwargs):
    """Runs medmnist-build; returns the CompletedProcess (text mode)."""
    cmd = [str(BINARY), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def npz_name(flag, size):
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def load_npz(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}, list(f.files)


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def sidecar(out_dir, flag, size):
    return json.loads((pathlib.Path(out_dir) / npz_name(flag, size)).with_suffix(".json").read_text())


class TempDirTest(unittest.TestCase):
    """Gives each test a fresh temporary directory self.tmp."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mmb-e2e-")
        self.tmp = pathlib.Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()


def nearest_centroid_accuracy(train_x, train_y, test_x, test_y):
    """Per-class nearest centroid on flattened float images; returns accuracy."""
    train_x = train_x.reshape(len(train_x), -1).astype(np.float64)
    test_x = test_x.reshape(len(test_x), -1).astype(np.float64)
    classes = np.unique(train_y)
    centroids = np.stack([train_x[train_y == c].mean(axis=0) for c in classes])
    d = ((test_x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    predicted = classes[np.argmin(d, axis=1)]
    return float((predicted == test_y).mean())
