// Reads the event file back with a decoder written here from the format description (bitwise CRC-32C, a
// minimal protobuf reader), independent of the writer's code.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fasttab/error.hpp"
#include "tools/report/tensorboard.hpp"

namespace {

std::uint32_t bitwise_crc32c(const std::uint8_t* p, std::size_t n) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

template <class T>
T read_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One protobuf field: number, wire type, and either the integer/fixed bits or the bytes.
struct Field {
  int number;
  int wire_type;
  std::uint64_t bits = 0;
  std::string bytes;
};

std::vector<Field> parse_message(const std::string& msg) {
  std::vector<Field> fields;
  std::size_t i = 0;
  auto varint = [&]() {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      REQUIRE(i < msg.size());
      const auto b = static_cast<std::uint8_t>(msg[i++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < msg.size()) {
    const std::uint64_t key = varint();
    Field f{static_cast<int>(key >> 3), static_cast<int>(key & 7), 0, {}};
    const auto* p = reinterpret_cast<const std::uint8_t*>(msg.data());
    if (f.wire_type == 0) {
      f.bits = varint();
    } else if (f.wire_type == 1) {
      REQUIRE(i + 8 <= msg.size());
      f.bits = read_le<std::uint64_t>(p + i);
      i += 8;
    } else if (f.wire_type == 5) {
      REQUIRE(i + 4 <= msg.size());
      f.bits = read_le<std::uint32_t>(p + i);
      i += 4;
    } else {
      REQUIRE(f.wire_type == 2);
      const std::uint64_t n = varint();
      REQUIRE(i + n <= msg.size());
      f.bytes = msg.substr(i, n);
      i += n;
    }
    fields.push_back(f);
  }
  return fields;
}

std::vector<std::string> read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const std::uint8_t*>(file.data());
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < file.size()) {
    REQUIRE(at + 12 <= file.size());
    const auto length = read_le<std::uint64_t>(p + at);
    CHECK(read_le<std::uint32_t>(p + at + 8) == masked(bitwise_crc32c(p + at, 8)));
    REQUIRE(at + 12 + length + 4 <= file.size());
    CHECK(read_le<std::uint32_t>(p + at + 12 + length) == masked(bitwise_crc32c(p + at + 12, length)));
    records.push_back(file.substr(at + 12, length));
    at += 12 + length + 4;
  }
  return records;
}

double as_double(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

float as_float(std::uint64_t bits) {
  const auto b = static_cast<std::uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("fasttab_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace

TEST_CASE("tensorboard: decoder's CRC-32C matches the known vector") {
  CHECK(bitwise_crc32c(reinterpret_cast<const std::uint8_t*>("123456789"), 9) == 0xE3069283u);
}

TEST_CASE("tensorboard: event file records decode to the scalars written") {
  const auto dir = fresh_dir("tensorboard") / "nested" / "run";
  std::filesystem::create_directories(dir.parent_path());  // only the last component is made by the writer
  std::string path;
  {
    fasttab::TensorBoardWriter writer(dir.string());
    path = writer.path();
    const std::string name = std::filesystem::path(path).filename().string();
    CHECK(name.rfind("events.out.tfevents.", 0) == 0);
    CHECK(name.size() > 8);
    CHECK(name.substr(name.size() - 8) == ".fasttab");
    CHECK(std::filesystem::path(path).parent_path() == dir);
    writer.add_scalar("train/loss", 0.6931f, 0, 1700000000.25);
    writer.add_scalar("test/auc", 0.8125f, 300, 1700000001.5);
    writer.add_scalar("train/loss", -2.5f, 1234567890123LL, 1700000002.0);
    writer.flush();
    CHECK(read_records(path).size() == 4);  // visible after flush, before close
  }
  const auto records = read_records(path);
  REQUIRE(records.size() == 4);

  // First record: wall_time (1, fixed64), step (2, varint), file_version (3, bytes).
  const auto first = parse_message(records[0]);
  REQUIRE(first.size() == 3);
  CHECK(first[0].number == 1);
  CHECK(first[0].wire_type == 1);
  CHECK(as_double(first[0].bits) > 1.6e9);
  CHECK(first[1].number == 2);
  CHECK(first[1].wire_type == 0);
  CHECK(first[1].bits == 0);
  CHECK(first[2].number == 3);
  CHECK(first[2].wire_type == 2);
  CHECK(first[2].bytes == "brain.Event:2");

  struct Expected {
    const char* tag;
    float value;
    std::int64_t step;
    double wall;
  };
  const Expected expected[] = {{"train/loss", 0.6931f, 0, 1700000000.25},
                               {"test/auc", 0.8125f, 300, 1700000001.5},
                               {"train/loss", -2.5f, 1234567890123LL, 1700000002.0}};
  for (int r = 0; r < 3; ++r) {
    CAPTURE(r);
    const auto event = parse_message(records[r + 1]);
    REQUIRE(event.size() == 3);
    CHECK(event[0].number == 1);
    CHECK(event[0].wire_type == 1);
    CHECK(as_double(event[0].bits) == expected[r].wall);
    CHECK(event[1].number == 2);
    CHECK(event[1].wire_type == 0);
    CHECK(static_cast<std::int64_t>(event[1].bits) == expected[r].step);
    CHECK(event[2].number == 5);
    REQUIRE(event[2].wire_type == 2);
    const auto summary = parse_message(event[2].bytes);
    REQUIRE(summary.size() == 1);
    CHECK(summary[0].number == 1);
    REQUIRE(summary[0].wire_type == 2);
    const auto value = parse_message(summary[0].bytes);
    REQUIRE(value.size() == 2);
    CHECK(value[0].number == 1);
    CHECK(value[0].wire_type == 2);
    CHECK(value[0].bytes == expected[r].tag);
    CHECK(value[1].number == 2);
    CHECK(value[1].wire_type == 5);
    CHECK(as_float(value[1].bits) == expected[r].value);
  }
  std::filesystem::remove_all(dir.parent_path().parent_path());
}

TEST_CASE("tensorboard: unwritable log directory is a clear error") {
  const auto dir = fresh_dir("tensorboard_blocked");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "file") << "x";
  CHECK_THROWS_WITH_AS(fasttab::TensorBoardWriter((dir / "file" / "run").string()),
                       doctest::Contains("cannot create the TensorBoard log directory"), fasttab::Error);
  std::filesystem::remove_all(dir);
}
