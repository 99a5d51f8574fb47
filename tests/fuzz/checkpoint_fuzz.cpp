// libFuzzer target for the checkpoint reader (host/checkpoint_file.cpp, read side): magic, trailer, CRC-32C,
// version, section table. The input (after the first byte) is written to a temporary file and read back; when
// the first byte is odd, its trailer is first rewritten with the right length and CRC-32C, so that the fuzzer
// also reaches the section parsing behind the checksum. Any input must read or throw fasttab::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "host/checkpoint/checkpoint_file.hpp"
#include "host/io/crc32c.hpp"
#include "fasttab/error.hpp"

namespace {
std::string temp_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/fasttab_ckpt_fuzz_" + std::to_string(::getpid()) + ".ckpt";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::string path = temp_path();
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) && bytes.size() >= 12) {
    const std::uint64_t length = bytes.size() - 12;
    std::memcpy(bytes.data() + length, &length, 8);
    const std::uint32_t crc = fasttab::crc32c(bytes.data(), length);
    std::memcpy(bytes.data() + length + 8, &crc, 4);
  }
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), out);
  std::fclose(out);
  try {
    const fasttab::CheckpointFile file = fasttab::read_checkpoint_file(path);
    (void)file;
  } catch (const fasttab::Error&) {
  }
  ::unlink(path.c_str());
  return 0;
}
