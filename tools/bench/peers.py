#!/usr/bin/python3
"""The Python peer a user would write for each benchmarked dataset (Debian's
Pillow, numpy, scipy, nibabel, pydicom), run by tools/bench/bench_peers.cpp
beside our build so both are measured the same way (CPU time, minor page
faults and peak RSS of the child process).

    peers.py images OUT_DIR MODE SIZES FILE...   (MODE L or RGB; SIZES 28,64,128,224)
    peers.py nifti FILE                          prints the CPU seconds of two reads to float32
    peers.py dicom FOLDER                        prints the CPU seconds per slice
    peers.py volume3d FILE BOXES OUT_DIR          one NIfTI, 3D crops (x1 x2 y1 y2 z1 z2 per line)
    peers.py synapse SLICE_DIR CSV OUT_DIR       crops of 128x128x34 around each synapse

Each writes what the dataset's .npz would hold with np.savez_compressed.
"""
import os
import sys
import time

import numpy as np


def images(out_dir, mode, sizes, files):
    from PIL import Image
    sizes = [int(s) for s in sizes.split(",")]
    stacks = {s: [] for s in sizes}
    for f in files:
        with Image.open(f) as im:
            im = im.convert(mode)
            for s in sizes:
                # BILINEAR: the filter the manifests ask for (pil-bilinear at every size,
                # as MedMNIST v1 resized with torchvision), so both sides do the same work.
                stacks[s].append(np.asarray(im.resize((s, s), Image.BILINEAR)))
    labels = np.zeros((len(files), 1), np.uint8)
    for s in sizes:
        np.savez_compressed(os.path.join(out_dir, "peer_%d.npz" % s), train_images=np.stack(stacks[s]),
                            train_labels=labels)


def nifti(path):
    """Two ways a user reads a volume to float: get_fdata, and the stored
    array (dataobj) cast to float32. Prints both CPU times."""
    import nibabel as nib
    start = time.process_time()
    data = nib.load(path).get_fdata(dtype=np.float32)  # float HU, as our reader returns
    fdata = time.process_time() - start
    del data
    start = time.process_time()
    data = np.asarray(nib.load(path).dataobj).astype(np.float32)
    dataobj = time.process_time() - start
    assert data.size > 0
    print("%.6f %.6f" % (fdata, dataobj))


def dicom(folder):
    import pydicom
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".dcm"))
    start = time.process_time()
    slices = []
    for f in files:
        ds = pydicom.dcmread(f)
        slices.append((float(ds.ImagePositionPatient[2]),
                       ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)))
    slices.sort(key=lambda s: s[0])
    volume = np.stack([s[1] for s in slices], axis=-1)
    seconds = time.process_time() - start
    assert volume.size > 0
    print("%.6f" % (seconds / len(files)))


def window(hu, level=50, width=400):
    lo = level - width / 2
    return np.clip((hu - lo) / width * 255 + 0.5, 0, 255).astype(np.uint8)


def volume3d(path, boxes, out_dir):
    import nibabel as nib
    from scipy import ndimage
    hu = nib.load(path).get_fdata(dtype=np.float32)
    out = {28: [], 64: []}
    for line in open(boxes):
        parts = line.split()
        x1, x2, y1, y2, z1, z2 = (int(v) for v in parts[2:8])
        crop = window(hu[x1:x2 + 1, y1:y2 + 1, z1:z2 + 1])
        for s in out:
            out[s].append(ndimage.zoom(crop, [s / n for n in crop.shape], order=3))
    for s, crops in out.items():
        np.savez_compressed(os.path.join(out_dir, "peer3d_%d.npz" % s), train_images=np.stack(crops))


def synapse(slice_dir, csv, out_dir):
    from PIL import Image
    from scipy import ndimage
    names = sorted(f for f in os.listdir(slice_dir) if f.endswith(".png"))
    volume = np.stack([np.asarray(Image.open(os.path.join(slice_dir, f))) for f in names])  # (z, y, x)
    out = {28: [], 64: []}
    rows = [line.strip().split(",") for line in open(csv)][1:]
    for _, x, y, z, _ in rows:
        x, y, z = int(x), int(y), int(z)
        box = np.zeros((34, 128, 128), np.uint8)
        z0, y0, x0 = z - 17, y - 64, x - 64
        src = volume[max(z0, 0):z0 + 34, max(y0, 0):y0 + 128, max(x0, 0):x0 + 128]
        box[max(-z0, 0):max(-z0, 0) + src.shape[0], max(-y0, 0):max(-y0, 0) + src.shape[1],
            max(-x0, 0):max(-x0, 0) + src.shape[2]] = src
        for s in out:
            out[s].append(ndimage.zoom(box, [s / n for n in box.shape], order=1))
    for s, crops in out.items():
        np.savez_compressed(os.path.join(out_dir, "peer_syn_%d.npz" % s), train_images=np.stack(crops))


def main(argv):
    cmd = argv[1]
    if cmd == "images":
        images(argv[2], argv[3], argv[4], argv[5:])
    elif cmd == "nifti":
        nifti(argv[2])
    elif cmd == "dicom":
        dicom(argv[2])
    elif cmd == "volume3d":
        volume3d(argv[2], argv[3], argv[4])
    elif cmd == "synapse":
        synapse(argv[2], argv[3], argv[4])
    else:
        sys.exit("unknown peer " + cmd)


if __name__ == "__main__":
    main(sys.argv)
