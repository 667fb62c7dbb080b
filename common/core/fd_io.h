#pragma once
// Whole-buffer I/O on a file descriptor: interrupted and short transfers are
// retried until all n bytes have moved. On failure the functions return false
// with errno set by the system call; a read that meets the end of the file
// first returns false with errno = 0, and a transfer that makes no progress
// sets errno = EIO. Callers turn false into an error that names their file.
#include <cstddef>
#include <cstdint>

namespace mmb {

bool write_fully(int fd, const void* data, std::size_t n);
bool pwrite_fully(int fd, const void* data, std::size_t n, std::uint64_t offset);
bool pread_fully(int fd, void* dst, std::size_t n, std::uint64_t offset);

}  // namespace mmb
