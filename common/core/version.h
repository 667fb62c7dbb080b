#pragma once
// The tool's version and, when built from a git checkout, its commit: for --version and the
// sidecars. The commit is read at configure time (CMakeLists.txt), "unknown" outside git.
namespace mmb {

const char* tool_version();
const char* git_commit();

}  // namespace mmb
