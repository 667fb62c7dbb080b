#pragma once
// Shared by the benchmark programs: run the CLI as a child process, so its
// wall time and peak RSS are measured on their own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/io/files.h"

namespace mmb::bench {

struct CliRun {
  double seconds = 0;      // wall time
  double cpu_seconds = 0;  // user + system time of the child
  long peak_rss_kb = 0;
  long minor_faults = 0;   // page faults served without I/O: fresh pages the process touched
  int exit_code = 0;
};

// Any shell command (stdout to out_file, or discarded), measured as a child process.
inline CliRun run_command(const std::string& command, const std::string& out_file = "/dev/null") {
  const std::string cmd = "exec " + command + " >" + out_file + " 2>/dev/null";
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  CliRun run{std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
             seconds(usage.ru_utime) + seconds(usage.ru_stime), usage.ru_maxrss, usage.ru_minflt,
             WIFEXITED(status) ? WEXITSTATUS(status) : -1};
  if (run.exit_code != 0) std::fprintf(stderr, "exit %d: %s\n", run.exit_code, cmd.c_str());
  return run;
}

// `medmnist-build <args>`, output discarded. Exit code 1 (skipped inputs) is
// reported but not treated as a failure by callers that expect it.
inline CliRun run_cli(const std::string& args) {
  return run_command(std::string(MMB_BUILD_DIR) + "/medmnist-build " + args);
}

// N noisy 1024^2 PNGs (ChestMNIST-sized) in `source`, made by make_bench_images.py unless
// exactly N are already there; empty if the generator failed.
inline std::vector<std::filesystem::path> chest_bench_pngs(const std::filesystem::path& source, int n) {
  namespace fs = std::filesystem;
  auto pngs = fs::exists(source) ? find_files_with_extension(source, {".png"}) : std::vector<fs::path>{};
  if (static_cast<int>(pngs.size()) == n) return pngs;
  fs::remove_all(source);
  const std::string gen = "/usr/bin/python3 " + std::string(MMB_SOURCE_DIR) + "/tools/fixtures/make_bench_images.py " +
                          source.string() + " --count " + std::to_string(n);
  if (std::system(gen.c_str()) != 0) return {};
  return find_files_with_extension(source, {".png"});
}

}  // namespace mmb::bench
