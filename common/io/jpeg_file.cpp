#include "common/io/jpeg_file.h"

#include <csetjmp>
#include <cstdio>
#include <stdexcept>

#include <jpeglib.h>

#include "common/core/decoder_warnings.h"

namespace mmb {
namespace {

// libjpeg's error manager, extended: error_exit jumps back to decode_jpeg (libjpeg is C,
// an exception must not unwind through it), emit_message keeps warnings.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// msg_level -1 is a warning (libjpeg.txt, "Error handling"); levels >= 0 are trace
// messages, which libjpeg only emits when asked to.
extern "C" void on_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level != -1) return;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  ++cinfo->err->num_warnings;
  add_decoder_warning(std::string("libjpeg: ") + text);
}

// The libjpeg calls, with no C++ object of their own between setjmp and longjmp.
// Returns 0 when decoded, 1 on a libjpeg error, 2 for a colour space left to OpenCV.
int run_decoder(jpeg_decompress_struct& cinfo, ErrorManager& err, std::span<const unsigned char> bytes, Image& out) {
  if (setjmp(err.jump)) return 1;
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) return 2;
  const bool gray = cinfo.num_components == 1;
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int channels = gray ? 1 : 3;
  if (out.width != static_cast<int>(cinfo.output_width) || out.height != static_cast<int>(cinfo.output_height) ||
      out.channels != channels || out.depth != 1)
    out = Image(static_cast<int>(cinfo.output_width), static_cast<int>(cinfo.output_height), 1, channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.ptr(0, static_cast<int>(cinfo.output_scanline));
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  return 0;
}

}  // namespace

bool decode_jpeg(std::span<const unsigned char> bytes, Image& out) {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  jpeg_create_decompress(&cinfo);
  const int status = run_decoder(cinfo, err, bytes, out);
  jpeg_destroy_decompress(&cinfo);
  if (status == 1) throw std::runtime_error(std::string("libjpeg: ") + err.message);
  return status == 0;
}

}  // namespace mmb
