#include "common/pipeline/output_commit.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "common/core/fd_io.h"
#include "common/pipeline/json_text.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

constexpr const char* kJournalPrefix = ".medmnist-commit-";

[[noreturn]] void fail(const fs::path& path, const std::string& what, int err = errno) {
  throw std::runtime_error(path.string() + ": " + what + ": " + std::strerror(err));
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some filesystems cannot open a folder for fsync; the renames still happened
  (void)::fsync(fd);
  ::close(fd);
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw std::runtime_error(to.string() + ": cannot rename " + from.string() + " into place: " + ec.message());
}

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

fs::path journal_path(const fs::path& dir) { return dir / (kJournalPrefix + std::to_string(::getpid()) + ".json"); }

// The pid in ".medmnist-commit-<pid>.json" or "<name>.partial-<pid>", else -1.
long pid_in(const std::string& name) {
  static const std::regex journal(R"(^\.medmnist-commit-(\d+)\.json$)"), partial(R"(\.partial-(\d+)$)");
  std::smatch m;
  if (std::regex_match(name, m, journal) || std::regex_search(name, m, partial)) return std::stol(m[1]);
  return -1;
}

}  // namespace

fs::path partial_path(const fs::path& file) { return file.string() + ".partial-" + std::to_string(::getpid()); }

void write_json_durably(const fs::path& file, const nlohmann::ordered_json& doc) {
  const std::string text = dump_json(doc, 1) + '\n';
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(file, "cannot create");
  const bool written = write_fully(fd, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  const int write_errno = errno;
  const bool synced = written && ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  const int close_errno = errno;
  if (written && synced && closed) return;
  std::error_code ec;
  fs::remove(file, ec);
  if (!written) fail(file, "cannot write", write_errno);
  if (!synced) fail(file, "cannot fsync", sync_errno);
  fail(file, "cannot close", close_errno);
}

void create_output_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir.string() + ": cannot create the output folder: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(dir.string() + ": the output folder is not a folder");
}

OutputSet::~OutputSet() {
  if (!done_) abort();
}

void OutputSet::add(fs::path temp, fs::path final_path) { archives_.emplace_back(std::move(temp), std::move(final_path)); }

void OutputSet::add_sidecar(fs::path temp, fs::path final_path) {
  sidecars_.emplace_back(std::move(temp), std::move(final_path));
}

void OutputSet::commit() {
  if (archives_.empty() && sidecars_.empty()) return void(done_ = true);
  const fs::path dir = (archives_.empty() ? sidecars_ : archives_).front().second.parent_path();
  nlohmann::ordered_json journal;
  journal["renames"] = nlohmann::ordered_json::array();
  for (const auto* list : {&archives_, &sidecars_})
    for (const auto& [temp, final_path] : *list)
      journal["renames"].push_back({{"from", temp.string()}, {"to", final_path.string()}});
  const fs::path journal_file = journal_path(dir);
  write_json_durably(journal_file, journal);
  fsync_directory(dir);
  // From here on the set is committed: a crash is finished by recover_output_dir().
  for (const auto* list : {&archives_, &sidecars_})
    for (const auto& [temp, final_path] : *list) rename_or_throw(temp, final_path);
  fsync_directory(dir);
  std::error_code ec;
  fs::remove(journal_file, ec);
  done_ = true;
}

void OutputSet::abort() noexcept {
  std::error_code ec;
  for (const auto* list : {&archives_, &sidecars_})
    for (const auto& entry : *list) fs::remove(entry.first, ec);
  done_ = true;
}

std::vector<std::string> recover_output_dir(const fs::path& dir) {
  std::vector<std::string> done;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return done;
  std::vector<fs::path> journals, partials;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const long pid = pid_in(name);
    if (pid < 0 || pid == ::getpid() || process_alive(pid)) continue;
    (name.rfind(kJournalPrefix, 0) == 0 ? journals : partials).push_back(entry.path());
  }
  for (const auto& journal : journals) {
    std::ifstream in(journal);
    const auto doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.contains("renames")) {  // died while writing it: nothing was renamed
      fs::remove(journal, ec);
      continue;
    }
    std::size_t finished = 0;
    for (const auto& r : doc["renames"]) {
      const fs::path from = r["from"].get<std::string>(), to = r["to"].get<std::string>();
      if (!fs::exists(from, ec)) continue;
      rename_or_throw(from, to);
      ++finished;
    }
    fsync_directory(dir);
    fs::remove(journal, ec);
    done.push_back("finished the interrupted commit of " + journal.filename().string() + " (" +
                   std::to_string(finished) + " files renamed into place)");
  }
  std::sort(partials.begin(), partials.end());
  for (const auto& p : partials) {
    if (!fs::exists(p, ec)) continue;  // renamed by a journal above
    fs::remove(p, ec);
    if (!ec) done.push_back("removed " + p.string() + ", left by a process that is gone");
  }
  return done;
}

}  // namespace mmb
