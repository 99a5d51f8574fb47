// The producer (this thread) cuts or inflates chunks and queues them; at most 2 per worker wait in the queue,
// which bounds the text in RAM. Workers parse chunks into per-chunk results indexed by chunk number. Once a
// chunk fails, no new chunk is queued; the first failed chunk in file order gives the error, with its line
// number counted from the lines of the chunks before it.
#include "host/io/csv_loader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
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

int worker_count(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// The chunks waiting for a worker, each with the result it is parsed into; shared under `mutex`.
struct ChunkQueue {
  std::mutex mutex;
  std::condition_variable work_ready, space_free;
  std::deque<std::pair<CsvChunkResult*, TextChunk>> chunks;
  std::size_t max_queued = 0;
  bool producer_done = false;
  bool any_failed = false;
};

void parse_chunk_or_fail(const TextChunk& chunk, const CsvLayout& layout, CsvChunkResult& result) {
  try {
    parse_csv_chunk(chunk.text, layout, result);
  } catch (const std::bad_alloc&) {
    result.failed = true;
    result.error = ": out of memory while parsing; the table needs more RAM than is free "
                   "(select fewer columns with --features)";
  }
}

// A worker: parses queued chunks until the queue is empty and the producer is done.
void parse_queued_chunks(ChunkQueue& queue, TextChunkSource& source, const CsvLayout& layout) {
  for (;;) {
    std::unique_lock<std::mutex> lock(queue.mutex);
    queue.work_ready.wait(lock, [&] { return !queue.chunks.empty() || queue.producer_done; });
    if (queue.chunks.empty()) return;
    auto [result, chunk] = std::move(queue.chunks.front());
    queue.chunks.pop_front();
    lock.unlock();
    queue.space_free.notify_one();
    parse_chunk_or_fail(chunk, layout, *result);
    source.recycle(chunk);
    if (result->failed) {
      lock.lock();
      queue.any_failed = true;
    }
  }
}

// The producer: queues `first` and the rest of `source`, each chunk with a new entry of `results`, until the
// source ends or a chunk has failed.
void queue_all_chunks(ChunkQueue& queue, TextChunkSource& source, TextChunk first,
                      std::vector<std::unique_ptr<CsvChunkResult>>& results) {
  TextChunk chunk = std::move(first);
  bool have = true;
  while (have) {
    {
      std::unique_lock<std::mutex> lock(queue.mutex);
      queue.space_free.wait(lock, [&] { return queue.chunks.size() < queue.max_queued; });
      if (queue.any_failed) break;
      results.push_back(std::make_unique<CsvChunkResult>());
      queue.chunks.emplace_back(results.back().get(), std::move(chunk));
    }
    queue.work_ready.notify_one();
    chunk = TextChunk{};
    have = source.next(chunk);
  }
}

// Runs parse_csv_chunk on every chunk (`first`, then the rest of `source`) on `threads` workers.
std::vector<std::unique_ptr<CsvChunkResult>> parse_all_chunks(TextChunkSource& source, TextChunk first,
                                                               const CsvLayout& layout, int threads,
                                                               std::size_t* long_line) {
  ChunkQueue queue;
  queue.max_queued = 2 * static_cast<std::size_t>(threads);
  std::vector<std::unique_ptr<CsvChunkResult>> results;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&] { parse_queued_chunks(queue, source, layout); });

  std::exception_ptr producer_error;
  try {
    queue_all_chunks(queue, source, std::move(first), results);
  } catch (const LineTooLong& e) {
    *long_line = e.max_bytes;  // after the chunks given so far: load_csv numbers the line
  } catch (...) {
    producer_error = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(queue.mutex);
    queue.producer_done = true;
  }
  queue.work_ready.notify_all();
  for (auto& t : pool) t.join();
  if (producer_error) std::rethrow_exception(producer_error);
  return results;
}

[[noreturn]] void fail_long_line(const std::string& file, std::int64_t line, std::size_t max_bytes) {
  const std::string bound = max_bytes % (std::size_t{1} << 20) == 0
                                ? detail::concat(max_bytes >> 20, " MiB (", max_bytes, " bytes)")
                                : detail::concat(max_bytes, " bytes");
  FASTTAB_FAIL(file, " line ", line, ": a line longer than ", bound, "; this is not a CSV table (binary data, "
               "a damaged file, or a file with no line ends), and the loader does not take lines that long");
}

