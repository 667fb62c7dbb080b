#!/usr/bin/python3
"""Print the [dataset] section of a manifest from medmnist's INFO.

Usage: tools/manifest_from_info.py FLAG [path/to/medmnist-info.json]

The JSON (default: tests/data/medmnist-info.json) is the machine-readable copy of
medmnist/info.py (github MedMNIST/MedMNIST, v3.0.2). Every
manifest's [dataset] section is generated with this script and then checked
against the JSON by tests/e2e/test_manifests.py, so the official facts are
copied, never retyped.
"""
import json
import pathlib
import sys


def toml_string(s):
    return json.dumps(s, ensure_ascii=False)


def dataset_section(flag, info):
    d = info[flag]
    labels = [d["label"][str(i)] for i in range(len(d["label"]))]
    lines = [
        "[dataset]",
        f"flag = {toml_string(flag)}",
        f"python_class = {toml_string(d['python_class'])}",
        f"task = {toml_string(d['task'])}",
        f"license = {toml_string(d['license'])}",
        f"dim = {int(d['dim'][0])}",
        f"n_channels = {d['n_channels']}",
        f"sizes = {json.dumps(d['sizes'])}",
        "labels = [",
        *[f"  {toml_string(name)},  # {i}" for i, name in enumerate(labels)],
        "]",
        "n_samples = { train = %d, val = %d, test = %d }"
        % (d["n_samples"]["train"], d["n_samples"]["val"], d["n_samples"]["test"]),
    ]
    return "\n".join(lines) + "\n"


def main():
    flag = sys.argv[1]
    default = pathlib.Path(__file__).resolve().parents[1] / "tests/data/medmnist-info.json"
    path = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else default
    sys.stdout.write(dataset_section(flag, json.loads(path.read_text())))


if __name__ == "__main__":
    main()
