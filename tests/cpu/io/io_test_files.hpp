// Helpers for the I/O tests: a temporary directory that cleans itself up, files written from strings (plain and
// gzipped with zlib, independent of the ISA-L reader under test), and the message of an expected error.
#pragma once

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "fasttab/error.hpp"

namespace fasttab::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fasttab_io_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return path;
}

inline std::string write_gzip(const std::string& path, const std::string& text) {
  gzFile out = gzopen(path.c_str(), "wb6");
  gzwrite(out, text.data(), static_cast<unsigned>(text.size()));
  gzclose(out);
  return path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message of the fasttab::Error that `body` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const fasttab::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace fasttab::test
