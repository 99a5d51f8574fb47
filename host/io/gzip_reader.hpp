// Streaming gzip inflation with ISA-L's igzip: the compressed bytes in (a mapped file), text out in pieces,
// so a 7.5 GB .csv.gz never sits inflated in RAM. Multi-member files (concatenated .gz) are read whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct inflate_state;

namespace fasttab {

class GzipReader {
 public:
  GzipReader(std::string file, const char* data, std::size_t size);
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Fills up to `capacity` bytes of `out`; returns the count, less than capacity only at the end of the stream
  // (0 once it is over). Throws fasttab::Error naming the file for a truncated or corrupt stream.
  std::size_t read(char* out, std::size_t capacity);

 private:
  bool start_next_member();

  std::string file_;
  const unsigned char* data_;
  std::size_t size_;
  std::size_t fed_ = 0;  // input bytes handed to the inflater so far
  std::uint64_t member_out_ = 0;  // bytes inflated from the current member
  bool finished_ = false;
  std::unique_ptr<inflate_state> state_;
};

}  // namespace fasttab
