#include "common/npz/npz_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <exception>
#include <thread>
#include <cstring>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <system_error>

#include "common/core/fd_io.h"
#include "common/npz/npy_format.h"
#include "common/npz/zip_format.h"

namespace mmb {
namespace fs = std::filesystem;
using namespace zip;

namespace {

// Deflate input per independent chunk. Chunk boundaries depend only on the
// byte offset in the member, so the output never depends on append() sizes.
constexpr std::size_t kChunk = std::size_t{1} << 20;
constexpr std::size_t kWriteBuffer = std::size_t{4} << 20;
constexpr std::size_t kZip64ExtraSize = 4 + 16;  // local header: both sizes, always
// Deflate's empty fixed-Huffman block with BFINAL=1 (3 bits 1,01 + 7-bit EOB).
constexpr std::uint8_t kEmptyFinalBlock[] = {0x03, 0x00};

[[noreturn]] void throw_errno(const fs::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what + ": " + std::strerror(errno));
}

// A temp file written sequentially through a buffer, with in-place patches of
// bytes already written (headers whose values are known only later).
class OutputFile {
 public:
  explicit OutputFile(fs::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) throw_errno(path_, "cannot create");
    buf_.reserve(kWriteBuffer);
  }
  ~OutputFile() { close_quietly(); }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::uint64_t position() const { return pos_; }

  void write(const std::uint8_t* p, std::size_t n) {
    if (buf_.size() + n > kWriteBuffer) flush();
    if (n >= kWriteBuffer)
      write_all(p, n);  // large blocks skip the copy
    else
      buf_.insert(buf_.end(), p, p + n);
    pos_ += n;
  }
  void write(const std::vector<std::uint8_t>& v) { write(v.data(), v.size()); }

  void patch(std::uint64_t offset, const std::uint8_t* p, std::size_t n) {
    flush();
    if (!pwrite_fully(fd_, p, n, offset)) throw_errno(path_, "cannot write");
  }

  void sync_and_close() {
    flush();
    if (::fsync(fd_) != 0) throw_errno(path_, "cannot fsync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_errno(path_, "cannot close");
  }

  void close_quietly() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  void flush() {
    write_all(buf_.data(), buf_.size());
    buf_.clear();
  }
  void write_all(const std::uint8_t* p, std::size_t n) {
    if (!write_fully(fd_, p, n)) throw_errno(path_, "cannot write");
  }

  fs::path path_;
  int fd_ = -1;
  std::uint64_t pos_ = 0;
  std::vector<std::uint8_t> buf_;
};

// zlib raw DEFLATE of independent chunks: deflateReset() drops all history,
// and each chunk ends byte-aligned (Z_FULL_FLUSH) or final (Z_FINISH), so the
// chunks simply concatenate into one stream. zlib rather than ISA-L because
// its output is a pure function of the input: ISA-L 2.30 levels 1-2 gave
// different bytes for equal input on AVX-512 machines (docs/architecture.md).
class ChunkCompressor {
 public:
  explicit ChunkCompressor(int level) : level_(level) {
    if (level < 1 || level > 9)
      throw std::invalid_argument("npz compression level must be 1..9 (zlib), got " + std::to_string(level));
    if (deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("zlib deflateInit2 failed");
  }
  ~ChunkCompressor() { deflateEnd(&z_); }
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  int level() const { return level_; }

  // Replaces out with the compressed bytes; `last` sets BFINAL on the final block.
  void compress(const std::uint8_t* in, std::size_t n, bool last, std::vector<std::uint8_t>& out) {
    deflateReset(&z_);
    out.resize(deflateBound(&z_, n) + 16);  // room for a stored fallback plus the flush marker
    z_.next_in = const_cast<std::uint8_t*>(in);
    z_.avail_in = static_cast<uInt>(n);
    z_.next_out = out.data();
    z_.avail_out = static_cast<uInt>(out.size());
    const int r = deflate(&z_, last ? Z_FINISH : Z_FULL_FLUSH);
    if (r != (last ? Z_STREAM_END : Z_OK) || z_.avail_in != 0)
      throw std::runtime_error("zlib deflate failed with code " + std::to_string(r));
    out.resize(out.size() - z_.avail_out);
  }

 private:
  int level_;
  z_stream z_{};
};

// One compressor per thread and level, so a chunk task never waits for a
// stream and never allocates zlib's tables again.
ChunkCompressor& thread_compressor(int level) {
  thread_local std::unique_ptr<ChunkCompressor> c;
  if (!c || c->level() != level) c = std::make_unique<ChunkCompressor>(level);
  return *c;
}

// A chunk of one member on its way through the compressing tasks. Whoever
// claims it first (a task, or the writer needing it next) compresses it; the
// writer then writes the chunks strictly in order, so the bytes are those of
// the serial loop whatever the number of threads.
struct Chunk {
  std::vector<std::uint8_t> in, out;
  bool last = false;
  int level = 1;
  std::atomic<bool> claimed{false}, done{false};
  std::exception_ptr error;

