"""Every manifest's [dataset] section equals medmnist's INFO, and every converter has one."""
import pathlib
import tomllib
import unittest

from mmbtest import INFO, SOURCE_DIR, run

MANIFESTS = sorted((SOURCE_DIR / "manifests").glob("*.toml"))


class ManifestsMatchInfo(unittest.TestCase):
    def test_there_are_manifests(self):
        self.assertTrue(MANIFESTS)

    def test_dataset_sections_equal_info(self):
        for path in MANIFESTS:
            with self.subTest(manifest=path.name):
                d = tomllib.loads(path.read_text())["dataset"]
                info = INFO[d["flag"]]
                self.assertEqual(path.stem, d["flag"])
                self.assertEqual(d["python_class"], info["python_class"])
                self.assertEqual(d["task"], info["task"])
                self.assertEqual(d["license"], info["license"])
                self.assertEqual(d["n_channels"], info["n_channels"])
                self.assertEqual(f"{d['dim']}d", info["dim"])
                self.assertEqual(d["sizes"], info["sizes"])
                self.assertEqual({str(i): n for i, n in enumerate(d["labels"])}, info["label"])
                self.assertEqual(d["n_samples"], info["n_samples"])

    def test_every_listed_converter_has_a_manifest(self):
        listed = [line.split()[0] for line in run("list").stdout.splitlines() if line and not line.startswith(" ")]
        self.assertTrue(listed)
        self.assertEqual(sorted(listed), sorted(p.stem for p in MANIFESTS))


if __name__ == "__main__":
    unittest.main()
