#pragma once
// The provenance sidecar {flag}{size_flag}.json written beside each .npz:
// tool version, manifest and parameters, ordered source ids per split,
// skipped inputs with reasons, and the .npz's sha256.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace mmb {

std::string sha256_file(const std::filesystem::path& file);
std::string md5_file(const std::filesystem::path& file);  // compare: against INFO's published MD5s
std::string sha256_hex(const std::string& text);          // the plan file's own hash

// Written to a temporary name and renamed into place, like the .npz.
void write_json_atomically(const std::filesystem::path& file, const nlohmann::ordered_json& doc);

}  // namespace mmb