  void compress_if_unclaimed() {
    if (claimed.exchange(true)) return;
    try {
      thread_compressor(level).compress(in.data(), in.size(), last, out);
    } catch (...) {
      error = std::current_exception();
    }
    std::vector<std::uint8_t>().swap(in);
    done.store(true, std::memory_order_release);
  }
};

// Compresses chunks as TBB tasks, at most `max_in_flight` at a time, and
// hands them back in submission order. With one thread in the arena it
// compresses inline, as the serial writer did.
class ParallelDeflate {
 public:
  explicit ParallelDeflate(int level) : level_(level) {
    thread_compressor(level);  // validates the level before any data
  }
  ~ParallelDeflate() { drain(); }
  ParallelDeflate(const ParallelDeflate&) = delete;
  ParallelDeflate& operator=(const ParallelDeflate&) = delete;

  // Takes the chunk's bytes (swapped out of `in`); write(out) receives the
  // compressed chunks that are ready, in order.
  template <class Write>
  void submit(std::vector<std::uint8_t>& in, bool last, Write&& write) {
    auto chunk = std::make_shared<Chunk>();
    chunk->in.swap(in);
    chunk->last = last;
    chunk->level = level_;
    const std::size_t max_in_flight = 2 * threads();
    if (max_in_flight <= 2) {  // one thread: no task would ever run beside the writer
      chunk->compress_if_unclaimed();
      write_one(*chunk, write);
      return;
    }
    queue_.push_back(chunk);
    tasks_.run([chunk] { chunk->compress_if_unclaimed(); });
    while (queue_.size() > max_in_flight || (!queue_.empty() && queue_.front()->done.load(std::memory_order_acquire)))
      pop_front(write);
  }

  // Writes every chunk still in flight, in order.
  template <class Write>
  void flush(Write&& write) {
    while (!queue_.empty()) pop_front(write);
  }

  // Waits for the tasks and forgets their chunks (abort, destructor).
  void drain() noexcept {
    for (auto& c : queue_) c->claimed.exchange(true);
    try {
      tasks_.wait();
    } catch (...) {
    }
    queue_.clear();
  }

 private:
  template <class Write>
  void pop_front(Write& write) {
    auto chunk = std::move(queue_.front());
    queue_.pop_front();
    chunk->compress_if_unclaimed();  // not started yet: the writer does it now
    // Started by a task: help with the chunks behind it rather than spin.
    for (std::size_t next = 0; !chunk->done.load(std::memory_order_acquire);) {
      if (next < queue_.size())
        queue_[next++]->compress_if_unclaimed();
      else
        std::this_thread::yield();
    }
    write_one(*chunk, write);
  }
  template <class Write>
  static void write_one(Chunk& chunk, Write& write) {
    if (chunk.error) std::rethrow_exception(chunk.error);
    write(chunk.out);
  }

  // The build's --threads (a global_control limit) or the arena's size, whichever is smaller.
  static std::size_t threads() {
    const auto limit = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    return std::min<std::size_t>(limit, static_cast<std::size_t>(tbb::this_task_arena::max_concurrency()));
  }

