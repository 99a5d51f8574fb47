// The producer (this thread) cuts or inflates chunks and queues them; at most 2 per worker wait in the queue,
// which bounds the text in RAM. Workers parse chunks into per-chunk results indexed by chunk number. Once a
// chunk fails, no new chunk is queued; the first failed chunk in file order gives the error, with its line
// number counted from the lines of the chunks before it.
#include "host/io/csv_loader.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "fasttab/error.hpp"
#include "host/io/column_spec.hpp"
#include "host/io/csv_dialect.hpp"
#include "host/io/csv_parser.hpp"

namespace fasttab {

namespace {
inline bool is_eol(char c) { return c == '\n' || c == '\r'; }
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

bool GzipTextSource::next(TextChunk& chunk) {
  if (eof_ && carry_.empty()) return false;
  if (carry_.size() > max_line_) throw LineTooLong{max_line_};
  // Fill `limit` bytes (the carry and chunk_bytes of new text), even when the pooled buffer is larger: then
  // every line but the first lies in the new text, shorter than chunk_bytes, and only the first needs checking.
  std::size_t limit = carry_.size() + chunk_bytes_;
  std::size_t capacity = limit;
  std::unique_ptr<char[]> buffer = take_buffer(capacity);
  std::memcpy(buffer.get(), carry_.data(), carry_.size());
  std::size_t filled = carry_.size();
  std::size_t cut = 0;
  for (;;) {
    if (!eof_) {
      const std::size_t want = limit - filled;
      const std::size_t got = reader_.read(buffer.get() + filled, want);
      filled += got;
      if (got < want) eof_ = true;
    }
    const char* begin = buffer.get();
    const char* last_nl = nullptr;  // the last line end: '\n', or a '\r' known not to start a "\r\n"
    for (const char* p = begin + filled; p > begin; --p) {
      if (p[-1] == '\n' || (p[-1] == '\r' && (p < begin + filled || eof_))) {
        last_nl = p - 1;
        break;
      }
    }
    if (eof_) {
      // The last line has no line end; it too must keep to the bound (it is kept as the carry and refused on
      // the next call, after the lines before it).
      const std::size_t tail = last_nl == nullptr ? filled : filled - static_cast<std::size_t>(last_nl + 1 - begin);
      if (tail > max_line_) {
        if (last_nl == nullptr) throw LineTooLong{max_line_};
        cut = static_cast<std::size_t>(last_nl - begin) + 1;
      } else {
        cut = filled;
      }
      break;
    }
    if (last_nl != nullptr) {
      cut = static_cast<std::size_t>(last_nl - begin) + 1;
      break;
    }
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

namespace {

int worker_count(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Runs parse_csv_chunk on every chunk (`first`, then the rest of `source`) on `threads` workers.
std::vector<std::unique_ptr<CsvChunkResult>> parse_all_chunks(TextChunkSource& source, TextChunk first,
                                                               const CsvLayout& layout, int threads,
                                                               std::size_t* long_line) {
  std::mutex mutex;
  std::condition_variable work_ready, space_free;
  std::deque<std::pair<CsvChunkResult*, TextChunk>> queue;
  std::vector<std::unique_ptr<CsvChunkResult>> results;
  bool producer_done = false;
  bool any_failed = false;
  const std::size_t max_queued = 2 * static_cast<std::size_t>(threads);

  auto worker = [&] {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex);
      work_ready.wait(lock, [&] { return !queue.empty() || producer_done; });
      if (queue.empty()) return;
      auto [result, chunk] = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      space_free.notify_one();
      try {
        parse_csv_chunk(chunk.text, layout, *result);
      } catch (const std::bad_alloc&) {
        result->failed = true;
        result->error = ": out of memory while parsing; the table needs more RAM than is free "
                        "(select fewer columns with --features)";
      }
      source.recycle(chunk);
      if (result->failed) {
        lock.lock();
        any_failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);

  std::exception_ptr producer_error;
  try {
    TextChunk chunk = std::move(first);
    bool have = true;
    while (have) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        space_free.wait(lock, [&] { return queue.size() < max_queued; });
        if (any_failed) break;
        results.push_back(std::make_unique<CsvChunkResult>());
        queue.emplace_back(results.back().get(), std::move(chunk));
      }
      work_ready.notify_one();
      chunk = TextChunk{};
      have = source.next(chunk);
    }
  } catch (const LineTooLong& e) {
    *long_line = e.max_bytes;  // after the chunks given so far: load_csv numbers the line
  } catch (...) {
    producer_error = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    producer_done = true;
  }
  work_ready.notify_all();
  for (auto& t : pool) t.join();
  if (producer_error) std::rethrow_exception(producer_error);
  return results;
}

}  // namespace

Table load_csv(const std::string& file, TextChunkSource& source, const LoadOptions& options,
               std::int64_t* dropped, std::vector<std::string>* warnings) {
  TextChunk first;
  auto long_line_error = [&](std::int64_t line, std::size_t max_bytes) {
    const std::string bound = max_bytes % (std::size_t{1} << 20) == 0
                                  ? detail::concat(max_bytes >> 20, " MiB (", max_bytes, " bytes)")
                                  : detail::concat(max_bytes, " bytes");
    FASTTAB_FAIL(file, " line ", line, ": a line longer than ", bound, "; this is not a CSV table (binary data, "
                 "a damaged file, or a file with no line ends), and the loader does not take lines that long");
  };
  try {
    if (!source.next(first)) FASTTAB_FAIL(file, ": the file is empty; give a CSV file with data rows");
  } catch (const LineTooLong& e) {
    long_line_error(1, e.max_bytes);
  }
  const CsvDialect dialect = detect_csv_dialect(file, first.text, options.delimiter, options.header);
  if (warnings != nullptr) warnings->insert(warnings->end(), dialect.warnings.begin(), dialect.warnings.end());
  const ColumnSelection selection = select_columns(file, dialect.columns, options.label_col, options.features);

  CsvLayout layout;
  layout.delimiter = dialect.delimiter;
  layout.source_cols = dialect.columns;
  layout.feature_cols = static_cast<int>(selection.features.size());
  layout.slot_of_column.assign(static_cast<std::size_t>(dialect.columns), -1);
  if (selection.label_col >= 0) layout.slot_of_column[static_cast<std::size_t>(selection.label_col)] = 0;
  for (std::size_t i = 0; i < selection.features.size(); ++i) {
    layout.slot_of_column[static_cast<std::size_t>(selection.features[i])] = static_cast<int>(i) + 1;
  }
  layout.nan_policy = options.nan_policy;
  layout.bytes_per_row = dialect.bytes_per_row;
  first.text.remove_prefix(dialect.data_offset);

  std::size_t long_line = 0;
  auto results = parse_all_chunks(source, std::move(first), layout, worker_count(options.threads), &long_line);

  std::int64_t line_base = dialect.lines_before_data;
  std::int64_t rows = 0;
  std::int64_t dropped_rows = 0;
  for (const auto& r : results) {
    if (r->failed) {
      const std::int64_t line = line_base + r->lines + 1;
      // A bad first line that header detection was unsure of: say so, since the load stops before the
      // warning can be printed.
      const bool doubtful_first = line == dialect.lines_before_data + 1 && !dialect.warnings.empty();
      FASTTAB_FAIL(file, " line ", line, r->error,
                   doubtful_first ? " (header detection took this first line as data; if it is a header, give "
                                    "--header)"
                                  : "");
    }
    line_base += r->lines;
    rows += r->rows;
    dropped_rows += r->dropped;
  }
  if (long_line != 0) long_line_error(line_base + 1, long_line);
  if (dropped != nullptr) *dropped += dropped_rows;
  if (rows == 0) {
    FASTTAB_FAIL(file, dropped_rows > 0 ? ": every row has a NaN, Inf or empty field; none is left to load"
                                        : ": no data rows (only a header); give a CSV file with data rows");
  }

  Table table;
  table.rows = rows;
  table.cols = layout.feature_cols;
  table.labels.resize(static_cast<std::size_t>(rows));
  table.features.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(table.cols));
  // Join in file order: each worker copies every T-th chunk to its row offset and frees it.
  std::vector<std::size_t> first_row(results.size() + 1, 0);
  for (std::size_t i = 0; i < results.size(); ++i) {
    first_row[i + 1] = first_row[i] + static_cast<std::size_t>(results[i]->rows);
  }
  const int threads = worker_count(options.threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < results.size(); i += static_cast<std::size_t>(threads)) {
        auto& r = results[i];
        std::copy(r->labels.begin(), r->labels.end(),
                  table.labels.begin() + static_cast<std::ptrdiff_t>(first_row[i]));
        std::copy(r->features.begin(), r->features.end(),
                  table.features.begin() +
                      static_cast<std::ptrdiff_t>(first_row[i] * static_cast<std::size_t>(table.cols)));
        r.reset();
      }
    });
  }
  for (auto& th : pool) th.join();
  if (selection.label_col < 0) std::fill(table.labels.begin(), table.labels.end(), std::nanf(""));  // no label
  if (dialect.has_header) {
    for (int c : selection.features) table.feature_names.push_back(dialect.names[static_cast<std::size_t>(c)]);
  }
  return table;
}

}  // namespace fasttab
