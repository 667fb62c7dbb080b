#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "common/npz/montage.h"
#include "common/npz/npz_reader.h"
#include "common/npz/npz_writer.h"
#include "common/npz/zip_reader.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "-" + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    path = fs::temp_directory_path() / ("mmb-npz-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

using Bytes = std::vector<std::uint8_t>;

// Image-like bytes: a gradient plus noise, so DEFLATE has something to do.
Bytes pixels(std::size_t n, std::uint32_t seed) {
  Bytes v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    v[i] = static_cast<std::uint8_t>((i / 7) % 200 + (x & 0x1F));
  }
  return v;
}

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a check with Debian's interpreter (it has numpy, skimage and PIL); returns
// its output, with "exit N" appended when it fails.
std::string run_python(const fs::path& dir, const std::string& code, const std::vector<std::string>& args) {
  const fs::path script = dir / "check.py";
  std::ofstream(script) << code;
  std::string cmd = "/usr/bin/python3 ";
  cmd += quote(script.string());
  for (const auto& a : args) {
    cmd += ' ';
    cmd += quote(a);
  }
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    out += "exit ";
    out += std::to_string(WEXITSTATUS(status));
  }
  return out;
}

struct Array {
  std::string key;
  std::vector<std::size_t> item_shape;
  std::size_t n = 0;
  Bytes data;
  std::vector<std::size_t> shape() const {
    std::vector<std::size_t> s{n};
    s.insert(s.end(), item_shape.begin(), item_shape.end());
    return s;
  }
};

// The six MedMNIST keys, covering: several deflate chunks with a remainder
// (train), an exact multiple of the 1 MiB chunk (val_images), a 1-D shape
// (val_labels), N = 0 (test_images) and zero-width labels (test_labels).
std::vector<Array> medmnist_like_arrays() {
  std::vector<Array> a{{"train_images", {28, 28}, 1500, {}}, {"train_labels", {1}, 1500, {}},
                       {"val_images", {1024, 1024}, 2, {}},  {"val_labels", {}, 2, {}},
                       {"test_images", {28, 28}, 0, {}},     {"test_labels", {0}, 0, {}}};
  std::uint32_t seed = 1;
  for (auto& x : a) {
    std::size_t size = x.n;
    for (std::size_t d : x.item_shape) size *= d;
    x.data = pixels(size, seed++);
  }
  return a;
}

void write_npz(const fs::path& path, const std::vector<Array>& arrays, NpzOptions o) {
  NpzWriter w(path, o);
  for (const auto& a : arrays) w.add_array(a.key, a.item_shape, a.data.data(), a.n);
  w.commit();
}

std::string join(const std::vector<std::size_t>& v) {
  std::string s;
  for (std::size_t x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return s;
}

const char* kNumpyCheck = R"(
import sys, zipfile, numpy as np
npz, method, force = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
with zipfile.ZipFile(npz) as z:
    assert z.testzip() is None, 'bad CRC'
    for i in z.infolist():
        assert i.compress_type == method, (i.filename, i.compress_type)
        assert i.date_time == (1980, 1, 1, 0, 0, 0), i.date_time
        assert (i.extra[:4] == b'\x01\x00\x18\x00') == force, (i.filename, i.extra)
with open(npz, 'rb') as f:
    assert (b'PK\x06\x06' in f.read()) == force, 'zip64 end record presence'
data = np.load(npz)
for spec in sys.argv[4:]:
    key, raw, shape = spec.split('|')
    a = data[key]
    assert a.dtype == np.uint8, (key, a.dtype)
    assert a.shape == tuple(int(x) for x in shape.split(',')), (key, a.shape, shape)
    assert a.tobytes() == open(raw, 'rb').read(), key + ' bytes differ'
print('OK', ','.join(data.files))
)";

struct Mode {
  bool compress;
  bool force_zip64;
};

class NpzFormat : public ::testing::TestWithParam<Mode> {
 protected:
  NpzOptions options() const {
    NpzOptions o;
    o.compress = GetParam().compress;
    o.force_zip64 = GetParam().force_zip64;
    return o;
  }
};

