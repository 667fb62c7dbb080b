#include "common/io/jpeg_fast.h"

#include <csetjmp>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jpeglib.h>

#include "common/io/image_file.h"

namespace mmb {
namespace {

// libjpeg reports errors through error_exit, which must not return: it jumps
// back to decode_jpeg_fast, which declines the file. Messages are not printed
// (OpenCV, which then decodes the file, reports what it finds).
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

[[noreturn]] void jump_back(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1); }
void no_output(j_common_ptr) {}

}  // namespace

bool decode_jpeg_fast(std::span<const unsigned char> jpeg, Image& out) {
  if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 || jpeg[2] != 0xFF) return false;
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jump_back;
  err.pub.output_message = no_output;
  // Only cinfo, err (whose addresses libjpeg holds) and `out` (not local) are
  // used after a jump, as setjmp requires.
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, jpeg.data(), static_cast<unsigned long>(jpeg.size()));
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (cinfo.num_components == 3 && cinfo.jpeg_color_space == JCS_YCbCr) {
    cinfo.out_color_space = JCS_RGB;
  } else if (cinfo.num_components == 1 && cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // The header's size within read_image_file's limits (it checks them before
  // decoding; this keeps a direct caller from allocating for a hostile header).
  if (std::uint64_t{cinfo.image_width} * cinfo.image_height > ImageLimits{}.max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const int channels = cinfo.output_components;
  out = Image(static_cast<int>(cinfo.output_width), static_cast<int>(cinfo.output_height), 1, channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.ptr(0, static_cast<int>(cinfo.output_scanline));
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
  }
  const bool complete = cinfo.output_scanline == cinfo.output_height;
  if (complete) jpeg_finish_decompress(&cinfo);
  const long warnings = err.pub.num_warnings;  // e.g. "premature end of data segment"
  jpeg_destroy_decompress(&cinfo);
  return complete && warnings == 0;
}

}  // namespace mmb
