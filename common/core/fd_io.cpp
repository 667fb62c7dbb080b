#include "common/core/fd_io.h"

#include <unistd.h>

#include <cerrno>

namespace mmb {
namespace {

// One loop for the three calls; `io` moves up to n bytes at offset `done`.
template <typename Io>
bool transfer_fully(std::size_t n, Io io) {
  for (std::size_t done = 0; done < n;) {
    errno = 0;
    const ssize_t moved = io(done);
    if (moved < 0 && errno == EINTR) continue;
    if (moved <= 0) return false;  // errno: the call's, or 0 at the end of the file
    done += static_cast<std::size_t>(moved);
  }
  return true;
}

}  // namespace

bool write_fully(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  const bool ok = transfer_fully(n, [&](std::size_t done) { return ::write(fd, p + done, n - done); });
  if (!ok && errno == 0) errno = EIO;
  return ok;
}

bool pwrite_fully(int fd, const void* data, std::size_t n, std::uint64_t offset) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  const bool ok = transfer_fully(
      n, [&](std::size_t done) { return ::pwrite(fd, p + done, n - done, static_cast<off_t>(offset + done)); });
  if (!ok && errno == 0) errno = EIO;
  return ok;
}

bool pread_fully(int fd, void* dst, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<std::uint8_t*>(dst);
  return transfer_fully(
      n, [&](std::size_t done) { return ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done)); });
}

}  // namespace mmb