  int level_;
  std::deque<std::shared_ptr<Chunk>> queue_;
  tbb::task_group tasks_;
};

struct Member {
  std::string name;  // "<key>.npy"
  std::string data_sha256;  // hex, of the data bytes only (array_sha256)
  std::uint16_t method = kMethodDeflate;
  std::uint32_t crc = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_offset = 0;
};

// The member being written: what end_array() needs to patch the headers.
using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

struct OpenMember {
  Member m;
  DigestContext data_digest{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  std::vector<std::size_t> item_shape;
  std::size_t item_size = 0;
  std::uint64_t npy_header_offset = 0;
  std::size_t npy_header_size = 0;
  std::uint64_t data_offset = 0;  // first byte after the local header
  std::uint64_t data_bytes = 0;
  std::uint32_t data_crc = 0;
  std::vector<std::uint8_t> pending;  // deflate input not yet a full chunk
};

std::vector<std::uint8_t> local_header(const Member& m) {
  std::vector<std::uint8_t> h;
  put32(h, kLocalHeaderSig);
  put16(h, kVersionZip64);
  put16(h, 0);  // flags: sizes live in the header (patched), no data descriptor
  put16(h, m.method);
  put16(h, kDosTime);
  put16(h, kDosDate);
  put32(h, 0);       // CRC-32, patched
  put32(h, kMax32);  // sizes: in the ZIP64 extra field
  put32(h, kMax32);
  put16(h, static_cast<std::uint16_t>(m.name.size()));
  put16(h, static_cast<std::uint16_t>(kZip64ExtraSize));
  h.insert(h.end(), m.name.begin(), m.name.end());
  put16(h, kZip64ExtraId);
  put16(h, 16);
  put64(h, 0);  // uncompressed size, patched
  put64(h, 0);  // compressed size, patched
  return h;
}

void put_central_record(std::vector<std::uint8_t>& out, const Member& m, bool force_zip64) {
  const bool big_u = force_zip64 || m.uncompressed_size >= kMax32;
  const bool big_c = force_zip64 || m.compressed_size >= kMax32;
  const bool big_o = force_zip64 || m.local_offset >= kMax32;
  std::vector<std::uint8_t> extra;
  if (big_u || big_c || big_o) {
    put16(extra, kZip64ExtraId);
    put16(extra, static_cast<std::uint16_t>(8 * (big_u + big_c + big_o)));
    if (big_u) put64(extra, m.uncompressed_size);
    if (big_c) put64(extra, m.compressed_size);
    if (big_o) put64(extra, m.local_offset);
  }
  put32(out, kCentralHeaderSig);
  put16(out, kMadeByUnix);
  put16(out, kVersionZip64);  // the local header always carries a ZIP64 extra
  put16(out, 0);
  put16(out, m.method);
  put16(out, kDosTime);
  put16(out, kDosDate);
  put32(out, m.crc);
  put32(out, big_c ? kMax32 : static_cast<std::uint32_t>(m.compressed_size));
  put32(out, big_u ? kMax32 : static_cast<std::uint32_t>(m.uncompressed_size));
  put16(out, static_cast<std::uint16_t>(m.name.size()));
  put16(out, static_cast<std::uint16_t>(extra.size()));
  put16(out, 0);  // comment
  put16(out, 0);  // disk
  put16(out, 0);  // internal attributes
  put32(out, kExternalAttributes);
  put32(out, big_o ? kMax32 : static_cast<std::uint32_t>(m.local_offset));
  out.insert(out.end(), m.name.begin(), m.name.end());
  out.insert(out.end(), extra.begin(), extra.end());
}

std::vector<std::uint8_t> end_records(std::uint64_t count, std::uint64_t cd_offset, std::uint64_t cd_size,
                                      bool force_zip64) {
  std::vector<std::uint8_t> out;
  if (force_zip64 || count >= kMax16 || cd_offset >= kMax32 || cd_size >= kMax32) {
    const std::uint64_t record_offset = cd_offset + cd_size;
    put32(out, kZip64EndOfCentralDirSig);
    put64(out, kZip64EndOfCentralDirSize - 12);  // size of the rest of the record
    put16(out, kMadeByUnix);
    put16(out, kVersionZip64);
    put32(out, 0);  // this disk
    put32(out, 0);  // disk with the central directory
    put64(out, count);
    put64(out, count);
    put64(out, cd_size);
    put64(out, cd_offset);
    put32(out, kZip64LocatorSig);
    put32(out, 0);
    put64(out, record_offset);
    put32(out, 1);  // total disks
  }
  put32(out, kEndOfCentralDirSig);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, kMax16)));
  put16(out, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, kMax16)));
  put32(out, static_cast<std::uint32_t>(std::min<std::uint64_t>(cd_size, kMax32)));
  put32(out, static_cast<std::uint32_t>(std::min<std::uint64_t>(cd_offset, kMax32)));
  put16(out, 0);  // comment
  return out;
}

// Makes the rename durable; some filesystems cannot fsync a directory, which
// does not make the written file any less complete, so failures are ignored.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

struct NpzWriter::Impl {
  fs::path final_path;
  fs::path temp_path;
  NpzOptions options;
  std::unique_ptr<OutputFile> file;
  std::unique_ptr<ParallelDeflate> compressor;
  std::vector<Member> members;
  std::unique_ptr<OpenMember> open;
  bool committed = false;
  bool closed = false;  // committed or aborted

