#include "common/npz/zip_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "common/core/error.h"
#include "common/core/fd_io.h"
#include "common/npz/zip_format.h"

namespace mmb::zip {
namespace {

constexpr std::size_t kInputChunk = 1 << 20;
constexpr std::size_t kMaxComment = 0xFFFF;

std::string hex32(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << std::setw(8) << std::setfill('0') << v;
  return s.str();
}

// Where the end-of-central-directory record starts, searching back over a
// possible archive comment.
std::uint64_t find_end_record(const Archive& a) {
  if (a.size() < kEndOfCentralDirSize) a.fail("too small to be a ZIP file");
  const std::size_t tail =
      static_cast<std::size_t>(std::min<std::uint64_t>(a.size(), kEndOfCentralDirSize + kMaxComment));
  std::vector<std::uint8_t> buf(tail);
  const std::uint64_t base = a.size() - tail;
  a.read_at(base, buf.data(), tail);
  for (std::size_t i = tail - kEndOfCentralDirSize + 1; i-- > 0;) {
    if (get32(&buf[i]) == kEndOfCentralDirSig && i + kEndOfCentralDirSize + get16(&buf[i + 20]) <= tail)
      return base + i;
  }
  a.fail("no end of central directory record (not a ZIP file, or truncated)");
}

// Replaces the 0xFFFFFFFF placeholders of a central record with the values of
// its ZIP64 extra field, which lists only the fields that overflowed, in order.
void apply_zip64_extra(const Archive& a, Entry& e, const std::uint8_t* extra, std::size_t len,
                       bool offset_overflows) {
  for (std::size_t i = 0; i + 4 <= len;) {
    const std::uint16_t id = get16(extra + i), size = get16(extra + i + 2);
    if (i + 4 + size > len) a.fail(e.name + ": corrupt extra field");
    if (id == kZip64ExtraId) {
      const std::uint8_t* p = extra + i + 4;
      const std::uint8_t* end = p + size;
      auto next = [&]() {
        if (p + 8 > end) a.fail(e.name + ": ZIP64 extra field too short");
        const std::uint64_t v = get64(p);
        p += 8;
        return v;
      };
      if (e.uncompressed_size == kMax32) e.uncompressed_size = next();
      if (e.compressed_size == kMax32) e.compressed_size = next();
      if (offset_overflows) e.local_offset = next();
      return;
    }
    i += 4 + size;
  }
  if (e.uncompressed_size == kMax32 || e.compressed_size == kMax32 || offset_overflows)
    a.fail(e.name + ": 0xFFFFFFFF size or offset without a ZIP64 extra field");
}

}  // namespace

Archive::Archive(std::filesystem::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError(path_, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    throw InputError(path_, std::string("cannot stat: ") + std::strerror(errno));
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  try {
    read_central_directory();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

Archive::~Archive() {
  if (fd_ >= 0) ::close(fd_);
}

void Archive::fail(const std::string& reason) const { throw InputError(path_, reason); }

void Archive::read_at(std::uint64_t offset, void* dst, std::size_t n) const {
  if (pread_fully(fd_, dst, n, offset)) return;
  if (errno == 0) fail("truncated (read past the end of the file)");
  fail(std::string("read error: ") + std::strerror(errno));
}

void Archive::read_central_directory() {
  const std::uint64_t eocd = find_end_record(*this);
  std::uint8_t rec[kEndOfCentralDirSize];
  read_at(eocd, rec, sizeof rec);
  std::uint64_t count = get16(rec + 10);
  std::uint64_t cd_size = get32(rec + 12);
  std::uint64_t cd_offset = get32(rec + 16);
  if (get16(rec + 4) != 0 || get16(rec + 6) != 0) fail("multi-disk ZIP files are not supported");

  if (eocd >= kZip64LocatorSize) {
    std::uint8_t loc[kZip64LocatorSize];
    read_at(eocd - kZip64LocatorSize, loc, sizeof loc);
    if (get32(loc) == kZip64LocatorSig) {
      std::uint8_t rec64[kZip64EndOfCentralDirSize];
      read_at(get64(loc + 8), rec64, sizeof rec64);
      if (get32(rec64) != kZip64EndOfCentralDirSig) fail("bad ZIP64 end of central directory record");
      count = get64(rec64 + 32);
      cd_size = get64(rec64 + 40);
      cd_offset = get64(rec64 + 48);
    }
  }
  if (cd_offset > eocd || cd_size > eocd - cd_offset) fail("central directory lies outside the file");

  std::vector<std::uint8_t> cd(static_cast<std::size_t>(cd_size));
  read_at(cd_offset, cd.data(), cd.size());
  std::size_t pos = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (pos + kCentralHeaderSize > cd.size() || get32(&cd[pos]) != kCentralHeaderSig)
      fail("corrupt central directory (entry " + std::to_string(i) + ")");
    const std::uint8_t* h = &cd[pos];
    const std::size_t name_len = get16(h + 28), extra_len = get16(h + 30), comment_len = get16(h + 32);
    if (pos + kCentralHeaderSize + name_len + extra_len + comment_len > cd.size())
      fail("corrupt central directory (entry " + std::to_string(i) + ")");
    Entry e;
    e.flags = get16(h + 8);
    e.method = get16(h + 10);
    e.crc = get32(h + 16);
    e.compressed_size = get32(h + 20);
    e.uncompressed_size = get32(h + 24);
    e.local_offset = get32(h + 42);
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    apply_zip64_extra(*this, e, h + kCentralHeaderSize + name_len, extra_len, e.local_offset == kMax32);
    entries_.push_back(std::move(e));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

MemberReader::MemberReader(const Archive& archive, const Entry& entry) : archive_(archive), entry_(entry) {
  if (entry_.flags & kFlagEncrypted) fail("encrypted members are not supported");
  if (entry_.method != kMethodStored && entry_.method != kMethodDeflate)
    fail("unsupported compression method " + std::to_string(entry_.method));
  std::uint8_t h[kLocalHeaderSize];
  archive_.read_at(entry_.local_offset, h, sizeof h);
  if (get32(h) != kLocalHeaderSig) fail("bad local header signature");
  data_offset_ = entry_.local_offset + kLocalHeaderSize + get16(h + 26) + get16(h + 28);
  if (data_offset_ > archive_.size() || entry_.compressed_size > archive_.size() - data_offset_)
    fail("member data runs past the end of the file");
  if (entry_.method == kMethodStored && entry_.compressed_size != entry_.uncompressed_size)
    fail("stored member with different compressed and uncompressed sizes");
  if (entry_.method == kMethodDeflate) {
    check_deflate_ratio();
    if (inflateInit2(&zs_, -15) != Z_OK) fail("cannot initialise zlib");
    inflating_ = true;
    in_buf_.resize(kInputChunk);
  }
}

// DEFLATE cannot expand data more than about 1032:1 (a 258-byte match costs at least
// two bits; zlib's FAQ, "What's the maximum compression ratio?"), so a member header
// claiming more is corrupt or hostile: refused before anything is allocated for it.
void MemberReader::check_deflate_ratio() const {
  constexpr std::uint64_t kMaxDeflateRatio = 1032, kSlack = 1024;
  if (entry_.uncompressed_size / kMaxDeflateRatio > entry_.compressed_size + kSlack)
    fail("claims " + std::to_string(entry_.uncompressed_size) + " bytes from " +
         std::to_string(entry_.compressed_size) + " compressed, more than DEFLATE can expand (1032:1)");
}

MemberReader::~MemberReader() {
  if (inflating_) inflateEnd(&zs_);
}

void MemberReader::fail(const std::string& reason) const { archive_.fail(entry_.name + ": " + reason); }

void MemberReader::read(std::uint8_t* dst, std::size_t n) {
  if (n == 0) return;  // zlib's crc32 of a null buffer would restart the CRC at 0
  if (n > remaining()) fail("member is shorter than its contents claim");
  if (entry_.method == kMethodStored)
    archive_.read_at(data_offset_ + produced_, dst, n);
  else
    inflate_into(dst, n);
  crc_ = static_cast<std::uint32_t>(crc32_z(crc_, dst, n));
  produced_ += n;
}

// One inflate() call into dst, refilling the input first; returns the bytes
// produced. Sets stream_ended_ at the end of the deflate stream.
std::size_t MemberReader::inflate_step(std::uint8_t* dst, std::size_t n) {
  if (zs_.avail_in == 0 && compressed_read_ < entry_.compressed_size) {
    const std::size_t take = static_cast<std::size_t>(
        std::min<std::uint64_t>(in_buf_.size(), entry_.compressed_size - compressed_read_));
    archive_.read_at(data_offset_ + compressed_read_, in_buf_.data(), take);
    compressed_read_ += take;
    zs_.next_in = in_buf_.data();
    zs_.avail_in = static_cast<uInt>(take);
  }
  const std::size_t want = std::min<std::size_t>(n, std::size_t{1} << 30);
  zs_.next_out = dst;
  zs_.avail_out = static_cast<uInt>(want);
  const int r = inflate(&zs_, Z_NO_FLUSH);
  if (r == Z_STREAM_END)
    stream_ended_ = true;
  else if (r == Z_BUF_ERROR && zs_.avail_in == 0 && compressed_read_ == entry_.compressed_size)
    fail("deflate data is truncated");
  else if (r != Z_OK && r != Z_BUF_ERROR)
    fail(std::string("corrupt deflate data") + (zs_.msg ? std::string(": ") + zs_.msg : ""));
  return want - zs_.avail_out;
}

void MemberReader::inflate_into(std::uint8_t* dst, std::size_t n) {
  while (n > 0) {
    if (stream_ended_) fail("deflate stream ends before the member size");
    const std::size_t got = inflate_step(dst, n);
    dst += got;
    n -= got;
  }
}

void MemberReader::skip(std::uint64_t n) {
  std::vector<std::uint8_t> scratch(static_cast<std::size_t>(std::min<std::uint64_t>(n, kInputChunk)));
  while (n > 0) {
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, scratch.size()));
    read(scratch.data(), take);
    n -= take;
  }
}

void MemberReader::finish() {
  skip(remaining());
  // Only end-of-block codes may follow the last byte; more output is an error.
  std::uint8_t extra = 0;
  while (inflating_ && !stream_ended_)
    if (inflate_step(&extra, 1) != 0) fail("deflate data is longer than the member size");
  if (crc_ != entry_.crc)
    fail("CRC-32 mismatch (central directory " + hex32(entry_.crc) + ", data " + hex32(crc_) + ")");
}

const Entry& find_array(const Archive& archive, const std::string& key) {
  for (const auto& name : {key + ".npy", key})
    for (const Entry& e : archive.entries())
      if (e.name == name) return e;
  std::string keys;
  for (const Entry& e : archive.entries()) keys += (keys.empty() ? "" : ", ") + e.name;
  archive.fail("no array '" + key + "' (members: " + (keys.empty() ? "none" : keys) + ")");
}

npy::Header read_npy_header(MemberReader& reader) {
  std::uint8_t pre[npy::kPreambleV2];
  reader.read(pre, npy::kPreambleV1);
  if (std::memcmp(pre, "\x93NUMPY", 6) != 0) reader.fail("not a .npy array (bad magic)");
  std::size_t len = 0;
  if (pre[6] == 1) {
    len = get16(pre + 8);
  } else if (pre[6] == 2 || pre[6] == 3) {
    reader.read(pre + npy::kPreambleV1, 2);
    len = get32(pre + 8);
  } else {
    reader.fail("unsupported .npy version " + std::to_string(pre[6]) + "." + std::to_string(pre[7]));
  }
  if (len > reader.remaining()) reader.fail(".npy header runs past the member end");
  std::string text(len, '\0');
  reader.read(reinterpret_cast<std::uint8_t*>(text.data()), len);
  npy::Header h;
  std::size_t count = 0;
  try {
    h = npy::parse_header_text(text);
    count = h.element_count();
  } catch (const std::runtime_error& e) {
    reader.fail(e.what());
  }
  if (count > reader.remaining() / h.item_bytes || count * h.item_bytes != reader.remaining())
    reader.fail("array data size does not match its shape (" + std::to_string(reader.remaining()) +
                " bytes after the header)");
  return h;
}

}  // namespace mmb::zip