// What the parser needs: the delimiter, and the slot of each source column (0 the label, i + 1 feature i, -1
// skipped).
CsvLayout csv_layout(const CsvDialect& dialect, const ColumnSelection& selection, const LoadOptions& options,
                     const std::vector<char>& text_column) {
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
  layout.text_slot.assign(static_cast<std::size_t>(layout.feature_cols) + 1, 0);
  for (int c = 0; c < dialect.columns; ++c) {
    const int slot = layout.slot_of_column[static_cast<std::size_t>(c)];
    if (slot >= 0 && text_column[static_cast<std::size_t>(c)]) layout.text_slot[static_cast<std::size_t>(slot)] = 1;
  }
  layout.numeric_column = selection.numeric;
  layout.max_categories = options.max_categories;
  return layout;
}

// The categorical columns: --categorical's, the given ones, and the selected columns (not --numeric's) with a
// field that is not a number in the first lines of `head` (the data after the header).
std::vector<char> text_columns_of(const CsvDialect& dialect, const ColumnSelection& selection,
                                  const std::vector<int>& found, std::string_view head) {
  std::vector<char> text = selection.text;
  for (int c : found) text[static_cast<std::size_t>(c)] = 1;
  std::vector<char> selected(text.size(), 0);
  if (selection.label_col >= 0) selected[static_cast<std::size_t>(selection.label_col)] = 1;
  for (int c : selection.features) selected[static_cast<std::size_t>(c)] = 1;
  constexpr int kSampleLines = 1000;
  for (int line = 0; line < kSampleLines && !head.empty(); ++line) {
    std::size_t stop = head.find_first_of("\r\n");
    if (stop == std::string_view::npos) stop = head.size();
    const std::vector<std::string> fields = split_csv_line(head.substr(0, stop), dialect.delimiter);
    head.remove_prefix(std::min(head.size(), stop + 1));
    if (fields.size() != text.size()) continue;  // a blank or malformed line: the parser reports it
    for (std::size_t c = 0; c < fields.size(); ++c) {
      if (selected[c] && !text[c] && !selection.numeric[c] && !is_missing_text(fields[c]) &&
          !is_number_text(fields[c]))
        text[c] = 1;
    }
  }
  return text;
}

// The levels of the chunks' text slot `slot` joined in file order; each chunk's values are remapped in place from
// its own level indices to the joined ones. Throws when the column has more than max_categories levels.
std::vector<std::string> join_levels(const std::string& file, std::vector<std::unique_ptr<CsvChunkResult>>& results,
                                     int slot, int source_col, const std::string& name, const CsvLayout& layout) {
  ChunkLevels joined;
  const std::size_t width = static_cast<std::size_t>(layout.feature_cols);
  for (auto& r : results) {
    const std::deque<std::string>& local = r->levels[static_cast<std::size_t>(slot)].levels;
    std::vector<float> to_joined(local.size());
    for (std::size_t i = 0; i < local.size(); ++i) {
      auto found = joined.index.find(local[i]);
      if (found == joined.index.end()) {
        FASTTAB_REQUIRE(int(joined.levels.size()) < layout.max_categories, file, ": column ", source_col,
                        name.empty() ? std::string() : " ('" + name + "')", " has more than ", layout.max_categories,
                        " distinct values; leave it out (--drop), or raise the limit (--max-categories)");
        joined.levels.push_back(local[i]);
        found = joined.index.emplace(std::string_view(joined.levels.back()), int(joined.levels.size()) - 1).first;
      }
      to_joined[i] = static_cast<float>(found->second);
    }
    if (r->rows == 0) continue;  // (its vectors may be empty: no pointer arithmetic on them)
    float* values = slot == 0 ? r->labels.data() : r->features.data() + (slot - 1);
    const std::size_t stride = slot == 0 ? 1 : width;
    for (std::int64_t row = 0; row < r->rows; ++row) {
      float& v = values[static_cast<std::size_t>(row) * stride];
      if (v == v) v = to_joined[static_cast<std::size_t>(v)];
    }
  }
  return std::vector<std::string>(std::make_move_iterator(joined.levels.begin()),
                                  std::make_move_iterator(joined.levels.end()));
}

