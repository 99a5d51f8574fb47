// CRC-32C through ISA-L's crc32_iscsi (hardware CRC32 instructions where the CPU has them). ISA-L takes the
// register as it is and returns it without the final xor, so the standard CRC-32C of a buffer continued from
// `crc` is ~crc32_iscsi(buffer, ~crc); the test vectors in tests/cpu/test_crc32c.cpp pin that convention.
#include "host/io/crc32c.hpp"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace fasttab {

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));  // ISA-L's signature lacks const; it only reads
  std::uint32_t reg = ~crc;
  while (size > 0) {  // its length is an int: pieces of at most 1 GiB
    const std::size_t piece = std::min<std::size_t>(size, std::size_t{1} << 30);
    reg = crc32_iscsi(p, static_cast<int>(piece), reg);
    p += piece;
    size -= piece;
  }
  return ~reg;
}

std::uint32_t crc32c_masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace fasttab
