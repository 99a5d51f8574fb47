// The checkpoint container: a versioned binary file of named byte sections with a CRC-32C, written
// atomically. It knows nothing of what the sections mean; the trainer stores its weights, optimiser state,
// random state, standardisation statistics and configuration (JSON text) as sections.
// Layout: docs/checkpoint-format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "fasttab/error.hpp"

namespace fasttab {

// The format version this build writes and the only one it reads.
constexpr std::uint32_t kCheckpointFormatVersion = 1;

struct CheckpointSection {
  std::string name;
  std::vector<std::uint8_t> bytes;
};

struct CheckpointFile {
  std::uint32_t format_version = kCheckpointFormatVersion;
  std::vector<CheckpointSection> sections;
  // Where the file was read from (set by read_checkpoint_file), so that errors name it; not stored.
  std::string path;

  // nullptr when there is no section of that name.
  const CheckpointSection* find(const std::string& name) const;
  // Throws Error naming the file, the missing section and the sections present.
  const CheckpointSection& at(const std::string& name) const;
  // Adds a section, or replaces the bytes of the one with that name (keeping its position).
  void put(const std::string& name, const void* data, std::size_t bytes);

  // Raw copies of trivially copyable elements in host byte order (little-endian on every supported host).
  template <class T>
  void put_vector(const std::string& name, const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable<T>::value, "put_vector stores raw bytes: T must be trivially copyable");
    put(name, v.data(), v.size() * sizeof(T));
  }
  // Throws Error when the section's size is not a multiple of sizeof(T).
  template <class T>
  std::vector<T> get_vector(const std::string& name) const {
    static_assert(std::is_trivially_copyable<T>::value, "get_vector reads raw bytes: T must be trivially copyable");
    const CheckpointSection& s = at(name);
    FASTTAB_REQUIRE(s.bytes.size() % sizeof(T) == 0, "checkpoint ", display_path(), ": section \"", name, "\" holds ",
                    s.bytes.size(), " bytes, not a whole number of ", sizeof(T), "-byte elements");
    std::vector<T> v(s.bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), s.bytes.data(), s.bytes.size());
    return v;
  }
  void put_string(const std::string& name, const std::string& s);
  std::string get_string(const std::string& name) const;

  // path, or "(in memory)" for a file not read from disk.
  std::string display_path() const;
};

// Writes atomically: to PATH.tmp.<pid>, fsync, rename over PATH, fsync the directory. A crash (or an error,
// which throws Error) during the write leaves the previous file at PATH intact.
void write_checkpoint_file(const std::string& path, const CheckpointFile& file);

// Reads and verifies magic, checksum, format version and sizes; throws Error otherwise:
//   "checkpoint run.ckpt is not a fasttab checkpoint ..."
//   "checkpoint run.ckpt is corrupted: checksum mismatch ..." (or truncated, or a bad section size)
//   "checkpoint run.ckpt was written by format version 7; this build reads version 1 ..."
CheckpointFile read_checkpoint_file(const std::string& path);

// The same for a checkpoint held in memory (`path` names it in errors; empty: "(in memory)"), and the bytes that
// write_checkpoint_file writes.
CheckpointFile parse_checkpoint_bytes(const std::vector<std::uint8_t>& bytes, const std::string& path);
std::vector<std::uint8_t> checkpoint_bytes(const CheckpointFile& file);

}  // namespace fasttab
