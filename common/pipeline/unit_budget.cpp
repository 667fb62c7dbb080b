#include "common/pipeline/unit_budget.h"

#include <unistd.h>

#include <algorithm>

namespace mmb {

std::size_t default_unit_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::size_t{4} << 30;  // unknown: 4 GiB
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 2;
}

UnitBudget::UnitBudget(std::size_t limit_bytes) : limit_(std::max<std::size_t>(limit_bytes, 1)) {}

UnitBudget::Lease::~Lease() {
  if (budget_) budget_->release(bytes_);
}

UnitBudget::Lease UnitBudget::acquire() {
  std::unique_lock lock(mutex_);
  // Until a unit has been measured its size is unknown: it reserves the whole budget.
  room_.wait(lock, [&] { return units_ == 0 || (measured_any_ && reserved_ + largest_unit_ <= limit_); });
  const std::size_t bytes = measured_any_ ? largest_unit_ : limit_;
  reserved_ += bytes;
  peak_units_ = std::max(peak_units_, ++units_);
  return Lease(this, bytes);
}

void UnitBudget::measured(Lease& lease, std::size_t bytes) {
  {
    std::lock_guard lock(mutex_);
    reserved_ = reserved_ - lease.bytes_ + bytes;
    lease.bytes_ = bytes;
    largest_unit_ = std::max(largest_unit_, bytes);
    measured_any_ = true;
  }
  room_.notify_all();
}

void UnitBudget::release(std::size_t bytes) {
  {
    std::lock_guard lock(mutex_);
    reserved_ -= bytes;
    --units_;
  }
  room_.notify_all();
}

std::size_t UnitBudget::peak_units_in_flight() const {
  std::lock_guard lock(mutex_);
  return peak_units_;
}

}  // namespace mmb