  Impl(fs::path final, NpzOptions o)
      : final_path(std::move(final)),
        temp_path(final_path.string() + ".partial-" + std::to_string(::getpid())),
        options(o) {
    if (options.compress) compressor = std::make_unique<ParallelDeflate>(options.level);
    file = std::make_unique<OutputFile>(temp_path);
  }

  void require_writable(const char* call) const {
    if (closed)
      throw std::logic_error(std::string("NpzWriter::") + call +
                             " after commit/abort: " + final_path.string());
  }

  void begin(const std::string& name, const std::vector<std::size_t>& item_shape);
  void append(const std::uint8_t* data, std::size_t n);
  void feed_compressor(const std::uint8_t* data, std::size_t n);
  void write_compressed(std::vector<std::uint8_t>& chunk, bool last);
  std::size_t end(std::size_t n_items_if_empty_items);
  void commit();
  void finish();
  void abort() noexcept;
};

void NpzWriter::Impl::begin(const std::string& name, const std::vector<std::size_t>& item_shape) {
  require_writable("begin_array");
  if (open)
    throw std::logic_error("NpzWriter::begin_array while '" + open->m.name +
                           "' is open: " + final_path.string());
  if (name.empty() || name.size() > 0xFF00) throw std::invalid_argument("bad npz array name '" + name + "'");
  const std::string member_name = name + ".npy";
  for (const Member& m : members)
    if (m.name == member_name)
      throw std::invalid_argument("duplicate npz array '" + name + "' in " + final_path.string());

  auto o = std::make_unique<OpenMember>();
  o->m.name = member_name;
  o->m.method = options.compress ? kMethodDeflate : kMethodStored;
  o->m.local_offset = file->position();
  o->item_shape = item_shape;
  o->item_size = std::accumulate(item_shape.begin(), item_shape.end(), std::size_t{1}, std::multiplies<>());
  o->npy_header_size = npy::reserved_header_size(item_shape);

  file->write(local_header(o->m));
  o->data_offset = file->position();
  if (options.compress) {
    // The npy header goes into a non-final STORED deflate block, so its bytes
    // sit verbatim in the file and can be patched once N is known.
    const auto len = static_cast<std::uint16_t>(o->npy_header_size);
    std::vector<std::uint8_t> block{0x00};
    put16(block, len);
    put16(block, static_cast<std::uint16_t>(~len));
    file->write(block);
  }
  o->npy_header_offset = file->position();
  file->write(npy::make_header(0, item_shape, o->npy_header_size));
  if (options.compress) o->pending.reserve(kChunk);
  if (!o->data_digest || EVP_DigestInit_ex(o->data_digest.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot start a SHA-256 digest");
  open = std::move(o);
}

void NpzWriter::Impl::append(const std::uint8_t* data, std::size_t n) {
  require_writable("append");
  if (!open) throw std::logic_error("NpzWriter::append without begin_array: " + final_path.string());
  if (n == 0) return;
  if (open->item_size == 0 || n % open->item_size != 0)
    throw std::invalid_argument("NpzWriter::append: " + std::to_string(n) +
                                " bytes is not a whole number of '" + open->m.name + "' items of " +
                                std::to_string(open->item_size) + " bytes");
  open->data_crc = static_cast<std::uint32_t>(crc32_z(open->data_crc, data, n));
  EVP_DigestUpdate(open->data_digest.get(), data, n);
  open->data_bytes += n;
  if (options.compress)
    feed_compressor(data, n);
  else
    file->write(data, n);
}

void NpzWriter::Impl::feed_compressor(const std::uint8_t* data, std::size_t n) {
  auto& pending = open->pending;
  while (n > 0) {
    const std::size_t take = std::min(n, kChunk - pending.size());
    pending.insert(pending.end(), data, data + take);
    data += take;
    n -= take;
    if (pending.size() == kChunk) {
      write_compressed(pending, false);
      pending.reserve(kChunk);
    }
  }
}

void NpzWriter::Impl::write_compressed(std::vector<std::uint8_t>& chunk, bool last) {
  compressor->submit(chunk, last, [this](const std::vector<std::uint8_t>& out) { file->write(out); });
  chunk.clear();
}

std::size_t NpzWriter::Impl::end(std::size_t n_items_if_empty_items) {
  require_writable("end_array");
  if (!open) throw std::logic_error("NpzWriter::end_array without begin_array: " + final_path.string());
  OpenMember& o = *open;
  if (options.compress) {
    // Every full chunk was written non-final; the remainder (maybe empty) ends the stream.
    if (!o.pending.empty()) write_compressed(o.pending, true);
    compressor->flush([this](const std::vector<std::uint8_t>& out) { file->write(out); });
    if (o.data_bytes % kChunk == 0) file->write(kEmptyFinalBlock, sizeof kEmptyFinalBlock);
  }
  const std::size_t n_items = o.item_size ? o.data_bytes / o.item_size : n_items_if_empty_items;
  const auto header = npy::make_header(n_items, o.item_shape, o.npy_header_size);
  file->patch(o.npy_header_offset, header.data(), header.size());

  Member& m = o.m;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_DigestFinal_ex(o.data_digest.get(), digest, &digest_size);
  static const char* hex = "0123456789abcdef";
  for (unsigned i = 0; i < digest_size; ++i) m.data_sha256 += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  const auto header_crc = crc32_z(0, header.data(), header.size());
  m.crc = static_cast<std::uint32_t>(
      crc32_combine64(header_crc, o.data_crc, static_cast<z_off64_t>(o.data_bytes)));
  m.uncompressed_size = header.size() + o.data_bytes;
  m.compressed_size = file->position() - o.data_offset;

  std::uint8_t crc[4], sizes[16];
  store32(crc, m.crc);
  store64(sizes, m.uncompressed_size);
  store64(sizes + 8, m.compressed_size);
  file->patch(m.local_offset + 14, crc, sizeof crc);
  file->patch(m.local_offset + kLocalHeaderSize + m.name.size() + 4, sizes, sizeof sizes);
  members.push_back(m);
  open.reset();
  return n_items;
}

void NpzWriter::Impl::commit() {
  finish();
  std::error_code ec;
  fs::rename(temp_path, final_path, ec);
  if (ec)
    throw std::runtime_error(final_path.string() + ": cannot rename " + temp_path.string() +
                             " into place: " + ec.message());
  sync_directory(final_path.parent_path());
  committed = true;
}

void NpzWriter::Impl::finish() {
  require_writable("commit");
  if (open)
    throw std::logic_error("NpzWriter::commit while '" + open->m.name + "' is open: " + final_path.string());
  const std::uint64_t cd_offset = file->position();
  std::vector<std::uint8_t> cd;
  for (const Member& m : members) put_central_record(cd, m, options.force_zip64);
  file->write(cd);
  file->write(end_records(members.size(), cd_offset, cd.size(), options.force_zip64));
  file->sync_and_close();
  closed = true;
}

void NpzWriter::Impl::abort() noexcept {
  if (committed) return;
  closed = true;
  if (compressor) compressor->drain();
  open.reset();
  if (file) file->close_quietly();
  std::error_code ec;
  fs::remove(temp_path, ec);
}

NpzWriter::NpzWriter(std::filesystem::path final_path, NpzOptions options)
    : impl_(std::make_unique<Impl>(std::move(final_path), options)) {}

NpzWriter::~NpzWriter() {
  if (impl_) impl_->abort();
}

void NpzWriter::begin_array(const std::string& name, const std::vector<std::size_t>& item_shape) {
  impl_->begin(name, item_shape);
}

void NpzWriter::append(const std::uint8_t* data, std::size_t n_bytes) { impl_->append(data, n_bytes); }

std::size_t NpzWriter::end_array() { return impl_->end(0); }

void NpzWriter::add_array(const std::string& name, const std::vector<std::size_t>& item_shape,
                          const std::uint8_t* data, std::size_t n_items) {
  impl_->begin(name, item_shape);
  const std::size_t item_size =
      std::accumulate(item_shape.begin(), item_shape.end(), std::size_t{1}, std::multiplies<>());
  impl_->append(data, n_items * item_size);
  impl_->end(n_items);
}

void NpzWriter::commit() { impl_->commit(); }

void NpzWriter::finish() { impl_->finish(); }

void NpzWriter::abort() { impl_->abort(); }

const std::filesystem::path& NpzWriter::final_path() const { return impl_->final_path; }

const std::filesystem::path& NpzWriter::temp_path() const { return impl_->temp_path; }

std::vector<std::pair<std::string, std::string>> NpzWriter::array_sha256() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Member& m : impl_->members) out.emplace_back(m.name.substr(0, m.name.size() - 4), m.data_sha256);
  return out;
}

std::string NpzWriter::compression() const {
  if (!impl_->options.compress) return "stored";
  return std::string("zlib ") + zlibVersion() + " DEFLATE level " + std::to_string(impl_->options.level) + ", " +
         std::to_string(kChunk >> 20) + " MiB chunks (deflateReset, Z_FULL_FLUSH)";
}

}  // namespace mmb
