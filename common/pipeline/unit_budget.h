#pragma once
// A memory budget for the units (CT volumes, DICOM series) a build holds at
// once. Without it every worker thread reads its own unit, so --threads 64 on
// LiTS held 64 volumes of 0.8 GB (issue 12); with it a thread waits before
// reading a unit until the units in flight leave room for one more.
//
// Unit sizes are learned, not declared: the first unit is read alone and
// measured (common/core/allocator.h: unit_bytes_read_by_this_thread), and
// every later reservation is the largest unit seen so far. One unit is always
// allowed, even if it alone exceeds the budget; units that read no volume
// (measured 0 bytes) are not limited.
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace mmb {

// Half the machine's physical memory: the default of BuildOptions::unit_memory_mb.
std::size_t default_unit_memory_bytes();

class UnitBudget {
 public:
  explicit UnitBudget(std::size_t limit_bytes);

  // Held while a unit is read and rendered; releases its reservation when destroyed.
  class Lease {
   public:
    Lease(Lease&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.budget_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

   private:
    friend class UnitBudget;
    Lease(UnitBudget* b, std::size_t bytes) : budget_(b), bytes_(bytes) {}
    UnitBudget* budget_;
    std::size_t bytes_;
  };

  // Blocks until one more unit fits.
  Lease acquire();
  // What the unit of this lease turned out to hold; replaces the estimate.
  void measured(Lease& lease, std::size_t bytes);

  std::size_t limit_bytes() const { return limit_; }
  std::size_t peak_units_in_flight() const;

 private:
  void release(std::size_t bytes);

  const std::size_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::size_t reserved_ = 0, units_ = 0, peak_units_ = 0;
  std::size_t largest_unit_ = 0;
  bool measured_any_ = false;
};

}  // namespace mmb