// The rows parsed and dropped in all chunks; throws the error of the first failed chunk (or of the long line
// after the last chunk) with its line number.
struct ParsedCounts {
  std::int64_t rows = 0;
  std::int64_t dropped = 0;
};

ParsedCounts count_parsed_rows(const std::string& file, const CsvDialect& dialect,
                               const std::vector<std::unique_ptr<CsvChunkResult>>& results, std::size_t long_line) {
  std::int64_t line_base = dialect.lines_before_data;
  ParsedCounts counts;
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
    counts.rows += r->rows;
    counts.dropped += r->dropped;
  }
  if (long_line != 0) fail_long_line(file, line_base + 1, long_line);
  return counts;
}

// Join in file order: each of `threads` workers copies every T-th chunk to its row offset in `table` (sized
// already) and frees it.
void join_chunks(std::vector<std::unique_ptr<CsvChunkResult>>& results, int threads, Table& table) {
  std::vector<std::size_t> first_row(results.size() + 1, 0);
  for (std::size_t i = 0; i < results.size(); ++i) {
    first_row[i + 1] = first_row[i] + static_cast<std::size_t>(results[i]->rows);
  }
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
}

}  // namespace

Table load_csv(const std::string& file, TextChunkSource& source, const LoadOptions& options,
               std::int64_t* dropped, std::vector<std::string>* warnings, const std::vector<int>& text_columns) {
  TextChunk first;
  try {
    if (!source.next(first)) FASTTAB_FAIL(file, ": the file is empty; give a CSV file with data rows");
  } catch (const LineTooLong& e) {
    fail_long_line(file, 1, e.max_bytes);
  }
  const CsvDialect dialect = detect_csv_dialect(file, first.text, options.delimiter, options.header);
  if (warnings != nullptr) warnings->insert(warnings->end(), dialect.warnings.begin(), dialect.warnings.end());
  const ColumnSelection selection = select_columns(file, dialect.columns, dialect.names, options);
  first.text.remove_prefix(dialect.data_offset);
  const std::vector<char> text_column = text_columns_of(dialect, selection, text_columns, first.text);
  const CsvLayout layout = csv_layout(dialect, selection, options, text_column);

  std::size_t long_line = 0;
  auto results = parse_all_chunks(source, std::move(first), layout, worker_count(options.threads), &long_line);
  for (const auto& r : results) {  // text further down in a column that looked numeric: parse again
    if (r->failed && r->text_column >= 0) throw TextInNumericColumn{r->text_column};
  }
  const ParsedCounts counts = count_parsed_rows(file, dialect, results, long_line);
  if (dropped != nullptr) *dropped += counts.dropped;
  if (counts.rows == 0) {
    FASTTAB_FAIL(file, counts.dropped > 0 ? ": every row has a NaN, Inf or empty field; none is left to load"
                                          : ": no data rows (only a header); give a CSV file with data rows");
  }

  Table table;
  std::vector<std::string> label_levels;
  for (int c = 0; c < dialect.columns; ++c) {
    const int slot = layout.slot_of_column[static_cast<std::size_t>(c)];
    if (slot < 0 || !layout.text_slot[static_cast<std::size_t>(slot)]) continue;
    std::vector<std::string> levels =
        join_levels(file, results, slot, c, dialect.has_header ? dialect.names[std::size_t(c)] : "", layout);
    if (slot == 0) label_levels = std::move(levels);
    else table.categorical.push_back(CategoricalColumn{slot - 1, std::move(levels)});
  }
  std::sort(table.categorical.begin(), table.categorical.end(),
            [](const CategoricalColumn& a, const CategoricalColumn& b) { return a.feature < b.feature; });
  table.rows = counts.rows;
  table.cols = layout.feature_cols;
  table.labels.resize(static_cast<std::size_t>(counts.rows));
  table.features.resize(static_cast<std::size_t>(counts.rows) * static_cast<std::size_t>(table.cols));
  join_chunks(results, worker_count(options.threads), table);
  if (selection.label_col < 0) std::fill(table.labels.begin(), table.labels.end(), std::nanf(""));  // no label
  if (layout.text_slot[0]) assign_label_classes(table, label_levels);  // level indices to class indices
  if (dialect.has_header) {
    for (int c : selection.features) table.feature_names.push_back(dialect.names[static_cast<std::size_t>(c)]);
  }
  return table;
}

}  // namespace fasttab
