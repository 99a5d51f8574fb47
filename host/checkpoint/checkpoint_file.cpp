#include "host/checkpoint/checkpoint_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "host/io/crc32c.hpp"
#include "host/io/temp_files.hpp"

namespace fasttab {
namespace {

constexpr char kMagic[8] = {'F', 'T', 'C', 'K', 'P', 'T', '\0', '\0'};
// Every format version ends with this trailer: u64 length of everything before it, u32 CRC-32C of it. The
// reader checks it before the version, so that a damaged file is reported as corrupted and a sound file of
// a newer version as such.
constexpr std::size_t kTrailerBytes = 8 + 4;
constexpr std::size_t kHeaderBytes = 8 + 4 + 4;

template <class T>
void append_le(std::vector<std::uint8_t>& out, T value) {  // hosts are little-endian (x86-64, aarch64)
  const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

template <class T>
T load_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string hex32(std::uint32_t v) {
  char s[11];
  std::snprintf(s, sizeof s, "0x%08x", v);
  return s;
}

std::vector<std::uint8_t> serialise(const CheckpointFile& file) {
  std::vector<std::uint8_t> out(kMagic, kMagic + 8);
  append_le<std::uint32_t>(out, file.format_version);
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(file.sections.size()));
  for (const CheckpointSection& s : file.sections) {
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(s.name.size()));
    out.insert(out.end(), s.name.begin(), s.name.end());
    append_le<std::uint64_t>(out, s.bytes.size());
    out.insert(out.end(), s.bytes.begin(), s.bytes.end());
  }
  const std::uint64_t length = out.size();
  append_le<std::uint64_t>(out, length);
  append_le<std::uint32_t>(out, crc32c(out.data(), length));
  return out;
}

[[noreturn]] void fail_io(const std::string& what, const std::string& path, int err) {
  FASTTAB_FAIL("cannot ", what, " ", path, ": ", std::strerror(err));
}

void write_all(int fd, const std::vector<std::uint8_t>& bytes, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io("write checkpoint", path, errno);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

const CheckpointSection* CheckpointFile::find(const std::string& name) const {
  for (const CheckpointSection& s : sections)
    if (s.name == name) return &s;
  return nullptr;
}

const CheckpointSection& CheckpointFile::at(const std::string& name) const {
  if (const CheckpointSection* s = find(name)) return *s;
  std::ostringstream present;
  for (std::size_t i = 0; i < sections.size(); ++i) present << (i ? ", " : "") << '"' << sections[i].name << '"';
  FASTTAB_FAIL("checkpoint ", display_path(), " has no section \"", name, "\" (it holds ",
               sections.empty() ? std::string("no sections") : present.str(), ")");
}

void CheckpointFile::put(const std::string& name, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::vector<std::uint8_t> copy(p, p + bytes);
  for (CheckpointSection& s : sections) {
    if (s.name == name) {
      s.bytes = std::move(copy);
      return;
    }
  }
  sections.push_back({name, std::move(copy)});
}

void CheckpointFile::put_string(const std::string& name, const std::string& s) { put(name, s.data(), s.size()); }

std::string CheckpointFile::get_string(const std::string& name) const {
  const CheckpointSection& s = at(name);
  return std::string(s.bytes.begin(), s.bytes.end());
}

std::string CheckpointFile::display_path() const { return path.empty() ? std::string("(in memory)") : path; }

void write_checkpoint_file(const std::string& path, const CheckpointFile& file) {
  const std::vector<std::uint8_t> bytes = serialise(file);
  remove_stale_temp_files(path);  // left by a writer that was killed mid-write
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_io("create the temporary checkpoint", tmp, errno);
  try {
    write_all(fd, bytes, tmp);
    if (::fsync(fd) != 0) fail_io("fsync checkpoint", tmp, errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail_io("close checkpoint", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail_io("rename the temporary checkpoint over", path, err);
  }
  // The rename is durable only once the directory entry is on disk.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail_io("open the checkpoint directory", dir, errno);
  const int rc = ::fsync(dir_fd);
  const int err = errno;
  ::close(dir_fd);
  if (rc != 0) fail_io("fsync the checkpoint directory", dir, err);
}

CheckpointFile read_checkpoint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("open checkpoint", path, errno);
  const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  FASTTAB_REQUIRE(!in.bad(), "cannot read checkpoint ", path);
  return parse_checkpoint_bytes(data, path);
}

std::vector<std::uint8_t> checkpoint_bytes(const CheckpointFile& file) { return serialise(file); }

CheckpointFile parse_checkpoint_bytes(const std::vector<std::uint8_t>& data, const std::string& path) {
  const std::size_t size = data.size();
  const std::string where = "checkpoint " + (path.empty() ? std::string("(in memory)") : path);

  // Magic first: a file that is something else entirely deserves a different message from a damaged one.
  FASTTAB_REQUIRE(size > 0, where, " is not a fasttab checkpoint (it is empty)");
  const std::size_t magic_seen = std::min<std::size_t>(size, 8);
  FASTTAB_REQUIRE(std::memcmp(data.data(), kMagic, magic_seen) == 0, where,
                  " is not a fasttab checkpoint (it does not start with \"FTCKPT\")");
  FASTTAB_REQUIRE(size >= kHeaderBytes + kTrailerBytes, where, " is corrupted: truncated to ", size,
                  " bytes (an empty checkpoint has ", kHeaderBytes + kTrailerBytes, ")");

  const std::uint64_t recorded = load_le<std::uint64_t>(data.data() + size - kTrailerBytes);
  FASTTAB_REQUIRE(recorded == size - kTrailerBytes, where, " is corrupted: the file is ", size,
                  " bytes but its trailer records ", recorded, " + ", kTrailerBytes,
                  " (truncated or appended to); restore it from a backup or train again");
  const std::uint32_t stored = load_le<std::uint32_t>(data.data() + size - 4);
  const std::uint32_t computed = crc32c(data.data(), recorded);
  FASTTAB_REQUIRE(stored == computed, where, " is corrupted: checksum mismatch (stored ", hex32(stored),
                  ", computed ", hex32(computed), "); restore it from a backup or train again");

  CheckpointFile file;
  file.path = path;
  file.format_version = load_le<std::uint32_t>(data.data() + 8);
  FASTTAB_REQUIRE(file.format_version == kCheckpointFormatVersion, where, " was written by format version ",
                  file.format_version, "; this build reads version ", kCheckpointFormatVersion,
                  " (use the fasttab build that wrote it)");
  const std::uint32_t count = load_le<std::uint32_t>(data.data() + 12);

  // The checksum passed, so a bad size here means a writer bug or a crafted file; still never read past the end.
  std::size_t at = kHeaderBytes;
  const std::size_t end = recorded;
  auto need = [&](std::uint64_t bytes, const char* what, std::uint32_t index) {
    FASTTAB_REQUIRE(bytes <= end - at, where, " is corrupted: section ", index, "'s ", what, " (", bytes,
                    " bytes) runs past the end of the data");
  };
  std::set<std::string> seen;  // not file.find: a crafted file of a million empty sections must not take O(n^2)
  for (std::uint32_t i = 0; i < count; ++i) {
    need(4, "name length", i);
    const std::uint32_t name_length = load_le<std::uint32_t>(data.data() + at);
    at += 4;
    need(name_length, "name", i);
    std::string name(reinterpret_cast<const char*>(data.data() + at), name_length);
    at += name_length;
    need(8, "byte length", i);
    const std::uint64_t byte_length = load_le<std::uint64_t>(data.data() + at);
    at += 8;
    need(byte_length, "bytes", i);
    FASTTAB_REQUIRE(seen.insert(name).second, where, " is corrupted: section \"", name, "\" appears twice");
    file.sections.push_back({std::move(name), std::vector<std::uint8_t>(data.begin() + at, data.begin() + at + byte_length)});
    at += byte_length;
  }
  FASTTAB_REQUIRE(at == end, where, " is corrupted: ", end - at, " bytes follow the last of its ", count, " sections");
  return file;
}

}  // namespace fasttab
