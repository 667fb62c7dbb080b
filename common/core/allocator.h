#pragma once
// Allocator settings for a build: keep freed memory for reuse instead of
// handing it back to the kernel after every sample.
//
// glibc returns the top of a heap to the kernel once more than
// M_TRIM_THRESHOLD bytes are free there, and serves every block above
// M_MMAP_THRESHOLD with its own mmap, unmapped again on free. A build
// allocates and frees the same few megabytes per sample (file bytes, decoded
// image, resized copies), so with the defaults (128 KiB, growing dynamically)
// every sample faulted its pages in again: 18% of a ChestMNIST build was
// page-fault handling (issue 12). Raising both thresholds keeps those blocks
// in the heap; volumes (hundreds of MB, above the mmap ceiling) are still
// mapped and unmapped on their own, so they do not pin memory.
#include <malloc.h>

#include <cstddef>

namespace mmb {

// glibc caps M_MMAP_THRESHOLD at HEAP_MAX_SIZE / 2 (32 MiB on 64-bit): larger values are refused.
inline constexpr std::size_t kMmapThresholdBytes = std::size_t{32} << 20;
inline constexpr std::size_t kTrimThresholdBytes = std::size_t{128} << 20;

// Call once at start-up, before threads start. Returns false if glibc refused a setting.
inline bool keep_freed_memory_for_reuse() {
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThresholdBytes)) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThresholdBytes)) == 1;
  return mmap_ok && trim_ok;
}

}  // namespace mmb

namespace mmb {

// Bytes of unit data (source volumes, in their in-memory layout) this thread
// has allocated so far. Readers of volumes add to it; the pipeline's
// UnitBudget reads it before and after read_unit() to learn what a unit costs
// without every converter having to report it.
inline std::size_t& unit_bytes_read_by_this_thread() {
  thread_local std::size_t bytes = 0;
  return bytes;
}

}  // namespace mmb
