#include <doctest/doctest.h>

#include <cstring>

#include "host/io/crc32c.hpp"

TEST_CASE("crc32c: known test vectors") {
  const char* digits = "123456789";
  CHECK(fasttab::crc32c(digits, 9) == 0xE3069283u);
  CHECK(fasttab::crc32c(digits, 0) == 0u);
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, 32 bytes of 0xFF.
  unsigned char zeros[32] = {};
  unsigned char ones[32];
  std::memset(ones, 0xFF, sizeof ones);
  CHECK(fasttab::crc32c(zeros, 32) == 0x8A9136AAu);
  CHECK(fasttab::crc32c(ones, 32) == 0x62A8AB43u);
}

TEST_CASE("crc32c: continues over pieces") {
  const char* digits = "123456789";
  CHECK(fasttab::crc32c(digits + 4, 5, fasttab::crc32c(digits, 4)) == 0xE3069283u);
}

TEST_CASE("crc32c: masked form") {
  const std::uint32_t crc = 0xE3069283u;
  CHECK(fasttab::crc32c_masked(crc) == static_cast<std::uint32_t>(((crc >> 15) | (crc << 17)) + 0xa282ead8u));
}