std::string mode_name(const ::testing::TestParamInfo<Mode>& p) {
  return std::string(p.param.compress ? "Deflate" : "Stored") + (p.param.force_zip64 ? "Zip64" : "");
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Modes, NpzFormat,
                         ::testing::Values(Mode{true, false}, Mode{false, false}, Mode{true, true},
                                           Mode{false, true}),
                         mode_name);

TEST_P(NpzFormat, RoundTripsThroughOurReaderInCallOrder) {
  TempDir t;
  const auto arrays = medmnist_like_arrays();
  write_npz(t.path / "x.npz", arrays, options());
  EXPECT_EQ(list_npz_keys(t.path / "x.npz"),
            (std::vector<std::string>{"train_images", "train_labels", "val_images", "val_labels",
                                      "test_images", "test_labels"}));
  for (const auto& a : arrays) {
    const NpyArray got = read_npz_array(t.path / "x.npz", a.key);
    EXPECT_EQ(got.descr, "|u1") << a.key;
    EXPECT_EQ(got.shape, a.shape()) << a.key;
    EXPECT_TRUE(got.data == a.data) << a.key;
  }
}

TEST_P(NpzFormat, PythonZipfileAndNumpyLoadGetExactlyTheArrays) {
  TempDir t;
  const auto arrays = medmnist_like_arrays();
  write_npz(t.path / "x.npz", arrays, options());
  std::vector<std::string> args{(t.path / "x.npz").string(), GetParam().compress ? "8" : "0",
                                GetParam().force_zip64 ? "1" : "0"};
  for (const auto& a : arrays) {
    write_file(t.path / (a.key + ".raw"), a.data);
    args.push_back(a.key + "|" + (t.path / (a.key + ".raw")).string() + "|" + join(a.shape()));
  }
  EXPECT_EQ(run_python(t.path, kNumpyCheck, args),
            "OK train_images,train_labels,val_images,val_labels,test_images,test_labels\n");
}

TEST_P(NpzFormat, SameBytesWhateverTheAppendGranularity) {
  TempDir t;
  const std::vector<std::size_t> item{28, 28};
  const std::size_t item_size = 28 * 28, n = 4500;  // 3.4 MiB: several deflate chunks
  const Bytes data = pixels(n * item_size, 7);
  std::vector<Bytes> files;
  for (std::size_t items_per_call : {std::size_t{1}, std::size_t{13}, std::size_t{1337}, n}) {
    const fs::path p = t.path / ("g" + std::to_string(items_per_call) + ".npz");
    NpzWriter w(p, options());
    w.begin_array("train_images", item);
    for (std::size_t i = 0; i < n; i += items_per_call)
      w.append(data.data() + i * item_size, std::min(items_per_call, n - i) * item_size);
    EXPECT_EQ(w.end_array(), n);
    w.commit();
    files.push_back(read_file(p));
  }
  for (std::size_t i = 1; i < files.size(); ++i) EXPECT_TRUE(files[i] == files[0]) << "variant " << i;
  EXPECT_TRUE(read_npz_array(t.path / "g1.npz", "train_images").data == data);
}

// The raw (compressed) bytes of one member, local header excluded.
Bytes member_bytes(const fs::path& npz, const std::string& member) {
  const zip::Archive archive(npz);
  for (const zip::Entry& e : archive.entries()) {
    if (e.name != member) continue;
    std::uint8_t lengths[4];
    archive.read_at(e.local_offset + 26, lengths, sizeof lengths);
    const std::uint64_t start = e.local_offset + 30 + (lengths[0] | lengths[1] << 8) + (lengths[2] | lengths[3] << 8);
    Bytes b(e.compressed_size);
    archive.read_at(start, b.data(), b.size());
    return b;
  }
  ADD_FAILURE() << member << " not in " << npz;
  return {};
}

// Chunks are compressed independently, so a member's bytes cannot depend on
// what the writer compressed before it.
TEST(NpzWriter, MemberBytesDoNotDependOnEarlierMembers) {
  TempDir t;
  Bytes labels(17 * 14);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = (i * 7 + i / 14) % 5 == 0;
  std::set<Bytes> variants;
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    const fs::path p = t.path / ("m" + std::to_string(seed) + ".npz");
    NpzWriter w(p);
    const Bytes before = pixels((seed * 40000) % (3 << 20) + 4096 * seed, seed);
    w.add_array("train_images", {4096}, before.data(), before.size() / 4096);
    w.add_array("test_labels", {14}, labels.data(), 17);
    w.commit();
    variants.insert(member_bytes(p, "test_labels.npy"));
  }
  EXPECT_EQ(variants.size(), 1u);
}

