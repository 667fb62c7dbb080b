"""PneumoniaMNIST from synthetic Kermany chest X-ray trees (tools/fixtures/make_kermany_fixture.py).

The cases PneumoniaMNIST shares with OCTMNIST (same layout, same fixture) are the
Kermany* mixins in mmbtest.py; what is particular to the chest X-rays is here.

Run: MMB_BUILD_DIR=build MMB_SOURCE_DIR=. /usr/bin/python3 -m unittest -v test_pneumoniamnist
"""
import unittest

import numpy as np
from skimage.transform import resize

from mmbtest import (SPLITS, KermanyBadInputCases, KermanyBuiltOnceCases, KermanyDataset, KermanyLayoutCases,
                     TempDirTest, all_ids, load_tool, run)

FLAG = "pneumoniamnist"
N_CLASSES = 2
fixture = load_tool("make_kermany_fixture")


def images_of(manifest):
    return manifest[FLAG]["images"]


class ChestXray(KermanyDataset):
    FLAG = FLAG
    PARTS = "cxr"
    N_CLASSES = N_CLASSES
    CLASSES = fixture.CXR_CLASSES
    ROOT = "chest_xray"
    fixture = fixture


class MendeleyV2(ChestXray, KermanyBuiltOnceCases, unittest.TestCase):
    """One v2 build, all four sizes, inspected from every side."""
    TMP_PREFIX = "mmb-cxr-"

    def test_patients_never_cross_train_and_val(self):
        subjects = self.subjects_by_split()
        # V2 patients: person<N> (PNEUMONIA), [NORMAL2-]IM-<nnnn> (NORMAL); some have two images.
        self.assertTrue(any(s.startswith("person") for s in subjects["train"] | subjects["val"]))
        self.assertTrue(any(s.startswith("NORMAL2-IM-") for s in subjects["train"] | subjects["val"]))
        multi = [s for s in subjects["train"] | subjects["val"] if sum(i["subject"] == s for i in self.images.values()) > 1]
        self.assertTrue(multi)
        # The source's test folder is fixed: a person number may be in train and test (as in V2).
        self.assertTrue(subjects["test"] & (subjects["train"] | subjects["val"]))

    def test_the_127_pixel_short_edge_is_upsampled_for_128_and_224(self):
        wide = next(n for n, i in self.images.items() if i["shape"] == "wide")
        self.assertEqual(self.images[wide]["size"], [254, 127])
        split = next(s for s in SPLITS if wide in self.side["source_ids"][s])
        i = self.side["source_ids"][split].index(wide)
        for size in (128, 224):
            img = self.files[size][f"{split}_images"][i].astype(np.float64)
            small = resize(img, (28, 28), order=1, anti_aliasing=True, preserve_range=True)
            self.assertEqual(fixture.decode_28(small, N_CLASSES), self.images[wide]["label"])


class Layouts(ChestXray, KermanyLayoutCases, TempDirTest):
    STRAY = "PNEUMONIA/person9_virus_1.jpeg"

    def test_v3_names_give_patients_and_labels_and_the_oct_beside_them_is_ignored(self):
        m = fixture.generate(self.tmp / "v3", version="v3", parts="oct,cxr")  # CellData/OCT has NORMAL too
        side, arrays = self.build_ids(self.tmp / "v3", "--group", "subject")
        images = images_of(m)
        self.assertEqual(sorted(all_ids(side)), sorted(images))
        prefixes = {n.split("-")[0] for n in images}
        self.assertEqual(prefixes, {"NORMAL", "BACTERIA", "VIRUS"})
        for split in SPLITS:  # BACTERIA and VIRUS are both pneumonia (1)
            expected = [0 if n.startswith("NORMAL") else 1 for n in side["source_ids"][split]]
            self.assertEqual(arrays[f"{split}_labels"][:, 0].tolist(), expected)
            self.assertEqual([fixture.decode_28(x, N_CLASSES) for x in arrays[f"{split}_images"]], expected)
        subjects = {s: {images[i]["subject"] for i in side["source_ids"][s]} for s in SPLITS}
        self.assertFalse(subjects["train"] & subjects["val"])
        self.assertTrue(all(s.isdigit() for s in subjects["train"]))
        self.assertIn("Mendeley V3", run("check", FLAG, "--source", self.tmp / "v3").stdout)

    def test_a_name_spelling_another_class_than_its_folder_keeps_the_folder_label(self):
        m = fixture.generate(self.tmp / "src", version="v3", parts="cxr")
        name, image = next((n, i) for n, i in sorted(images_of(m).items()) if n.startswith("VIRUS") and i["split"] == "test")
        moved = self.tmp / "src" / "CellData/chest_xray/test/NORMAL" / name
        (self.tmp / "src" / image["path"]).rename(moved)
        side, arrays = self.build_ids(self.tmp / "src")
        self.assertEqual(arrays["test_labels"][side["source_ids"]["test"].index(name), 0], 0)
        self.assertIn("1 file names spell another class than their folder",
                      run("check", FLAG, "--source", self.tmp / "src").stdout)

    def test_kaggle_val_joins_train_nested_copy_and_macosx_are_skipped(self):
        m = self.kaggle_val_joins_train()  # its "0 unreadable": the ._*.jpeg AppleDouble files in __MACOSX are never read
        self.assertTrue(any("__MACOSX" in j and j.endswith(".jpeg") for j in m[FLAG]["junk"]))

    def test_source_may_be_the_chest_xray_folder_itself(self):
        self.source_may_be_the_root_folder_itself()


class BadInput(ChestXray, KermanyBadInputCases, TempDirTest):
    def test_a_tree_without_chest_xray_is_an_error_naming_the_source(self):
        fixture.generate(self.tmp / "src", version="v2", parts="oct")  # OCT2017/*/NORMAL is not a chest X-ray
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no images in {train,test}/{NORMAL,PNEUMONIA}/", proc.stderr)


if __name__ == "__main__":
    unittest.main()
