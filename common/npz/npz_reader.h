#pragma once
// Reads .npz files (STORED or DEFLATE members, ZIP64 or not) back into memory:
// used by `montage` and by the tests.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
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

// One array read front to back without holding it in memory (merge reads
// shard files this way). finish() checks that nothing is left and the CRC.
class NpzArrayStream {
 public:
  NpzArrayStream(const std::filesystem::path& npz, const std::string& key);
  ~NpzArrayStream();
  NpzArrayStream(const NpzArrayStream&) = delete;
  NpzArrayStream& operator=(const NpzArrayStream&) = delete;

  const std::vector<std::size_t>& shape() const;
  const std::string& descr() const;
  // Exactly n bytes; throws naming the file if the array has fewer left.
  void read(std::uint8_t* dst, std::size_t n);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmb
