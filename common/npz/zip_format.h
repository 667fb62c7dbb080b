#pragma once
// ZIP record constants (PKWARE APPNOTE 6.3) and little-endian byte helpers,
// shared by the npz writer and reader. Private to common/npz.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mmb::zip {

inline constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
inline constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
inline constexpr std::uint32_t kEndOfCentralDirSig = 0x06054b50;
inline constexpr std::uint32_t kZip64EndOfCentralDirSig = 0x06064b50;
inline constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
inline constexpr std::uint16_t kZip64ExtraId = 0x0001;

inline constexpr std::size_t kLocalHeaderSize = 30;
inline constexpr std::size_t kCentralHeaderSize = 46;
inline constexpr std::size_t kEndOfCentralDirSize = 22;
inline constexpr std::size_t kZip64EndOfCentralDirSize = 56;
inline constexpr std::size_t kZip64LocatorSize = 20;

inline constexpr std::uint16_t kMethodStored = 0;
inline constexpr std::uint16_t kMethodDeflate = 8;
inline constexpr std::uint16_t kVersionZip64 = 45;  // 4.5: needed for zip64 records
inline constexpr std::uint16_t kMadeByUnix = (3u << 8) | kVersionZip64;
// 1980-01-01 00:00:00, the DOS epoch: a fixed stamp keeps output reproducible.
inline constexpr std::uint16_t kDosTime = 0;
inline constexpr std::uint16_t kDosDate = (0u << 9) | (1u << 5) | 1u;
// Regular file, mode 0644, in the high half (Unix "made by").
inline constexpr std::uint32_t kExternalAttributes = 0100644u << 16;
// Bits of the general purpose flag the reader cares about.
inline constexpr std::uint16_t kFlagEncrypted = 1u << 0;

inline constexpr std::uint32_t kMax32 = 0xFFFFFFFFu;
inline constexpr std::uint16_t kMax16 = 0xFFFFu;

inline void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
inline void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void store64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

inline std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
inline std::uint32_t get32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::uint64_t get64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(get32(p)) | (static_cast<std::uint64_t>(get32(p + 4)) << 32);
}

}  // namespace mmb::zip
