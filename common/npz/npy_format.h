#pragma once
// The .npy header (numpy lib/format): writing a fixed-size uint8 header that can
// be patched once N is known, and parsing any v1/v2/v3 header back. Private to
// common/npz.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mmb::npy {

inline constexpr std::size_t kPreambleV1 = 10;  // magic(6) + version(2) + uint16 length
inline constexpr std::size_t kPreambleV2 = 12;  // magic(6) + version(2) + uint32 length
inline constexpr std::size_t kAlign = 64;

// Bytes reserved for the header of a uint8 array (N, item_shape...): enough for
// any 64-bit N, so it depends on item_shape only and can be patched in place.
std::size_t reserved_header_size(const std::vector<std::size_t>& item_shape);

// The complete v1.0 header (magic .. '\n') for a uint8 array (n, item_shape...),
// space-padded to exactly `size` bytes (a multiple of 64 from reserved_header_size).
std::vector<std::uint8_t> make_header(std::uint64_t n, const std::vector<std::size_t>& item_shape,
                                      std::size_t size);

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t item_bytes = 0;  // bytes per element, from descr
  std::size_t element_count() const;
};

// Parses the dict literal that follows the preamble. Throws std::runtime_error
// with the reason (callers add the file name).
Header parse_header_text(const std::string& text);

}  // namespace mmb::npy