// The documented DEFLATE layout, rebuilt independently with Python's zlib: a
// stored block with the .npy header, then 1 MiB chunks each compressed from a
// reset state at level 1 (full flush; the last one finishes the stream). Equal
// bytes mean the file depends only on the input and the zlib version.
const char* kDeflateLayoutCheck = R"(
import sys, zipfile, zlib, struct
npz, member = sys.argv[1], sys.argv[2]
with open(npz, 'rb') as f: raw = f.read()
info = zipfile.ZipFile(npz).getinfo(member)
o = info.header_offset
name_len, extra_len = struct.unpack('<HH', raw[o + 26:o + 30])
stream = raw[o + 30 + name_len + extra_len:][:info.compress_size]
data = zipfile.ZipFile(npz).read(member)
header_len = struct.unpack('<H', stream[1:3])[0]
expected = stream[:5] + data[:header_len]
payload = data[header_len:]
chunk = 1 << 20
for i in range(0, len(payload), chunk):
    c = zlib.compressobj(1, zlib.DEFLATED, -15, 8)
    last = i + chunk >= len(payload)
    expected += c.compress(payload[i:i + chunk]) + c.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
print('OK' if stream == expected else 'DIFFER %d vs %d bytes' % (len(stream), len(expected)))
)";

TEST(NpzWriter, DeflateMemberIsResetZlibChunksAsDocumented) {
  TempDir t;
  const Bytes data = pixels(2500 * 1024, 3);  // three chunks, the last one partial
  NpzWriter w(t.path / "d.npz");
  w.add_array("train_images", {1024}, data.data(), 2500);
  w.commit();
  EXPECT_EQ(run_python(t.path, kDeflateLayoutCheck, {(t.path / "d.npz").string(), "train_images.npy"}), "OK\n");
}

TEST(NpzWriter, DeflateActuallyCompresses) {
  TempDir t;
  const Bytes data(3 << 20, 42);
  NpzWriter w(t.path / "x.npz");
  w.add_array("train_images", {1024}, data.data(), data.size() / 1024);
  w.commit();
  EXPECT_LT(fs::file_size(t.path / "x.npz"), data.size() / 50);
}

TEST(NpzWriter, CommitRenamesIntoPlaceAndLeavesNoPartial) {
  TempDir t;
  const fs::path final = t.path / "x.npz";
  NpzWriter w(final);
  EXPECT_EQ(w.temp_path(), fs::path(final.string() + ".partial-" + std::to_string(::getpid())));
  const Bytes labels{1, 2, 3};
  w.add_array("train_labels", {1}, labels.data(), 3);
  EXPECT_TRUE(fs::exists(w.temp_path()));
  EXPECT_FALSE(fs::exists(final));
  w.commit();
  EXPECT_TRUE(fs::exists(final));
  EXPECT_FALSE(fs::exists(w.temp_path()));
  EXPECT_EQ(std::distance(fs::directory_iterator(t.path), fs::directory_iterator()), 1);
  EXPECT_EQ(read_npz_array(final, "train_labels").data, labels);
}

TEST(NpzWriter, AbortRemovesTheTempFileAndWritesNothing) {
  TempDir t;
  NpzWriter w(t.path / "x.npz");
  const Bytes labels{1, 2, 3};
  w.begin_array("train_labels", {1});
  w.append(labels.data(), labels.size());
  EXPECT_TRUE(fs::exists(w.temp_path()));
  w.abort();
  w.abort();  // safe twice
  EXPECT_TRUE(fs::is_empty(t.path));
  EXPECT_THROW(w.commit(), std::logic_error);
}

