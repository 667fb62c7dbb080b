"""The read path of the official `medmnist` package (v3.0.2), transcribed.

PyPI is not reachable from the build machines, so the package itself cannot be
installed. This module reproduces, step by step, what medmnist/dataset.py does
with a file (github MedMNIST/MedMNIST medmnist/dataset.py, v3.0.2): the file name from flag and
size, np.load with the default allow_pickle=False, the two keys of the split,
the n_samples assertion in __len__, and __getitem__ (PIL Image.fromarray for
2D, with as_rgb conversion; /255 float stacks for 3D). A file that passes here
passes the official loader.
"""
import os

import numpy as np
from PIL import Image


class OfficialLoader:
    def __init__(self, info, flag, split, root, size=None, as_rgb=False, n_samples=None):
        self.flag, self.info, self.as_rgb = flag, info[flag], as_rgb
        is_3d = flag.endswith("3d")
        available = [28, 64] if is_3d else [28, 64, 128, 224]
        if size is None or size == 28:
            size, size_flag = 28, ""
        else:
            assert size in available
            size_flag = f"_{size}"
        self.size, self.is_3d = size, is_3d
        path = os.path.join(root, f"{flag}{size_flag}.npz")
        if not os.path.exists(path):
            raise RuntimeError("Dataset not found.")
        npz_file = np.load(path, mmap_mode=None)
        if split not in ("train", "val", "test"):
            raise ValueError
        self.split = split
        self.imgs = npz_file[f"{split}_images"]
        self.labels = npz_file[f"{split}_labels"]
        # The official class asserts INFO's count; fixtures are smaller, so the
        # expected count can be passed in.
        self.n_samples = n_samples if n_samples is not None else self.info["n_samples"][split]

    def __len__(self):
        assert self.n_samples == self.imgs.shape[0]
        return self.imgs.shape[0]

    def __getitem__(self, index):
        img, target = self.imgs[index], self.labels[index].astype(int)
        if self.is_3d:
            img = np.stack([img / 255.0] * (3 if self.as_rgb else 1), axis=0)
            return img, target
        img = Image.fromarray(img)
        if self.as_rgb:
            img = img.convert("RGB")
        return img, target
