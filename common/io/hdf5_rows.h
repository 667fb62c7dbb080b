#pragma once
// Tables of numbers in HDF5 files, read row by row with the HDF5 C library:
// a plain N x ... dataset, or a pandas HDFStore key ("fixed": block0_values /
// values; "table": the values_block_0 column of `table`, whose cells are arrays).
// First used for NephNet's TissueMNIST file (train_data, train_labels, ...).
#include <hdf5.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmb {

// Closes an HDF5 id when it goes out of scope.
class H5Id {
 public:
  H5Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Id() {
    if (id_ >= 0) close_(id_);
  }
  H5Id(H5Id&& other) noexcept : id_(std::exchange(other.id_, -1)), close_(other.close_) {}
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id& operator=(H5Id&&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// One dataset seen as rows x row_length numbers. For a pandas "table" it is one
// column (compound member) whose cells are arrays.
struct H5Rows {
  std::string dataset;                // path inside the file
  std::string member;                 // compound member, "" for a numeric dataset
  std::vector<hsize_t> dims;          // the dataset's extent; dims[0] = rows
  std::vector<hsize_t> member_dims;   // array extent of the member, if any
  hsize_t rows = 0, row_length = 1;
  // "plain dataset", "pandas fixed" or "pandas table".
  std::string kind() const;
};

// Opens read-only with HDF5's error printing silenced (in this thread); throws
// InputError(file, "cannot open as HDF5").
H5Id open_h5(const std::filesystem::path& file);

// The rows behind a key: a plain numeric dataset, or a pandas HDFStore group
// ("fixed": block0_values or values; "table": table/values_block_0). nullopt when
// the key does not exist; InputError (naming path) for a key that is not numeric
// rows (a scalar, several pandas blocks, a group that is not a pandas key).
std::optional<H5Rows> find_rows(hid_t file, const std::string& key, const std::filesystem::path& path);

// Rows [first, first + count) as doubles, row after row; HDF5 converts the type.
// InputError naming the rows when the read fails (a corrupt file).
std::vector<double> read_rows(hid_t file, const H5Rows& rows, hsize_t first, hsize_t count,
                              const std::filesystem::path& path);

}  // namespace mmb
