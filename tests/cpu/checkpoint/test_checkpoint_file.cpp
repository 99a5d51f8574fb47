#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "host/checkpoint/checkpoint_file.hpp"
#include "host/io/crc32c.hpp"
#include "fasttab/error.hpp"

namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("fasttab_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<std::uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

fasttab::CheckpointFile sample() {
  fasttab::CheckpointFile f;
  f.put_vector<float>("weights", {1.5f, -2.25f, 3.0f});
  f.put_string("config", R"({"epochs": 10})");
  f.put_vector<std::uint64_t>("rng", {0x0123456789abcdefULL});
  f.put("empty", nullptr, 0);
  return f;
}

}  // namespace

TEST_CASE("checkpoint_file: round trip") {
  const auto dir = fresh_dir("ckpt_roundtrip");
  const std::string path = (dir / "run.ckpt").string();
  fasttab::write_checkpoint_file(path, sample());
  CHECK_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));
  const fasttab::CheckpointFile back = fasttab::read_checkpoint_file(path);
  CHECK(back.format_version == 1);
  CHECK(back.path == path);
  REQUIRE(back.sections.size() == 4);
  CHECK(back.sections[0].name == "weights");
  CHECK(back.get_vector<float>("weights") == std::vector<float>{1.5f, -2.25f, 3.0f});
  CHECK(back.get_string("config") == R"({"epochs": 10})");
  CHECK(back.get_vector<std::uint64_t>("rng") == std::vector<std::uint64_t>{0x0123456789abcdefULL});
  CHECK(back.at("empty").bytes.empty());
  CHECK(back.find("missing") == nullptr);
  CHECK_THROWS_WITH_AS(back.at("optimizer"), doctest::Contains("has no section \"optimizer\""), fasttab::Error);
  CHECK_THROWS_WITH_AS(back.at("optimizer"), doctest::Contains(path.c_str()), fasttab::Error);
  CHECK_THROWS_WITH_AS(back.get_vector<double>("weights"), doctest::Contains("not a whole number"), fasttab::Error);

  // Layout as documented: magic, version 1, 4 sections, ..., trailer length and CRC-32C.
  const auto bytes = slurp(path);
  REQUIRE(bytes.size() > 28);
  CHECK(std::string(bytes.begin(), bytes.begin() + 8) == std::string("FTCKPT\0\0", 8));
  CHECK(bytes[8] == 1);
  CHECK(bytes[12] == 4);
  std::uint64_t length;
  std::memcpy(&length, bytes.data() + bytes.size() - 12, 8);
  CHECK(length == bytes.size() - 12);
  std::uint32_t crc;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  CHECK(crc == fasttab::crc32c(bytes.data(), length));

  // Rewriting replaces the file; put replaces a section in place.
  fasttab::CheckpointFile second = back;
  second.put_string("config", "{}");
  fasttab::write_checkpoint_file(path, second);
  const auto again = fasttab::read_checkpoint_file(path);
  CHECK(again.sections.size() == 4);
  CHECK(again.sections[1].name == "config");
  CHECK(again.get_string("config") == "{}");
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint_file: every single flipped byte is refused") {
  const auto dir = fresh_dir("ckpt_flip");
  const auto path = dir / "run.ckpt";
  fasttab::CheckpointFile f;
  f.put_vector<float>("w", {1.0f, 2.0f});
  f.put_string("c", "{}");
  fasttab::write_checkpoint_file(path.string(), f);
  const auto good = slurp(path);
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x80, 0xFF}) {
      CAPTURE(i);
      CAPTURE(int(mask));
      auto bad = good;
      bad[i] ^= mask;
      spit(path, bad);
      CHECK_THROWS_AS(fasttab::read_checkpoint_file(path.string()), fasttab::Error);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint_file: truncated, foreign, missing and empty files are refused") {
  const auto dir = fresh_dir("ckpt_bad");
  const auto path = dir / "run.ckpt";
  fasttab::write_checkpoint_file(path.string(), sample());
  const auto good = slurp(path);
  for (std::size_t n = 1; n < good.size(); ++n) {
    CAPTURE(n);
    spit(path, std::vector<std::uint8_t>(good.begin(), good.begin() + n));
    CHECK_THROWS_WITH_AS(fasttab::read_checkpoint_file(path.string()), doctest::Contains("is corrupted"), fasttab::Error);
  }
  auto appended = good;
  appended.push_back(0);
  spit(path, appended);
  CHECK_THROWS_WITH_AS(fasttab::read_checkpoint_file(path.string()), doctest::Contains("is corrupted"), fasttab::Error);

  auto foreign = good;
  foreign[0] = 'P';
  spit(path, foreign);
  CHECK_THROWS_WITH_AS(fasttab::read_checkpoint_file(path.string()), doctest::Contains("is not a fasttab checkpoint"),
                       fasttab::Error);
  spit(path, {});
  CHECK_THROWS_WITH_AS(fasttab::read_checkpoint_file(path.string()), doctest::Contains("is not a fasttab checkpoint"),
                       fasttab::Error);
  CHECK_THROWS_WITH_AS(fasttab::read_checkpoint_file((dir / "absent.ckpt").string()),
                       doctest::Contains("cannot open checkpoint"), fasttab::Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint_file: a newer format version is refused by name") {
  const auto dir = fresh_dir("ckpt_version");
  const std::string path = (dir / "run.ckpt").string();
  fasttab::CheckpointFile f = sample();
  f.format_version = 7;  // a sound file (valid checksum) from a future build
  fasttab::write_checkpoint_file(path, f);
  CHECK_THROWS_WITH_AS(fasttab::read_checkpoint_file(path),
                       doctest::Contains("was written by format version 7; this build reads version 1"), fasttab::Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint_file: a failed write leaves the previous file intact") {
  const auto dir = fresh_dir("ckpt_atomic");
  const std::string path = (dir / "run.ckpt").string();
  fasttab::write_checkpoint_file(path, sample());
  const auto before = slurp(path);
  // A directory where the temporary file must go makes the write fail before the rename.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::filesystem::create_directory(tmp);
  fasttab::CheckpointFile other;
  other.put_string("config", "{\"different\": true}");
  CHECK_THROWS_WITH_AS(fasttab::write_checkpoint_file(path, other), doctest::Contains("cannot create the temporary"),
                       fasttab::Error);
  CHECK(slurp(path) == before);
  CHECK(fasttab::read_checkpoint_file(path).get_string("config") == R"({"epochs": 10})");
  std::filesystem::remove(tmp);
  fasttab::write_checkpoint_file(path, other);  // and once the obstacle is gone, the write goes through
  CHECK(fasttab::read_checkpoint_file(path).get_string("config") == "{\"different\": true}");
  std::filesystem::remove_all(dir);
}
