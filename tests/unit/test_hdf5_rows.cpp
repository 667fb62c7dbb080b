// common/io/hdf5_rows: HDF5 tables read row by row. The files are written by
// Debian's /usr/bin/python3 with h5py in the layouts the readers meet: a plain
// dataset, pandas HDFStore "fixed" (block0_values / values) and "table" (a
// compound `table` whose values_block_0 cells are arrays).
#include "common/io/hdf5_rows.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/core/error.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

const char* kWriter = R"PY(
import sys
import h5py
import numpy as np

rows = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)  # row r holds 6r .. 6r+5
with h5py.File(sys.argv[1], "w") as h5:
    h5.create_dataset("plain", data=rows)
    h5.create_dataset("cube", data=rows.reshape(4, 2, 3).astype(np.float32))
    h5.create_dataset("scalar", data=np.float64(1.5))
    h5.create_dataset("text", data=np.array([b"a", b"b"]))
    fixed = h5.create_group("fixed_frame")
    fixed.create_dataset("block0_values", data=rows.astype(np.int64))
    series = h5.create_group("fixed_series")
    series.create_dataset("values", data=np.arange(1, 5, dtype=np.int16))
    mixed = h5.create_group("mixed")
    mixed.create_dataset("block0_values", data=rows)
    mixed.create_dataset("block1_values", data=rows)
    table = h5.create_group("table_frame")
    dt = np.dtype([("index", "<i8"), ("values_block_0", np.float64, (6,))])
    t = np.zeros(4, dtype=dt)
    t["index"] = np.arange(4)
    t["values_block_0"] = rows
    table.create_dataset("table", data=t, chunks=True)
    h5.create_group("other").create_dataset("x", data=rows)
)PY";

class Hdf5Rows : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mmb_test_hdf5_rows_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream(dir_ / "write.py") << kWriter;
    const std::string cmd = "/usr/bin/python3 " + (dir_ / "write.py").string() + " " + file().string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file() const { return dir_ / "rows.h5"; }
  fs::path dir_;
};

std::vector<double> iota(double first, std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = first + static_cast<double>(i);
  return v;
}

}  // namespace

TEST_F(Hdf5Rows, PlainDatasetRowsAreReadAsDoubles) {
  const H5Id f = open_h5(file());
  const auto r = find_rows(f.get(), "plain", file());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, 4u);
  EXPECT_EQ(r->row_length, 6u);
  EXPECT_EQ(r->kind(), "plain dataset");
  EXPECT_EQ(read_rows(f.get(), *r, 1, 2, file()), iota(6, 12));
  const auto cube = find_rows(f.get(), "cube", file());
  ASSERT_TRUE(cube);
  EXPECT_EQ(cube->dims, (std::vector<hsize_t>{4, 2, 3}));
  EXPECT_EQ(cube->row_length, 6u);
  EXPECT_EQ(read_rows(f.get(), *cube, 3, 1, file()), iota(18, 6));
}

TEST_F(Hdf5Rows, PandasFixedAndTableKeysAreFoundBelowTheirGroup) {
  const H5Id f = open_h5(file());
  const auto frame = find_rows(f.get(), "fixed_frame", file());
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->dataset, "fixed_frame/block0_values");
  EXPECT_EQ(frame->kind(), "pandas fixed");
  EXPECT_EQ(read_rows(f.get(), *frame, 2, 1, file()), iota(12, 6));
  const auto series = find_rows(f.get(), "fixed_series", file());
  ASSERT_TRUE(series);
  EXPECT_EQ(series->dataset, "fixed_series/values");
  EXPECT_EQ(series->row_length, 1u);
  EXPECT_EQ(read_rows(f.get(), *series, 0, 4, file()), iota(1, 4));
  const auto table = find_rows(f.get(), "table_frame", file());
  ASSERT_TRUE(table);
  EXPECT_EQ(table->dataset, "table_frame/table");
  EXPECT_EQ(table->member, "values_block_0");
  EXPECT_EQ(table->member_dims, (std::vector<hsize_t>{6}));
  EXPECT_EQ(table->rows, 4u);
  EXPECT_EQ(table->row_length, 6u);
  EXPECT_EQ(table->kind(), "pandas table");
  EXPECT_EQ(read_rows(f.get(), *table, 1, 3, file()), iota(6, 18));
}

TEST_F(Hdf5Rows, AbsentKeyIsNulloptAndOddKeysAreInputErrors) {
  const H5Id f = open_h5(file());
  EXPECT_FALSE(find_rows(f.get(), "absent", file()));
  const auto reason = [&](const std::string& key) -> std::string {
    try {
      find_rows(f.get(), key, file());
    } catch (const InputError& e) {
      EXPECT_EQ(e.path(), file());
      return e.reason();
    }
    return "no error";
  };
  EXPECT_EQ(reason("scalar"), "scalar: a scalar, not rows");
  EXPECT_EQ(reason("text"), "text: not a numeric dataset");
  EXPECT_EQ(reason("mixed"), "mixed: several pandas blocks (columns of mixed types) are not supported");
  EXPECT_EQ(reason("other"), "other: a group without block0_values, values or table (not a pandas key)");
}

TEST_F(Hdf5Rows, NotAnHdf5FileIsAnInputErrorNamingIt) {
  std::ofstream(dir_ / "junk.h5") << "not hdf5";
  try {
    open_h5(dir_ / "junk.h5");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), dir_ / "junk.h5");
    EXPECT_EQ(e.reason(), "cannot open as HDF5");
  }
}