TEST(NpzWriter, DestructorWithoutCommitLeavesNoFile) {
  TempDir t;
  {
    NpzWriter w(t.path / "x.npz");
    const Bytes labels{1, 2, 3};
    w.add_array("train_labels", {1}, labels.data(), 3);
    EXPECT_FALSE(fs::is_empty(t.path));
  }
  EXPECT_TRUE(fs::is_empty(t.path));
}

TEST(NpzWriter, UnwritableDirectoryErrorNamesThePath) {
  TempDir t;
  const fs::path p = t.path / "missing" / "x.npz";
  try {
    NpzWriter w(p);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

// A file-size limit makes write() fail (EFBIG) the way a full disk does (ENOSPC).
TEST(NpzWriter, WriteFailureThrowsNamingTheFileAndCleansUp) {
  TempDir t;
  const Bytes data = pixels(8 << 20, 5);
  std::string message;
  {
    NpzWriter w(t.path / "x.npz", NpzOptions{false, 1, false});
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit small = old;
    small.rlim_cur = 1 << 20;
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    ::setrlimit(RLIMIT_FSIZE, &small);
    try {
      w.add_array("train_images", {1024}, data.data(), data.size() / 1024);
      w.commit();
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_NE(message.find(w.temp_path().string()), std::string::npos) << message;
    EXPECT_NE(message.find("cannot write"), std::string::npos) << message;
  }
  EXPECT_TRUE(fs::is_empty(t.path));
}

TEST(NpzWriter, RejectsPartialItemsAndMisuse) {
  TempDir t;
  NpzWriter w(t.path / "x.npz");
  const Bytes five(5, 0);
  EXPECT_THROW(w.append(five.data(), 5), std::logic_error);  // no open array
  w.begin_array("train_images", {28, 28});
  EXPECT_THROW(w.append(five.data(), 5), std::invalid_argument);
  EXPECT_THROW(w.begin_array("train_labels", {1}), std::logic_error);
  EXPECT_THROW(w.commit(), std::logic_error);
  EXPECT_EQ(w.end_array(), 0u);
  EXPECT_THROW(w.begin_array("train_images", {28, 28}), std::invalid_argument);  // duplicate
  EXPECT_THROW(NpzWriter(t.path / "y.npz", NpzOptions{true, 10, false}), std::invalid_argument);
}

namespace {

std::uint64_t central_directory_offset(const Bytes& file) {
  const std::uint8_t* e = file.data() + file.size() - 22;  // no comment, no zip64
  return e[16] | (e[17] << 8) | (e[18] << 16) | (std::uint64_t(e[19]) << 24);
}

void expect_read_error(const fs::path& npz, const std::string& key, const std::string& what) {
  try {
    read_npz_array(npz, key);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(npz.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

}  // namespace

TEST(NpzReader, RejectsCorruptedStoredDataWithCrcErrorNamingTheFile) {
  TempDir t;
  const fs::path p = t.path / "x.npz";
  const Bytes data = pixels(1000, 3);
  write_npz(p, {{"train_labels", {1}, 1000, data}}, NpzOptions{false, 1, false});
  Bytes file = read_file(p);
  file[central_directory_offset(file) - 1] ^= 0x40;  // last data byte
  write_file(p, file);
  expect_read_error(p, "train_labels", "CRC-32 mismatch");
}

TEST(NpzReader, RejectsWrongCentralDirectoryCrcOfDeflateMember) {
  TempDir t;
  const fs::path p = t.path / "x.npz";
  const Bytes data = pixels(100000, 3);
  write_npz(p, {{"train_images", {100}, 1000, data}}, NpzOptions{});
  Bytes file = read_file(p);
  file[central_directory_offset(file) + 16] ^= 0x01;  // CRC field of the central record
  write_file(p, file);
  expect_read_error(p, "train_images", "CRC-32 mismatch");
}

TEST(NpzReader, MissingKeyAndNonZipErrorsNameTheFile) {
  TempDir t;
  const fs::path p = t.path / "x.npz";
  write_npz(p, {{"train_labels", {1}, 2, {1, 2}}}, NpzOptions{});
  expect_read_error(p, "val_labels", "no array 'val_labels'");
  write_file(t.path / "junk.npz", Bytes(100, 7));
  expect_read_error(t.path / "junk.npz", "train_labels", "not a ZIP file");
}

TEST(NpzReader, ReadsFilesWrittenByNumpy) {
  TempDir t;
  const char* code = R"(
import sys, numpy as np
a = np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4)
np.savez_compressed(sys.argv[1], train_images=a, train_labels=np.array([[1], [2], [3]], np.uint8))
np.savez(sys.argv[2], x=np.arange(6, dtype='<i2'))
print('OK')
)";
  ASSERT_EQ(run_python(t.path, code, {(t.path / "a.npz").string(), (t.path / "b.npz").string()}), "OK\n");
  const NpyArray a = read_npz_array(t.path / "a.npz", "train_images");
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{3, 5, 4}));
  ASSERT_EQ(a.data.size(), 60u);
  for (std::size_t i = 0; i < 60; ++i) EXPECT_EQ(a.data[i], i);
  EXPECT_EQ(read_npz_array(t.path / "a.npz", "train_labels").data, (Bytes{1, 2, 3}));
  const NpyArray b = read_npz_array(t.path / "b.npz", "x");
  EXPECT_EQ(b.descr, "<i2");
  EXPECT_EQ(b.shape, (std::vector<std::size_t>{6}));
  EXPECT_EQ(b.data.size(), 12u);
}

namespace {

const char* kMontageCheck = R"(
import sys, numpy as np
from PIL import Image, ImageSequence
from skimage.util import montage
npz, out, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
imgs = np.load(npz)['train_images'][:k]
im = Image.open(out)
if out.endswith('.gif'):
    assert im.n_frames == imgs.shape[1], im.n_frames
    assert im.info.get('loop') == 0 and im.info.get('duration') == 200, im.info
    frames = [np.asarray(f.convert('L')) for f in ImageSequence.Iterator(im)]
    refs = [montage(imgs[:, d]) for d in range(imgs.shape[1])]
else:
    frames = [np.asarray(im)]
    refs = [montage(imgs, channel_axis=3 if imgs.ndim == 4 else None)]
for got, ref in zip(frames, refs):
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert (got == ref).all(), np.argwhere(got != ref)[:3]
print('OK', len(frames))
)";

fs::path write_images(const fs::path& dir, const std::vector<std::size_t>& item, std::size_t n) {
  std::size_t size = n;
  for (std::size_t d : item) size *= d;
  const fs::path p = dir / "toy.npz";
  write_npz(p, {{"train_images", item, n, pixels(size, 11)}}, NpzOptions{});
  return p;
}

}  // namespace

TEST(Montage, GrayPngMatchesSkimageMontageWithMeanFilledCells) {
  TempDir t;
  const fs::path npz = write_images(t.path, {28, 28}, 7);
  const fs::path png = write_montage(npz, "train", t.path / "m", {3, 0});
  EXPECT_EQ(png, t.path / "m.png");
  const cv::Mat m = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(m.cols, 84);  // 7 images: a 3x3 grid, two cells filled with the mean
  EXPECT_EQ(m.rows, 84);
  EXPECT_EQ(m.channels(), 1);
  EXPECT_EQ(run_python(t.path, kMontageCheck, {npz.string(), png.string(), "7"}), "OK 1\n");
}

TEST(Montage, RgbPngKeepsRgbOrderAndUsesAtMostLengthSquaredSamples) {
  TempDir t;
  const fs::path npz = write_images(t.path, {16, 16, 3}, 10);
  const fs::path png = write_montage(npz, "train", t.path / "m.png", {2, 0});
  const cv::Mat m = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(m.cols, 32);
  EXPECT_EQ(m.rows, 32);
  EXPECT_EQ(m.channels(), 3);
  EXPECT_EQ(run_python(t.path, kMontageCheck, {npz.string(), png.string(), "4"}), "OK 1\n");
}

TEST(Montage, VolumesBecomeALoopingGifWithOneFramePerSlice) {
  TempDir t;
  const fs::path npz = write_images(t.path, {8, 8, 8}, 3);
  const fs::path gif = write_montage(npz, "train", t.path / "m", {10, 0});
  EXPECT_EQ(gif, t.path / "m.gif");
  // A raster name for a volume is refused rather than silently renamed (docs/cli.md).
  EXPECT_THROW(write_montage(npz, "train", t.path / "v.png", {10, 0}), MontageUsageError);
  EXPECT_FALSE(fs::exists(t.path / "v.png"));
  EXPECT_EQ(run_python(t.path, kMontageCheck, {npz.string(), gif.string(), "3"}), "OK 8\n");
}

TEST(Montage, SeededChoiceIsRepeatableAndWithoutReplacement) {
  TempDir t;
  const std::size_t n = 50;
  Bytes data(n * 4 * 4);
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<std::uint8_t>(i / 16);  // image i is all i
  const fs::path npz = t.path / "toy.npz";
  write_npz(npz, {{"train_images", {4, 4}, n, data}}, NpzOptions{});
  auto chosen = [&](unsigned seed, const std::string& name) {
    const cv::Mat m =
        cv::imread(write_montage(npz, "train", t.path / name, {3, seed}).string(), cv::IMREAD_UNCHANGED);
    std::vector<int> v;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) v.push_back(m.at<std::uint8_t>(r * 4, c * 4));
    return v;
  };
  const auto first = chosen(0, "a"), s1 = chosen(1, "b"), s1_again = chosen(1, "c"), s2 = chosen(2, "d");
  EXPECT_EQ(first, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(s1, s1_again);
  EXPECT_NE(s1, first);
  EXPECT_NE(s1, s2);
  EXPECT_EQ(std::set<int>(s1.begin(), s1.end()).size(), 9u);
  for (int x : s1) EXPECT_LT(x, static_cast<int>(n));
}

// Over 4 GiB every ZIP64 field is needed: the sizes of the big members and the
// offset of the member after the stored one. Python streams each member, so
// zipfile checks the CRC without loading the array.
TEST(NpzLarge, Over4GiBStoredAndDeflateMembersPassPythonZipfileCrcRead) {
  TempDir t;
  const std::size_t mib = std::size_t{1} << 20, n = 4097;  // 4 GiB + 1 MiB of zeros
  const Bytes zeros(64 * mib, 0), labels{1, 2, 3};
  auto write = [&](const fs::path& p, bool compress, const std::string& split) {
    NpzWriter w(p, NpzOptions{compress, 1, false});
    w.begin_array(split + "_images", {mib});
    for (std::size_t i = 0; i < n; i += 64) w.append(zeros.data(), std::min<std::size_t>(64, n - i) * mib);
    EXPECT_EQ(w.end_array(), n);
    w.add_array(split + "_labels", {1}, labels.data(), labels.size());
    w.commit();
  };
  write(t.path / "stored.npz", false, "train");
  write(t.path / "deflate.npz", true, "val");
  EXPECT_EQ(read_npz_array(t.path / "stored.npz", "train_labels").data, labels);  // at offset > 4 GiB
  EXPECT_EQ(read_npz_array(t.path / "deflate.npz", "val_labels").data, labels);
  const char* code = R"(
import sys, io, zipfile, numpy as np
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        for i in z.infolist():
            with z.open(i) as f:
                fp = io.BytesIO(f.read(128))
                np.lib.format.read_magic(fp)
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                total, nonzero = 0, False
                while True:
                    chunk = f.read(1 << 24)
                    if not chunk:
                        break
                    total += len(chunk)
                    nonzero |= bool(np.frombuffer(chunk, np.uint8).any())
            print(i.filename, i.compress_type, i.file_size, i.compress_size == i.file_size,
                  i.header_offset > 0xFFFFFFFF, shape, dtype, total, nonzero)
)";
  const std::string usize = std::to_string(128 + n * mib), data = std::to_string(n * mib);
  EXPECT_EQ(run_python(t.path, code, {(t.path / "stored.npz").string(), (t.path / "deflate.npz").string()}),
            "train_images.npy 0 " + usize + " True False (4097, 1048576) uint8 " + data + " False\n" +
                "train_labels.npy 0 131 True True (3, 1) uint8 3 True\n" + "val_images.npy 8 " + usize +
                " False False (4097, 1048576) uint8 " + data + " False\n" +
                "val_labels.npy 8 131 False False (3, 1) uint8 3 True\n");
}
