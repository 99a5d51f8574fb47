// What the tests of the command-line tools share: a temporary directory of this process, text files, and running
// a built tool (build/train, build/predict) under a time limit with its output captured.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace fasttab::test {

// The directory <tmp>/<prefix><pid>, made on first use and removed when the test executable exits.
inline std::filesystem::path process_temp_dir(const std::string& prefix) {
  struct TempDir {
    std::filesystem::path path;
    explicit TempDir(std::filesystem::path p) : path(std::move(p)) { std::filesystem::create_directories(path); }
    ~TempDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static std::map<std::string, TempDir> dirs;  // one per prefix: each test file keeps its own files
  auto it = dirs.find(prefix);
  if (it == dirs.end())
    it = dirs.try_emplace(prefix, std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()))).first;
  return it->second.path;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Runs build/<tool> <args> in `dir` for at most 120 s (a hang ends with exit 124); returns its exit status and
// its output (stdout and stderr together) in *output.
inline int run_tool_in(const std::filesystem::path& dir, const std::string& tool, const std::string& args,
                       std::string* output) {
  const std::filesystem::path log = dir / "tool.log";
  const std::string command = "cd " + dir.string() + " && timeout 120 " + std::string(FASTTAB_BINARY_DIR) + "/" +
                              tool + " " + args + " > " + log.string() + " 2>&1";
  const int rc = std::system(command.c_str());
  *output = read_text(log);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

}  // namespace fasttab::test
