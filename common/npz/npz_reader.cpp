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

}  // namespace mmb
