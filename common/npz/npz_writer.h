#pragma once
// A streaming .npz writer: members are .npy arrays written one after another
// into a ZIP file, so no split ever has to be held in memory.
//
// Layout choices (see docs/architecture.md):
//  * the file is written to "<final>.partial-<pid>" beside the final path and
//    renamed into place by commit(); abort() or the destructor removes it;
//  * DEFLATE (default) or STORED members; DEFLATE chunks are compressed as
//    TBB tasks and written in order, so the bytes do not depend on threads; ZIP64 records whenever a size or an
//    offset passes 0xFFFFFFFF (or always, with force_zip64);
//  * fixed DOS timestamp and member order = call order, so equal inputs give
//    equal bytes;
//  * the number of items N is only known at end_array(): the .npy header is
//    written with room for any N and patched in place at the end.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mmb {

struct NpzOptions {
  bool compress = true;       // DEFLATE; false = STORED
  int level = 1;              // zlib DEFLATE level 1..9 (others throw std::invalid_argument)
  bool force_zip64 = false;   // write ZIP64 records even for small files (tests)
};

class NpzWriter {
 public:
  NpzWriter(std::filesystem::path final_path, NpzOptions options = {});
  ~NpzWriter();  // aborts if not committed
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  // Starts member "<name>.npy" holding uint8 items of shape item_shape
  // (the array's shape is (N, item_shape...)).
  void begin_array(const std::string& name, const std::vector<std::size_t>& item_shape);
  // Appends whole items (n_bytes must be a multiple of the item size).
  void append(const std::uint8_t* data, std::size_t n_bytes);
  // Closes the current member; returns N.
  std::size_t end_array();
  // A whole array in one call.
  void add_array(const std::string& name, const std::vector<std::size_t>& item_shape,
                 const std::uint8_t* data, std::size_t n_items);

  // Writes the central directory, flushes, and renames the file into place.
  void commit();
  // Like commit() but leaves the complete, fsynced file at temp_path(), for a
  // caller that renames several files together (common/pipeline/output_commit.h).
  // abort() still removes the temp file if it was not renamed.
  void finish();
  // Removes the temporary file. Safe to call more than once.
  void abort();

  const std::filesystem::path& final_path() const;
  const std::filesystem::path& temp_path() const;

  // SHA-256 of each finished array's data (its items' bytes in C order, without the npy
  // header), "name" -> hex: what hashlib.sha256(np.load(f)[name].tobytes()) gives. Unlike the
  // file's hash it does not depend on the compressor, its version or STORED vs DEFLATE.
  std::vector<std::pair<std::string, std::string>> array_sha256() const;
  // How members are compressed, e.g. "zlib 1.2.13 DEFLATE level 1, 1 MiB chunks (deflateReset,
  // Z_FULL_FLUSH)" or "stored": a file's own hash is comparable only between equal descriptions.
  std::string compression() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmb
