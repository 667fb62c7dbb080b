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

// Grid geometry: cols x rows cells of the tile size, `border` pixels around and between them.
struct Grid {
  std::size_t cols = 1, rows = 1, border = 0;
  std::size_t width(const Layout& l) const { return cols * (l.width + border) + border; }
  std::size_t height(const Layout& l) const { return rows * (l.height + border) + border; }
};

// ceil(sqrt(k)) columns (a square for k = length^2, like skimage.util.montage) and only the
// rows the samples fill: no empty rows when a split has fewer samples than cells.
Grid grid_for(std::size_t k, std::size_t border) {
  Grid g;
  g.cols = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(k)))));
  g.rows = std::max<std::size_t>(1, (k + g.cols - 1) / g.cols);
  g.border = border;
  return g;
}

// One montage picture like skimage.util.montage: tiles row-major on the grid, the cells past
// the last sample (only in the last row) filled with the per-channel mean truncated to uint8;
// borders white.
std::vector<std::uint8_t> montage_frame(const std::vector<std::vector<std::uint8_t>>& samples,
                                        const Layout& l, std::size_t frame, const Grid& g) {
  const std::size_t c = l.channels, row_bytes = l.width * c, out_row = g.width(l) * c;
  std::vector<std::uint64_t> sum(c, 0);
  for (const auto& s : samples) {
    const std::uint8_t* p = s.data() + frame * l.frame_bytes();
    for (std::size_t i = 0; i < l.frame_bytes(); ++i) sum[i % c] += p[i];
  }
  std::vector<std::uint8_t> out(g.height(l) * out_row, 255);
  const double pixels = static_cast<double>(samples.size() * l.height * l.width);
  for (std::size_t t = 0; t < g.cols * g.rows; ++t) {
    const std::size_t x0 = g.border + (t % g.cols) * (l.width + g.border);
    const std::size_t y0 = g.border + (t / g.cols) * (l.height + g.border);
    std::uint8_t* dst = out.data() + y0 * out_row + x0 * c;
    if (t < samples.size()) {
      const std::uint8_t* src = samples[t].data() + frame * l.frame_bytes();
      for (std::size_t y = 0; y < l.height; ++y) std::copy_n(src + y * row_bytes, row_bytes, dst + y * out_row);
    } else {
      for (std::size_t y = 0; y < l.height; ++y)
        for (std::size_t i = 0; i < row_bytes; ++i)
          dst[y * out_row + i] = static_cast<std::uint8_t>(static_cast<double>(sum[i % c]) / pixels);
    }
  }
  return out;
}

// The label text of one sample: its class index, or for multi-label rows (ChestMNIST) the
// indices of the positive labels joined by ',' ("-" for none).
std::string label_text(const std::vector<std::uint8_t>& row) {
  if (row.size() == 1) return std::to_string(row[0]);
  std::string text;
  for (std::size_t i = 0; i < row.size(); ++i)
    if (row[i]) text += (text.empty() ? "" : ",") + std::to_string(i);
  return text.empty() ? "-" : text;
}

// Draws each label in the top-left corner of its cell: white text on a black outline, readable
// on any tile.
void draw_labels(std::vector<std::uint8_t>& pixels, const Layout& l, const Grid& g,
                 const std::vector<std::string>& labels) {
  cv::Mat m(static_cast<int>(g.height(l)), static_cast<int>(g.width(l)), CV_8UC(static_cast<int>(l.channels)),
            pixels.data());
  const double scale = std::max(0.5, static_cast<double>(l.height) / 56.0);
  const cv::Scalar white = cv::Scalar::all(255), black = cv::Scalar::all(0);
  for (std::size_t t = 0; t < labels.size(); ++t) {
    const int x0 = static_cast<int>(g.border + (t % g.cols) * (l.width + g.border));
    const int y0 = static_cast<int>(g.border + (t / g.cols) * (l.height + g.border));
    int baseline = 0;
    const cv::Size size = cv::getTextSize(labels[t], cv::FONT_HERSHEY_PLAIN, scale, 1, &baseline);
    const cv::Point origin(x0 + 2, y0 + 2 + size.height);
    // Clip to the cell so long multi-label texts never spill into a neighbour.
    cv::Mat cell = m(cv::Rect(x0, y0, static_cast<int>(l.width), static_cast<int>(l.height)));
    const cv::Point local(origin.x - x0, origin.y - y0);
    cv::putText(cell, labels[t], local, cv::FONT_HERSHEY_PLAIN, scale, black, 2, cv::LINE_AA);
    cv::putText(cell, labels[t], local, cv::FONT_HERSHEY_PLAIN, scale, white, 1, cv::LINE_AA);
  }
}

