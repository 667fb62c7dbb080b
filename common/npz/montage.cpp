#include "common/npz/montage.h"

#include <gif_lib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <unordered_map>
#include <stdexcept>
#include <system_error>

#include "common/npz/zip_reader.h"

namespace mmb {
namespace fs = std::filesystem;

namespace {

constexpr int kGifFrameDelay = 20;  // 1/100 s units: medmnist saves 200 ms per frame

// Tile geometry of one sample; `frames` > 1 only for 3D volumes.
struct Layout {
  std::size_t count = 0, frames = 1, height = 0, width = 0, channels = 1;
  bool volume = false;
  std::size_t frame_bytes() const { return height * width * channels; }
  std::size_t item_bytes() const { return frames * frame_bytes(); }
};

Layout layout_of(const npy::Header& h, const zip::MemberReader& reader) {
  if (h.item_bytes != 1 || h.descr.find('u') == std::string::npos)
    reader.fail("montage needs uint8 images, not '" + h.descr + "'");
  if (h.fortran_order) reader.fail("Fortran-order arrays are not supported");
  const auto& s = h.shape;
  if (s.size() == 3) return {s[0], 1, s[1], s[2], 1, false};
  // (N, 3, 3, 3) is read as a volume: MedMNIST RGB images are never 3 pixels wide.
  if (s.size() == 4 && s[3] == 3 && !(s[1] == 3 && s[2] == 3)) return {s[0], 1, s[1], s[2], 3, false};
  if (s.size() == 4) return {s[0], s[1], s[2], s[3], 1, true};
  reader.fail("montage needs images of shape (N,H,W), (N,H,W,3) or (N,D,H,W)");
}

// Unbiased draw in [0, bound) by rejection: std::uniform_int_distribution is
// implementation-defined, and the choice must be the same everywhere.
std::uint32_t uniform_below(std::mt19937& gen, std::uint32_t bound) {
  const std::uint32_t limit = static_cast<std::uint32_t>(-bound) % bound;  // 2^32 mod bound
  for (;;) {
    const std::uint32_t r = static_cast<std::uint32_t>(gen());
    if (r >= limit) return r % bound;
  }
}

// Sample indices in grid order: the first k, or k drawn without replacement
// (a partial Fisher-Yates shuffle) when seeded.
// Only the k touched positions of the permutation are stored (a header may claim
// 10^9 samples; memory stays O(k)), with the same draws as a full array would give.
std::vector<std::size_t> choose_samples(std::size_t n, std::size_t k, unsigned seed) {
  std::vector<std::size_t> idx(k);
  for (std::size_t i = 0; i < k; ++i) idx[i] = i;
  if (seed != 0) {
    if (n > 0xFFFFFFFFu) throw std::invalid_argument("montage: too many samples for a seeded choice");
    std::mt19937 gen(seed);
    std::unordered_map<std::size_t, std::size_t> moved;  // position >= k -> its value, once swapped
    const auto at = [&](std::size_t p) -> std::size_t& {
      if (p < k) return idx[p];
      return moved.try_emplace(p, p).first->second;
    };
    for (std::size_t i = 0; i < k; ++i)
      std::swap(idx[i], at(i + uniform_below(gen, static_cast<std::uint32_t>(n - i))));
  }
  return idx;
}

// Reads the chosen samples, in one forward pass over the member.
std::vector<std::vector<std::uint8_t>> read_samples(zip::MemberReader& reader, const Layout& l,
                                                    const std::vector<std::size_t>& chosen) {
  std::vector<std::pair<std::size_t, std::size_t>> by_index;  // (sample, grid slot)
  for (std::size_t slot = 0; slot < chosen.size(); ++slot) by_index.emplace_back(chosen[slot], slot);
  std::sort(by_index.begin(), by_index.end());
  std::vector<std::vector<std::uint8_t>> samples(chosen.size(), std::vector<std::uint8_t>(l.item_bytes()));
  std::size_t next = 0;
  for (const auto& [index, slot] : by_index) {
    reader.skip(static_cast<std::uint64_t>(index - next) * l.item_bytes());
    reader.read(samples[slot].data(), l.item_bytes());
    next = index + 1;
  }
  return samples;
}

// One montage picture like skimage.util.montage: tiles row-major on a side x side
// grid, empty cells filled with the per-channel mean truncated to uint8.
std::vector<std::uint8_t> montage_frame(const std::vector<std::vector<std::uint8_t>>& samples,
                                        const Layout& l, std::size_t frame, std::size_t side) {
  const std::size_t c = l.channels, row_bytes = l.width * c, out_row = side * row_bytes;
  std::vector<std::uint64_t> sum(c, 0);
  for (const auto& s : samples) {
    const std::uint8_t* p = s.data() + frame * l.frame_bytes();
    for (std::size_t i = 0; i < l.frame_bytes(); ++i) sum[i % c] += p[i];
  }
  std::vector<std::uint8_t> out(side * l.height * out_row);
  const double pixels = static_cast<double>(samples.size() * l.height * l.width);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(static_cast<double>(sum[i % c]) / pixels);
  for (std::size_t t = 0; t < samples.size(); ++t) {
    const std::uint8_t* src = samples[t].data() + frame * l.frame_bytes();
    std::uint8_t* dst = out.data() + (t / side) * l.height * out_row + (t % side) * row_bytes;
    for (std::size_t y = 0; y < l.height; ++y) std::copy_n(src + y * row_bytes, row_bytes, dst + y * out_row);
  }
  return out;
}

void write_png(const fs::path& out, std::vector<std::uint8_t>& pixels, int width, int height, int channels) {
  cv::Mat m(height, width, CV_8UC(channels), pixels.data());
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_RGB2BGR);  // OpenCV writes BGR
  bool ok = false;
  try {
    ok = cv::imwrite(out.string(), m);
  } catch (const cv::Exception& e) {
    throw std::runtime_error(out.string() + ": cannot write PNG: " + e.what());
  }
  if (!ok) throw std::runtime_error(out.string() + ": cannot write PNG");
}

// A looping animated GIF with a 256-level gray palette.
class GifWriter {
 public:
  GifWriter(const fs::path& path, int width, int height) : path_(path), width_(width) {
    int err = 0;
    gif_ = EGifOpenFileName(path.c_str(), false, &err);
    if (!gif_) throw std::runtime_error(path.string() + ": cannot create GIF: " + GifErrorString(err));
    EGifSetGifVersion(gif_, true);
    ColorMapObject* gray = GifMakeMapObject(256, nullptr);
    for (int i = 0; i < 256; ++i) gray->Colors[i] = {GifByteType(i), GifByteType(i), GifByteType(i)};
    const int r = EGifPutScreenDesc(gif_, width, height, 8, 0, gray);  // copies the map
    GifFreeMapObject(gray);
    check(r);
    // NETSCAPE2.0 application extension, loop count 0 = forever.
    static const GifByteType kLoop[] = {1, 0, 0};
    check(EGifPutExtensionLeader(gif_, APPLICATION_EXT_FUNC_CODE));
    check(EGifPutExtensionBlock(gif_, 11, "NETSCAPE2.0"));
    check(EGifPutExtensionBlock(gif_, sizeof kLoop, kLoop));
    check(EGifPutExtensionTrailer(gif_));
  }
  ~GifWriter() {  // only reached with the GIF still open after an error: drop the partial file
    if (!gif_) return;
    EGifCloseFile(gif_, nullptr);
    std::error_code ec;
    fs::remove(path_, ec);
  }

