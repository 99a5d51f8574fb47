// Sources of CSV text in chunks of whole lines: a view of text in memory (a mapped file), or a gzip stream
// inflated as it goes. Each refuses a line longer than its bound (LineTooLong) instead of growing without bound.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "host/io/gzip_reader.hpp"

namespace fasttab {

// The longest line the loaders take: 64 MiB. A longer one (a gzip bomb of zeros, a binary file, a file with no
// line ends) is refused with its line number instead of growing a buffer without bound.
constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;

// Thrown by a TextChunkSource when the line after the chunks it has given is longer than its bound;
// load_csv turns it into a fasttab::Error with the line number.
struct LineTooLong {
  std::size_t max_bytes;
};

// Whole lines of text; `storage` (of `capacity` bytes) owns them when they are not a view of a mapped file.
struct TextChunk {
  std::string_view text;
  std::unique_ptr<char[]> storage;
  std::size_t capacity = 0;
};

class TextChunkSource {
 public:
  virtual ~TextChunkSource() = default;
  // The next chunk of whole lines (the last one may lack its final newline); false at the end.
  virtual bool next(TextChunk& chunk) = 0;
  // Takes back a parsed chunk's storage for reuse; called from any thread.
  virtual void recycle(TextChunk& chunk) { chunk.storage.reset(); }
};

// Views of about `chunk_bytes` into text in memory, cut after a line end ("\n", "\r\n" or a lone "\r").
class MemoryTextSource : public TextChunkSource {
 public:
  MemoryTextSource(std::string_view text, std::size_t chunk_bytes, std::size_t max_line_bytes = kMaxLineBytes)
      : text_(text), chunk_bytes_(chunk_bytes), max_line_(max_line_bytes) {}
  bool next(TextChunk& chunk) override;

 private:
  std::string_view text_;
  std::size_t chunk_bytes_;
  std::size_t max_line_;
  std::size_t pos_ = 0;
  bool long_line_ = false;  // the line at pos_ is longer than max_line_: throw on the next call
};

// Inflates about `chunk_bytes` at a time, keeping the partial last line for the next chunk.
class GzipTextSource : public TextChunkSource {
 public:
  GzipTextSource(const std::string& file, const char* data, std::size_t size, std::size_t chunk_bytes,
                 std::size_t max_line_bytes = kMaxLineBytes)
      : reader_(file, data, size), chunk_bytes_(chunk_bytes), max_line_(max_line_bytes) {}
  bool next(TextChunk& chunk) override;
  void recycle(TextChunk& chunk) override;

 private:
  // A buffer of at least `capacity` bytes, from the pool when one is there: reusing buffers spares the kernel
  // mapping, zeroing and unmapping 8 MB per chunk (a tenth of the CPU time of a .csv.gz load without it).
  std::unique_ptr<char[]> take_buffer(std::size_t& capacity);
  // Inflates into `buffer` (holding `filled` bytes, the carry first) until it holds a line end or the stream
  // ends, growing it past `limit` bytes for a line longer than that; returns where the whole lines end.
  std::size_t inflate_whole_lines(std::unique_ptr<char[]>& buffer, std::size_t& capacity, std::size_t limit,
                                  std::size_t& filled);

  GzipReader reader_;
  std::size_t chunk_bytes_;
  std::size_t max_line_;
  std::string carry_;  // the bytes after the last newline of the previous chunk
  bool eof_ = false;
  std::mutex pool_mutex_;
  std::vector<std::pair<std::unique_ptr<char[]>, std::size_t>> pool_;
};

}  // namespace fasttab
