#pragma once
// Shared by the benchmark programs: run the CLI as a child process, so its
// wall time and peak RSS are measured on their own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace mmb::bench {

struct CliRun {
  double seconds = 0;      // wall time
  double cpu_seconds = 0;  // user + system time of the child
  long peak_rss_kb = 0;
  int exit_code = 0;
};

// `medmnist-build <args>`, output discarded. Exit code 1 (skipped inputs) is
// reported but not treated as a failure by callers that expect it.
inline CliRun run_cli(const std::string& args) {
  const std::string cmd = std::string(MMB_BUILD_DIR) + "/medmnist-build " + args + " >/dev/null 2>&1";
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
             seconds(usage.ru_utime) + seconds(usage.ru_stime), usage.ru_maxrss,
             WIFEXITED(status) ? WEXITSTATUS(status) : -1};
  if (run.exit_code != 0) std::fprintf(stderr, "exit %d: %s\n", run.exit_code, cmd.c_str());
  return run;
}

}  // namespace mmb::bench
