// MemoryTextSource cuts views of text in memory after a line end; GzipTextSource inflates into pooled buffers
// and carries the partial last line over to the next chunk. Both keep every line to their bound.
#include "host/io/text_sources.hpp"

#include <algorithm>
#include <cstring>

namespace fasttab {

namespace {

inline bool is_eol(char c) { return c == '\n' || c == '\r'; }

// The last line end in the `filled` bytes at `begin`: a '\n', or a '\r' known not to start a "\r\n" (one
// before the last byte, or the last byte of the stream). nullptr when there is none.
const char* find_last_line_end(const char* begin, std::size_t filled, bool eof) {
  for (const char* p = begin + filled; p > begin; --p) {
    if (p[-1] == '\n' || (p[-1] == '\r' && (p < begin + filled || eof))) return p - 1;
  }
  return nullptr;
}

}  // namespace

bool MemoryTextSource::next(TextChunk& chunk) {
  if (long_line_) throw LineTooLong{max_line_};
  if (pos_ >= text_.size()) return false;
  const char* const data = text_.data();
  const std::size_t size = text_.size();
  const std::size_t cut = std::min(size, pos_ + chunk_bytes_);
  std::size_t end = cut;
  if (cut > pos_ && is_eol(data[cut - 1])) {
    if (data[cut - 1] == '\r' && cut < size && data[cut] == '\n') ++end;
  } else {
    // `cut` falls inside a line: end the chunk after that line, unless it is longer than the bound. Only this
    // line can be (chunk_bytes is below the bound), and the scans cover it alone.
    std::size_t line_start = cut;
    while (line_start > pos_ && !is_eol(data[line_start - 1]) && cut - line_start <= max_line_) --line_start;
    while (end < size && !is_eol(data[end]) && end - line_start <= max_line_) ++end;
    if (end - line_start > max_line_) {
      long_line_ = true;
      if (line_start == pos_) throw LineTooLong{max_line_};
      end = line_start;  // the lines before the long one; the next call throws
    } else if (end < size) {
      ++end;
      if (data[end - 1] == '\r' && end < size && data[end] == '\n') ++end;
    }
  }
  chunk.storage.reset();
  chunk.text = text_.substr(pos_, end - pos_);
  pos_ = end;
  return true;
}

std::unique_ptr<char[]> GzipTextSource::take_buffer(std::size_t& capacity) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    for (auto& entry : pool_) {
      if (entry.first && entry.second >= capacity) {
        capacity = entry.second;
        std::unique_ptr<char[]> buffer = std::move(entry.first);
        entry = std::move(pool_.back());
        pool_.pop_back();
        return buffer;
      }
    }
  }
  return std::unique_ptr<char[]>(new char[capacity]);  // not make_unique: no zero fill
}

void GzipTextSource::recycle(TextChunk& chunk) {
  if (!chunk.storage) return;
  std::lock_guard<std::mutex> lock(pool_mutex_);
  pool_.emplace_back(std::move(chunk.storage), chunk.capacity);
}

std::size_t GzipTextSource::inflate_whole_lines(std::unique_ptr<char[]>& buffer, std::size_t& capacity,
                                                std::size_t limit, std::size_t& filled) {
  for (;;) {
    if (!eof_) {
      const std::size_t want = limit - filled;
      const std::size_t got = reader_.read(buffer.get() + filled, want);
      filled += got;
      if (got < want) eof_ = true;
    }
    const char* begin = buffer.get();
    const char* last_nl = find_last_line_end(begin, filled, eof_);
    if (eof_) {
      // The last line has no line end; it too must keep to the bound (it is kept as the carry and refused on
      // the next call, after the lines before it).
      const std::size_t tail = last_nl == nullptr ? filled : filled - static_cast<std::size_t>(last_nl + 1 - begin);
      if (tail > max_line_) {
        if (last_nl == nullptr) throw LineTooLong{max_line_};
        return static_cast<std::size_t>(last_nl - begin) + 1;
      }
      return filled;
    }
    if (last_nl != nullptr) return static_cast<std::size_t>(last_nl - begin) + 1;
    // One line longer than the buffer: grow it and read on, up to the bound.
    if (filled >= max_line_) throw LineTooLong{max_line_};
    limit *= 2;
    if (limit > capacity) {
      std::unique_ptr<char[]> bigger(new char[limit]);
      std::memcpy(bigger.get(), buffer.get(), filled);
      buffer = std::move(bigger);
      capacity = limit;
    }
  }
}

bool GzipTextSource::next(TextChunk& chunk) {
  if (eof_ && carry_.empty()) return false;
  if (carry_.size() > max_line_) throw LineTooLong{max_line_};
  // Fill `limit` bytes (the carry and chunk_bytes of new text), even when the pooled buffer is larger: then
  // every line but the first lies in the new text, shorter than chunk_bytes, and only the first needs checking.
  const std::size_t limit = carry_.size() + chunk_bytes_;
  std::size_t capacity = limit;
  std::unique_ptr<char[]> buffer = take_buffer(capacity);
  std::memcpy(buffer.get(), carry_.data(), carry_.size());
  std::size_t filled = carry_.size();
  const std::size_t cut = inflate_whole_lines(buffer, capacity, limit, filled);
  // The first line (the carry and what completes it) is the one that may be long.
  std::size_t first_end = 0;
  while (first_end < cut && buffer[first_end] != '\n' && buffer[first_end] != '\r' && first_end <= max_line_) {
    ++first_end;
  }
  if (first_end > max_line_) throw LineTooLong{max_line_};
  carry_.assign(buffer.get() + cut, filled - cut);
  if (cut == 0) return false;
  chunk.text = std::string_view(buffer.get(), cut);
  chunk.storage = std::move(buffer);
  chunk.capacity = capacity;
  return true;
}

}  // namespace fasttab
