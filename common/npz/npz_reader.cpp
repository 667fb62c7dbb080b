#include "common/npz/npz_reader.h"

#include "common/npz/zip_reader.h"

namespace mmb {

std::vector<std::string> list_npz_keys(const std::filesystem::path& npz) {
  const zip::Archive archive(npz);
  std::vector<std::string> keys;
  for (const zip::Entry& e : archive.entries()) {
    const bool npy = e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".npy") == 0;
    keys.push_back(npy ? e.name.substr(0, e.name.size() - 4) : e.name);
  }
  return keys;
}

NpyArray read_npz_array(const std::filesystem::path& npz, const std::string& key) {
  const zip::Archive archive(npz);
  zip::MemberReader reader(archive, zip::find_array(archive, key));
  const npy::Header h = zip::read_npy_header(reader);
  if (h.fortran_order) reader.fail("Fortran-order arrays are not supported");
  NpyArray a;
  a.descr = h.descr;
  a.shape = h.shape;
  a.data.resize(static_cast<std::size_t>(reader.remaining()));
  reader.read(a.data.data(), a.data.size());
  reader.finish();
  return a;
}

struct NpzArrayStream::Impl {
  zip::Archive archive;
  zip::MemberReader reader;
  npy::Header header;
  Impl(const std::filesystem::path& npz, const std::string& key)
      : archive(npz), reader(archive, zip::find_array(archive, key)), header(zip::read_npy_header(reader)) {
    if (header.fortran_order) reader.fail("Fortran-order arrays are not supported");
  }
};

NpzArrayStream::NpzArrayStream(const std::filesystem::path& npz, const std::string& key)
    : impl_(std::make_unique<Impl>(npz, key)) {}
NpzArrayStream::~NpzArrayStream() = default;
const std::vector<std::size_t>& NpzArrayStream::shape() const { return impl_->header.shape; }
const std::string& NpzArrayStream::descr() const { return impl_->header.descr; }
void NpzArrayStream::read(std::uint8_t* dst, std::size_t n) {
  if (n > impl_->reader.remaining()) impl_->reader.fail("array ends early");
  impl_->reader.read(dst, n);
}
void NpzArrayStream::finish() { impl_->reader.finish(); }

}  // namespace mmb
