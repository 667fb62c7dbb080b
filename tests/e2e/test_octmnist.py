"""OCTMNIST from synthetic Kermany OCT trees (tools/fixtures/make_kermany_fixture.py).

The cases OCTMNIST shares with PneumoniaMNIST (same layout, same fixture) are the
Kermany* mixins in mmbtest.py; what is particular to OCT is here.

Run: MMB_BUILD_DIR=build MMB_SOURCE_DIR=. /usr/bin/python3 -m unittest -v test_octmnist
"""
import shutil
import unittest

import numpy as np

from mmbtest import (KermanyBadInputCases, KermanyBuiltOnceCases, KermanyDataset, KermanyLayoutCases, TempDirTest,
                     all_ids, load_tool, run)

FLAG = "octmnist"
fixture = load_tool("make_kermany_fixture")


class Oct(KermanyDataset):
    FLAG = FLAG
    PARTS = "oct"
    N_CLASSES = 4
    CLASSES = fixture.OCT_CLASSES
    ROOT = "OCT2017"
    fixture = fixture


class MendeleyV2(Oct, KermanyBuiltOnceCases, unittest.TestCase):
    """One v2 build, all four sizes, inspected from every side."""
    TMP_PREFIX = "mmb-oct-"

    def test_patients_never_cross_train_and_val(self):
        self.subjects_by_split()
        # A patient filed under DRUSEN and NORMAL is one patient (the id alone is the group).
        both = [n for n, i in self.images.items() if i["class"] == "NORMAL" and i["split"] == "train_val"
                and any(j["subject"] == i["subject"] and j["class"] == "DRUSEN" for j in self.images.values())]
        self.assertEqual(len(both), 1)


class Layouts(Oct, KermanyLayoutCases, TempDirTest):
    STRAY = "DME/DME-1-1.jpeg"

    def test_v3_celldata_gives_the_same_dataset_and_ignores_the_chest_xray_beside_it(self):
        v2 = self.generate(self.tmp / "v2")
        fixture.generate(self.tmp / "v3", version="v3", parts="oct,cxr")  # CellData/chest_xray has NORMAL too
        side_v2, arrays_v2 = self.build_ids(self.tmp / "v2")
        shutil.rmtree(self.tmp / "out")
        side_v3, arrays_v3 = self.build_ids(self.tmp / "v3")
        self.assertEqual(side_v3["source_ids"], side_v2["source_ids"])
        self.assertEqual(len(all_ids(side_v3)), len(self.images_of(v2)))
        for key in arrays_v2:
            np.testing.assert_array_equal(arrays_v3[key], arrays_v2[key])
        self.assertIn("Mendeley V3", run("check", FLAG, "--source", self.tmp / "v3").stdout)

    def test_kaggle_val_joins_train_duplicate_copy_and_junk_are_skipped(self):
        self.kaggle_val_joins_train()

    def test_source_may_be_the_oct2017_folder_itself(self):
        self.source_may_be_the_root_folder_itself()


class BadInput(Oct, KermanyBadInputCases, TempDirTest):
    def test_a_tree_without_oct_class_folders_is_an_error_naming_the_source(self):
        fixture.generate(self.tmp / "src", version="v2", parts="cxr")
        proc = run("check", FLAG, "--source", self.tmp / "src", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no images in {train,test}/{CNV,DME,DRUSEN,NORMAL}/", proc.stderr)


if __name__ == "__main__":
    unittest.main()
