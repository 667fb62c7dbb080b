#pragma once
// `medmnist-build compare OURS.npz OTHER.npz`: how close a build is to another
// file of the same dataset and size (typically the official Zenodo file).
//
// Reported (docs/fidelity.md): per-split counts of both files and of INFO; a
// class x split table of both with the differences; each file's MD5 against
// INFO's published MD5 for that flag and size; per-sample agreement when
// samples can be paired; an orientation check; optionally (kernels) which
// resize kernel, rebuilt from the source, agrees best with OTHER.
//
// Pairing, in order of preference:
//  1. by id: OURS's sidecar (OURS.json, written by build) gives our ids; OTHER's
//     come from --index-map (MedMNIST's split,index,image_id CSV) or its own
//     sidecar;
//  2. by position, when both files have the same per-split counts and at least
//     95% of the labels agree position by position (MedMNIST+ keeps "the same
//     sample indices" across sizes, on_medmnist_plus.md);
//  3. by nearest neighbour within each split and class, on 28-pixel gray
//     thumbnails; a pair counts when each is the other's nearest (unambiguous).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmb {

class Converter;

struct CompareOptions {
  std::filesystem::path ours, other;
  std::optional<std::filesystem::path> index_map;  // ids of OTHER's samples
  std::string flag;                                 // empty: from OURS's file name
  // --kernels: rebuild up to kernel_samples paired samples from `source` with every kernel.
  bool kernels = false;
  std::optional<std::filesystem::path> source;
  std::optional<std::filesystem::path> manifest_dir;  // default: default_manifest_dir()
  std::vector<std::string> overrides;                 // --set key=value for the rebuild
  // Finds the converter of a flag for --kernels (the CLI passes find_converter from
  // converters/registry; the pipeline library does not depend on the registry).
  std::function<const Converter*(const std::string& flag)> converter_for;
  int kernel_samples = 16;
  std::size_t max_match = 1000;  // nearest-neighbour matching: samples per split and class
  std::size_t listed = 10;       // worst samples / label disagreements listed
};

// The whole report as JSON (what --json prints). report["identical"] is true
// when both files hold byte-identical arrays.
nlohmann::ordered_json compare_npz(const CompareOptions& options);

// The same report for people.
std::string format_compare_report(const nlohmann::ordered_json& report);

// MD5 of medmnist's INFO (medmnist/info.py v3.0.2, Zenodo record 10519652) for
// a flag and size; empty when INFO has no such file.
std::string official_md5(const std::string& flag, int size);


}  // namespace mmb