  void add_frame(std::vector<std::uint8_t>& gray, int height, int delay) {
    GraphicsControlBlock gcb{DISPOSAL_UNSPECIFIED, false, delay, NO_TRANSPARENT_COLOR};
    GifByteType ext[4];
    const std::size_t n = EGifGCBToExtension(&gcb, ext);
    check(EGifPutExtension(gif_, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(n), ext));
    check(EGifPutImageDesc(gif_, 0, 0, width_, height, false, nullptr));
    for (int y = 0; y < height; ++y) check(EGifPutLine(gif_, gray.data() + std::size_t(y) * width_, width_));
  }

  void close() {
    int err = 0;
    GifFileType* g = gif_;
    gif_ = nullptr;
    if (EGifCloseFile(g, &err) != GIF_OK)
      throw std::runtime_error(path_.string() + ": cannot write GIF: " + GifErrorString(err));
  }

 private:
  void check(int r) const {
    if (r != GIF_OK)
      throw std::runtime_error(path_.string() + ": cannot write GIF: " + GifErrorString(gif_->Error));
  }

  fs::path path_;
  int width_;
  GifFileType* gif_ = nullptr;
};

// The CLI passes a stem without extension; a .png/.gif that does not match the
// kind of data is corrected rather than producing a misnamed file.
fs::path with_extension(fs::path out, const std::string& ext) {
  std::string e = out.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (e == ".png" || e == ".gif")
    out.replace_extension(ext);
  else
    out += ext;
  return out;
}

}  // namespace

std::filesystem::path write_montage(const std::filesystem::path& npz, const std::string& split,
                                    const std::filesystem::path& out, const MontageOptions& options) {
  if (options.length <= 0) throw std::invalid_argument("montage length must be positive");
  const zip::Archive archive(npz);
  zip::MemberReader reader(archive, zip::find_array(archive, split + "_images"));
  const Layout l = layout_of(zip::read_npy_header(reader), reader);
  if (l.count == 0) reader.fail("no images to montage");

  const std::size_t length = static_cast<std::size_t>(options.length);
  const std::size_t k = std::min(l.count, length * length);
  const auto side = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(k))));
  // Sizes come from the file's header: checked before the tiles are allocated.
  const double picture = static_cast<double>(side) * side * static_cast<double>(l.item_bytes());
  if (picture > static_cast<double>(options.max_bytes))
    reader.fail("a " + std::to_string(side) + "x" + std::to_string(side) + " montage of " + std::to_string(l.frames) +
                "x" + std::to_string(l.height) + "x" + std::to_string(l.width) + "x" + std::to_string(l.channels) +
                " samples would take more than " + std::to_string(options.max_bytes >> 20) + " MiB (MontageOptions::max_bytes)");
  const auto samples = read_samples(reader, l, choose_samples(l.count, k, options.seed));
  const int width = static_cast<int>(side * l.width), height = static_cast<int>(side * l.height);

  if (!l.volume) {
    const fs::path png = with_extension(out, ".png");
    auto pixels = montage_frame(samples, l, 0, side);
    write_png(png, pixels, width, height, static_cast<int>(l.channels));
    return png;
  }
  const fs::path gif = with_extension(out, ".gif");
  GifWriter writer(gif, width, height);
  for (std::size_t d = 0; d < l.frames; ++d) {
    auto frame = montage_frame(samples, l, d, side);
    writer.add_frame(frame, height, kGifFrameDelay);
  }
  writer.close();
  return gif;
}

}  // namespace mmb
