// MappedFile: open + fstat + mmap, with MADV_SEQUENTIAL because every loader reads the file front to back.
#include "host/io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fasttab/error.hpp"

namespace fasttab {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // stat() before open(): opening a FIFO with no writer would block for ever. O_NONBLOCK covers a path that
  // turns into one in between; it changes nothing for a regular file.
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) {
    const int err = errno;
    if (err == ENOENT) FASTTAB_FAIL(path, ": no such file (check the --data path)");
    FASTTAB_FAIL(path, ": cannot stat: ", std::strerror(err));
  }
  if (!S_ISREG(before.st_mode)) {
    FASTTAB_FAIL(path, ": not a regular file (give the path of a .csv, .csv.gz or .npy file)");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) FASTTAB_FAIL(path, ": no such file (check the --data path)");
    FASTTAB_FAIL(path, ": cannot open for reading: ", std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    FASTTAB_FAIL(path, ": cannot stat: ", std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    FASTTAB_FAIL(path, ": not a regular file (give the path of a .csv, .csv.gz or .npy file)");
  }
  size_ = st.st_size;
  mtime_ns_ = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (size_ > 0) {
    void* map = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      FASTTAB_FAIL(path, ": cannot map into memory: ", std::strerror(err));
    }
    ::madvise(map, static_cast<std::size_t>(size_), MADV_SEQUENTIAL);
    data_ = static_cast<const char*>(map);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), static_cast<std::size_t>(size_));
}

}  // namespace fasttab
