#pragma once
// Read side of the ZIP container: the central directory (ZIP64 aware) and a
// sequential, CRC-checked reader of one STORED or DEFLATE member. Private to
// common/npz; every error is an InputError naming the file (and member).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/npz/npy_format.h"

namespace mmb::zip {

struct Entry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_offset = 0;
};

class Archive {
 public:
  explicit Archive(std::filesystem::path path);
  ~Archive();
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  const std::vector<Entry>& entries() const { return entries_; }
  // Reads exactly n bytes at offset; a short read means the file is truncated.
  void read_at(std::uint64_t offset, void* dst, std::size_t n) const;
  [[noreturn]] void fail(const std::string& reason) const;

 private:
  void read_central_directory();

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::vector<Entry> entries_;
};

// The uncompressed bytes of one member, in order. finish() reads whatever is
// left and checks the size and CRC-32 against the central directory.
class MemberReader {
 public:
  MemberReader(const Archive& archive, const Entry& entry);
  ~MemberReader();
  MemberReader(const MemberReader&) = delete;
  MemberReader& operator=(const MemberReader&) = delete;

  void read(std::uint8_t* dst, std::size_t n);
  void skip(std::uint64_t n);
  void finish();
  std::uint64_t remaining() const { return entry_.uncompressed_size - produced_; }
  [[noreturn]] void fail(const std::string& reason) const;

 private:
  void check_deflate_ratio() const;
  std::size_t inflate_step(std::uint8_t* dst, std::size_t n);
  void inflate_into(std::uint8_t* dst, std::size_t n);

  const Archive& archive_;
  const Entry& entry_;
  std::uint64_t data_offset_ = 0;
  std::uint64_t produced_ = 0;
  std::uint32_t crc_ = 0;
  z_stream zs_{};
  bool inflating_ = false;
  bool stream_ended_ = false;
  std::uint64_t compressed_read_ = 0;
  std::vector<std::uint8_t> in_buf_;
};

// The member holding array `key`: "<key>.npy", or "<key>" as numpy also accepts.
const Entry& find_array(const Archive& archive, const std::string& key);
// Reads the .npy preamble and header at the start of the member and checks that
// the data that follows has exactly the size the header announces.
npy::Header read_npy_header(MemberReader& reader);

}  // namespace mmb::zip