// PNG or JPEG, as the extension of `out` says (OpenCV picks the encoder by extension).
void write_image(const fs::path& out, std::vector<std::uint8_t>& pixels, int width, int height, int channels) {
  cv::Mat m(height, width, CV_8UC(channels), pixels.data());
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_RGB2BGR);  // OpenCV writes BGR
  bool ok = false;
  try {
    ok = cv::imwrite(out.string(), m);
  } catch (const cv::Exception& e) {
    throw std::runtime_error(out.string() + ": cannot write image: " + e.what());
  }
  if (!ok) throw std::runtime_error(out.string() + ": cannot write image");
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

// The output name: the format its extension asks for, or the default one appended.
fs::path output_path(fs::path out, bool volume) {
  std::string e = out.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const bool raster = e == ".png" || e == ".jpg" || e == ".jpeg";
  if (volume && raster)
    throw MontageUsageError(out.string() + ": a 3D montage is an animated GIF of slices; name it .gif");
  if (!volume && e == ".gif")
    throw MontageUsageError(out.string() + ": a 2D montage is written as .png, .jpg or .jpeg");
  if ((volume && e == ".gif") || (!volume && raster)) return out;
  out += volume ? ".gif" : ".png";
  return out;
}

}  // namespace

std::filesystem::path write_montage(const std::filesystem::path& npz, const std::string& split,
                                    const std::filesystem::path& out, const MontageOptions& options) {
  if (options.length <= 0) throw MontageUsageError("montage length must be positive");
  if (options.border < 0 || options.border > 64) throw MontageUsageError("montage border must be 0 to 64 pixels");
  const zip::Archive archive(npz);
  zip::MemberReader reader(archive, zip::find_array(archive, split + "_images"));
  const Layout l = layout_of(zip::read_npy_header(reader), reader);
  if (l.count == 0) reader.fail("no images to montage");
  const fs::path path = output_path(out, l.volume);

  const std::size_t length = static_cast<std::size_t>(options.length);
  const std::size_t k = std::min(l.count, length * length);
  const Grid g = grid_for(k, static_cast<std::size_t>(options.border));
  // Sizes come from the file's header: checked before the tiles are allocated.
  const double picture = static_cast<double>(g.width(l)) * static_cast<double>(g.height(l)) *
                         static_cast<double>(l.channels) * static_cast<double>(l.frames);
  if (picture > static_cast<double>(options.max_bytes))
    reader.fail("a " + std::to_string(g.cols) + "x" + std::to_string(g.rows) + " montage of " + std::to_string(l.frames) +
                "x" + std::to_string(l.height) + "x" + std::to_string(l.width) + "x" + std::to_string(l.channels) +
                " samples would take more than the limit of " + std::to_string(options.max_bytes) +
                " bytes (--limit montage_bytes)");
  const auto chosen = choose_samples(l.count, k, options.seed);
  const auto samples = read_samples(reader, l, chosen);
  std::vector<std::string> labels;
  if (options.labels) {
    zip::MemberReader label_reader(archive, zip::find_array(archive, split + "_labels"));
    const npy::Header h = zip::read_npy_header(label_reader);
    if (h.item_bytes != 1 || h.shape.empty() || h.shape[0] != l.count || h.fortran_order)
      label_reader.fail("labels must be uint8 with one row per image");
    Layout rows{h.shape[0], 1, 1, 1, 1, false};  // one "pixel" per sample, a channel per label
    for (std::size_t d = 1; d < h.shape.size(); ++d) rows.channels *= h.shape[d];
    for (const auto& row : read_samples(label_reader, rows, chosen)) labels.push_back(label_text(row));
  }
  const int width = static_cast<int>(g.width(l)), height = static_cast<int>(g.height(l));

  if (!l.volume) {
    auto pixels = montage_frame(samples, l, 0, g);
    if (options.labels) draw_labels(pixels, l, g, labels);
    write_image(path, pixels, width, height, static_cast<int>(l.channels));
    return path;
  }
  GifWriter writer(path, width, height);
  for (std::size_t d = 0; d < l.frames; ++d) {
    auto frame = montage_frame(samples, l, d, g);
    if (options.labels) draw_labels(frame, l, g, labels);
    writer.add_frame(frame, height, kGifFrameDelay);
  }
  writer.close();
  return path;
}

}  // namespace mmb
