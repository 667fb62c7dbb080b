#pragma once
// Reads .npz files (STORED or DEFLATE members, ZIP64 or not) back into memory:
// used by `montage` and by the tests.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mmb {

struct NpyArray {
  std::string descr;                 // e.g. "|u1"
  std::vector<std::size_t> shape;
  std::vector<std::uint8_t> data;    // raw C-order bytes
};

// Member names without the ".npy" suffix, in file order.
std::vector<std::string> list_npz_keys(const std::filesystem::path& npz);
// Throws std::runtime_error naming the file if the key is missing or corrupt
// (bad CRC, bad header).
NpyArray read_npz_array(const std::filesystem::path& npz, const std::string& key);

}  // namespace mmb
