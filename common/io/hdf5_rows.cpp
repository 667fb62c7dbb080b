#include "common/io/hdf5_rows.h"

#include <algorithm>

#include "common/core/error.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

bool has_link(hid_t location, const std::string& name) { return H5Lexists(location, name.c_str(), H5P_DEFAULT) > 0; }

bool is_number(hid_t type) { return H5Tget_class(type) == H5T_INTEGER || H5Tget_class(type) == H5T_FLOAT; }

H5Rows describe(hid_t file, const std::string& dataset, const std::string& member, const fs::path& path) {
  H5Id ds(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) throw InputError(path, dataset + ": cannot open dataset");
  H5Id space(H5Dget_space(ds.get()), H5Sclose), type(H5Dget_type(ds.get()), H5Tclose);
  H5Rows r;
  r.dataset = dataset;
  r.member = member;
  r.dims.resize(std::max(H5Sget_simple_extent_ndims(space.get()), 0));
  if (r.dims.empty()) throw InputError(path, dataset + ": a scalar, not rows");
  H5Sget_simple_extent_dims(space.get(), r.dims.data(), nullptr);
  r.rows = r.dims[0];
  for (std::size_t i = 1; i < r.dims.size(); ++i) r.row_length *= r.dims[i];
  if (member.empty()) {
    if (!is_number(type.get())) throw InputError(path, dataset + ": not a numeric dataset");
    return r;
  }
  const int index = H5Tget_class(type.get()) == H5T_COMPOUND ? H5Tget_member_index(type.get(), member.c_str()) : -1;
  if (index < 0) throw InputError(path, dataset + ": no column '" + member + "'");
  H5Id cell(H5Tget_member_type(type.get(), static_cast<unsigned>(index)), H5Tclose);
  if (H5Tget_class(cell.get()) == H5T_ARRAY) {
    r.member_dims.resize(H5Tget_array_ndims(cell.get()));
    H5Tget_array_dims2(cell.get(), r.member_dims.data());
    for (auto d : r.member_dims) r.row_length *= d;
    H5Id base(H5Tget_super(cell.get()), H5Tclose);
    if (!is_number(base.get())) throw InputError(path, dataset + ": column '" + member + "' is not numeric");
  } else if (!is_number(cell.get())) {
    throw InputError(path, dataset + ": column '" + member + "' is not numeric");
  }
  return r;
}

}  // namespace

std::string H5Rows::kind() const {
  return !member.empty() ? "pandas table" : dataset.find('/') != std::string::npos ? "pandas fixed" : "plain dataset";
}

H5Id open_h5(const fs::path& file) {
  // The error stack is per thread in a thread-safe libhdf5: silence it in each.
  thread_local const bool quiet = H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
  (void)quiet;
  H5Id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (f.get() < 0) throw InputError(file, "cannot open as HDF5");
  return f;
}

// A key is a plain dataset, or a pandas HDFStore group: the "fixed" format keeps a
// frame in block0_values (stored rows x columns) and a series in values; the
// "table" format (HDFStore.append, as NephNet's utils/toHDF5.py writes) keeps
// the rows in `table`, the numbers in its values_block_0 column.
std::optional<H5Rows> find_rows(hid_t file, const std::string& key, const fs::path& path) {
  if (!has_link(file, key)) return std::nullopt;
  H5Id object(H5Oopen(file, key.c_str(), H5P_DEFAULT), H5Oclose);
  if (H5Iget_type(object.get()) == H5I_DATASET) return describe(file, key, "", path);
  if (has_link(object.get(), "block1_values"))
    throw InputError(path, key + ": several pandas blocks (columns of mixed types) are not supported");
  for (const char* child : {"block0_values", "values"})
    if (has_link(object.get(), child)) return describe(file, key + "/" + child, "", path);
  if (has_link(object.get(), "table")) return describe(file, key + "/table", "values_block_0", path);
  throw InputError(path, key + ": a group without block0_values, values or table (not a pandas key)");
}

std::vector<double> read_rows(hid_t file, const H5Rows& r, hsize_t first, hsize_t count, const fs::path& path) {
  H5Id ds(H5Dopen2(file, r.dataset.c_str(), H5P_DEFAULT), H5Dclose);
  H5Id file_space(H5Dget_space(ds.get()), H5Sclose);
  std::vector<hsize_t> start(r.dims.size(), 0), extent = r.dims;
  start[0] = first, extent[0] = count;
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
  H5Id memory_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr), H5Sclose);
  H5Id cell(r.member_dims.empty() ? H5Tcopy(H5T_NATIVE_DOUBLE)
                                  : H5Tarray_create2(H5T_NATIVE_DOUBLE, static_cast<unsigned>(r.member_dims.size()),
                                                     r.member_dims.data()),
            H5Tclose);
  H5Id compound(r.member.empty() ? -1 : H5Tcreate(H5T_COMPOUND, H5Tget_size(cell.get())), H5Tclose);
  if (!r.member.empty()) H5Tinsert(compound.get(), r.member.c_str(), 0, cell.get());
  std::vector<double> values(count * r.row_length);
  if (H5Dread(ds.get(), r.member.empty() ? H5T_NATIVE_DOUBLE : compound.get(), memory_space.get(), file_space.get(),
              H5P_DEFAULT, values.data()) < 0)
    throw InputError(path, r.dataset + ": cannot read rows " + std::to_string(first) + ".." +
                               std::to_string(first + count - 1) + " (corrupt file?)");
  return values;
}

}  // namespace mmb
