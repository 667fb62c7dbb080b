#include "common/pipeline/sidecar.h"

#include "common/pipeline/json_text.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace fs = std::filesystem;

namespace mmb {

namespace {

// One OpenSSL digest, fed by `feed`, as lower-case hex.
template <class Feed>
std::string hex_digest(const EVP_MD* md, Feed feed) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  feed([&](const void* data, std::size_t size) { EVP_DigestUpdate(ctx.get(), data, size); });
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::ostringstream hex;
  for (unsigned i = 0; i < length; ++i) hex << std::hex << std::setw(2) << std::setfill('0') << int(digest[i]);
  return hex.str();
}

std::string hex_digest_of_file(const EVP_MD* md, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open for hashing");
  return hex_digest(md, [&](auto update) {
    std::vector<char> buffer(1 << 20);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
  });
}

}  // namespace

std::string sha256_file(const fs::path& file) { return hex_digest_of_file(EVP_sha256(), file); }

std::string md5_file(const fs::path& file) { return hex_digest_of_file(EVP_md5(), file); }

std::string sha256_hex(const std::string& text) {
  return hex_digest(EVP_sha256(), [&](auto update) { update(text.data(), text.size()); });
}

void write_json_atomically(const fs::path& file, const nlohmann::ordered_json& doc) {
  const fs::path temp = file.string() + ".partial-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << dump_json(doc, 1) << '\n';
    if (!out) throw std::runtime_error(temp.string() + ": cannot write");
  }
  fs::rename(temp, file);
}

}  // namespace mmb
