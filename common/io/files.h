#pragma once
// Finding things in a source tree as users unpack it: at any depth, skipping
// macOS and editor junk, in a sorted (deterministic) order.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mmb {

// True for names that are never data: dot-files, "__MACOSX", "Thumbs.db".
bool is_junk_name(const std::string& name);

// Every regular file below root (at any depth) for which keep(path) is true,
// junk names and junk folders excluded, sorted by path.
std::vector<std::filesystem::path> find_files(
    const std::filesystem::path& root,
    const std::function<bool(const std::filesystem::path&)>& keep);

// Files whose lower-cased extension is one of exts (e.g. {".png"}).
std::vector<std::filesystem::path> find_files_with_extension(
    const std::filesystem::path& root, const std::vector<std::string>& exts);

// The first file (in sorted path order) with exactly this name, at any depth.
std::optional<std::filesystem::path> find_file_named(const std::filesystem::path& root,
                                                     const std::string& name);

// Lines of a text file without their CR/LF; a UTF-8 BOM is dropped and a
// missing final newline is fine. Throws InputError if the file can't be read.
std::vector<std::string> read_lines(const std::filesystem::path& file);

// The path relative to root when it is inside root (for messages), else as is.
std::string display_path(const std::filesystem::path& file, const std::filesystem::path& root);

std::string to_lower(std::string s);

}  // namespace mmb
