// A read-only memory map of a whole file, with the size and modification time that key the table cache.
#pragma once

#include <cstdint>
#include <string>

namespace fasttab {

class MappedFile {
 public:
  // Maps `path`; throws fasttab::Error naming the file when it is missing, unreadable or a directory.
  // An empty file is mapped as size 0 (data() is then nullptr); callers decide whether that is an error.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  std::int64_t size() const { return size_; }
  std::int64_t mtime_ns() const { return mtime_ns_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const char* data_ = nullptr;
  std::int64_t size_ = 0;
  std::int64_t mtime_ns_ = 0;
};

}  // namespace fasttab
