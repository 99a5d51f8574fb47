// CRC-32C (Castagnoli): the checksum of TFRecord files (TensorBoard event files) and of fasttab checkpoints.
// zlib's crc32 uses the IEEE polynomial and so cannot stand in for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fasttab {

// CRC-32C of bytes [data, data + size), reflected polynomial 0x82F63B78, initial value and final xor
// 0xFFFFFFFF. Continue a checksum over several pieces by passing the previous result as `crc`:
//   crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b).
// Test vector: crc32c("123456789", 9) == 0xE3069283.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);

// The masked form TFRecord stores, so that a CRC over data that itself holds CRCs stays well distributed:
// ((crc >> 15) | (crc << 17)) + 0xa282ead8.
std::uint32_t crc32c_masked(std::uint32_t crc);

}  // namespace fasttab
