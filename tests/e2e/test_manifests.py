"""Every manifest's [dataset] section equals medmnist's INFO, and every converter has one."""
import pathlib
import re
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


class SettingKeysStayListed(unittest.TestCase):
    """--set accepts a key only when a manifest declares it or the tool reads it (the hand-kept
    known_setting_keys() in common/manifest/manifest.cpp). A key a converter starts to read
    but nobody lists would be refused by --set; a listed key nobody reads any more would be
    accepted and silently ignored. Both directions are checked against the sources."""

    KEY = re.compile(r'"((?:source|preprocess|split|dataset)\.[a-z0-9_]+(?:\.[a-z0-9_]+)*\.?)"')

    @staticmethod
    def list_body():
        text = (SOURCE_DIR / "common/manifest/manifest.cpp").read_text()
        start = text.index("known_setting_keys() {")
        return text, start, text.index("return keys;", start)

    def known_keys(self):
        text, start, end = self.list_body()
        return set(re.findall(r'"([a-z0-9_.]+)"', text[start:end]))

    def keys_in_sources(self):
        found = {}
        for folder in ("converters", "common", "tools/cli"):
            for path in sorted((SOURCE_DIR / folder).rglob("*.[ch]*")):
                text = path.read_text(errors="replace")
                if path.name == "manifest.cpp":  # the list itself does not count as reading a key
                    _, start, end = self.list_body()
                    text = text[:start] + text[end:]
                for key in self.KEY.findall(text):
                    found.setdefault(key, path.relative_to(SOURCE_DIR))
        return found

    @staticmethod
    def listed(key, known):
        return (key in known or key.startswith("preprocess.resize_kernel")
                or any(k.endswith(".") and key.startswith(k) for k in known))

    def test_every_key_the_sources_name_is_listed(self):
        known = self.known_keys()
        for key, where in self.keys_in_sources().items():
            if key.startswith("dataset.") and key != "dataset.description":
                continue  # the required [dataset] facts: every manifest declares them
            with self.subTest(key=key):
                self.assertTrue(self.listed(key, known), f"{where} names '{key}', which known_setting_keys() lacks")

    def test_every_listed_key_is_named_by_some_source(self):
        named = self.keys_in_sources()
        for key in self.known_keys():
            with self.subTest(key=key):
                self.assertTrue(any(k == key or (key.endswith(".") and k.startswith(key)) for k in named),
                                f"known_setting_keys() lists '{key}', but no source reads it")
