#include "tools/report/tensorboard.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "host/io/crc32c.hpp"
#include "fasttab/error.hpp"

namespace fasttab {
namespace {

// Protobuf wire format, the three wire types an Event needs: 0 varint, 1 fixed 64-bit, 2 length-delimited,
// 5 fixed 32-bit. A key is (field_number << 3) | wire_type, itself a varint.
void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}

template <class T>
void put_fixed(std::string& out, T value) {  // little-endian, as the format requires (x86 and ARM are)
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_bytes_field(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string event_header(double wall_time_s, std::int64_t step) {
  std::string event;
  put_key(event, 1, 1);
  put_fixed(event, wall_time_s);
  put_key(event, 2, 0);
  put_varint(event, static_cast<std::uint64_t>(step));  // int64: negatives are 10-byte two's complement
  return event;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  // Only the last component is made (as for --save and --cache-dir): a mistyped parent is refused.
  const std::filesystem::path parent = [&] {
          std::filesystem::path dir = std::filesystem::absolute(log_dir).lexically_normal();
          if (!dir.has_filename()) dir = dir.parent_path();  // a trailing '/'
          return dir.parent_path();
        }();
  FASTTAB_REQUIRE(std::filesystem::is_directory(log_dir) || std::filesystem::exists(parent), "--log-dir ",
                  log_dir, ": the directory ", parent.string(),
                  " does not exist; create it first (only the last component of --log-dir is created)");
  std::error_code ec;
  std::filesystem::create_directory(log_dir, ec);
  FASTTAB_REQUIRE(!ec, "cannot create the TensorBoard log directory ", log_dir, ": ", ec.message());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const double now_s = std::chrono::duration<double>(now).count();
  path_ = (std::filesystem::path(log_dir) /
           ("events.out.tfevents." + std::to_string(static_cast<std::int64_t>(now_s)) + "." + host_name() +
            ".fasttab"))
              .string();
  file_ = std::fopen(path_.c_str(), "wb");
  FASTTAB_REQUIRE(file_ != nullptr, "cannot create the TensorBoard event file ", path_, ": ", std::strerror(errno));
  std::string first = event_header(now_s, 0);
  put_bytes_field(first, 3, "brain.Event:2");
  write_record(first);
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, float value, std::int64_t step, double wall_time_s) {
  std::string summary_value;
  put_bytes_field(summary_value, 1, tag);
  put_key(summary_value, 2, 5);
  put_fixed(summary_value, value);
  std::string summary;
  put_bytes_field(summary, 1, summary_value);
  std::string event = event_header(wall_time_s, step);
  put_bytes_field(event, 5, summary);
  write_record(event);
}

void TensorBoardWriter::flush() {
  FASTTAB_REQUIRE(std::fflush(file_) == 0, "cannot write the TensorBoard event file ", path_, ": ",
                  std::strerror(errno));
}

const std::string& TensorBoardWriter::path() const { return path_; }

void TensorBoardWriter::write_record(const std::string& data) {
  std::string record;
  put_fixed(record, static_cast<std::uint64_t>(data.size()));
  put_fixed(record, crc32c_masked(crc32c(record.data(), 8)));
  record += data;
  put_fixed(record, crc32c_masked(crc32c(data.data(), data.size())));
  FASTTAB_REQUIRE(std::fwrite(record.data(), 1, record.size(), file_) == record.size(),
                  "cannot write the TensorBoard event file ", path_, ": ", std::strerror(errno));
}

}  // namespace fasttab
