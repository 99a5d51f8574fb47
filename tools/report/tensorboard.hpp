// TensorBoard event files written by hand: `tensorboard --logdir <log_dir>` shows the trainer's scalars
// (loss, AUC, samples/s) without a protobuf or TensorFlow dependency.
//
// File format (TFRecord): a sequence of records, each
//   uint64 length (little-endian) | uint32 masked CRC-32C of the 8 length bytes | data | uint32 masked CRC-32C of data
// where data is one serialised tensorflow.Event protobuf:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
// The first record carries file_version "brain.Event:2" (TensorBoard reads the file as the current format);
// each add_scalar writes one record with one Summary.Value.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace fasttab {

class TensorBoardWriter {
 public:
  // Creates log_dir (and its parents) and the file events.out.tfevents.<unix seconds>.<hostname>.fasttab in it.
  explicit TensorBoardWriter(const std::string& log_dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One scalar point: tag (e.g. "test/auc"), value at training step `step`, wall_time_s in seconds since
  // the Unix epoch (TensorBoard's "relative" axis subtracts the first one).
  void add_scalar(const std::string& tag, float value, std::int64_t step, double wall_time_s);
  // Pushes buffered records to the operating system so that a running TensorBoard sees them.
  void flush();
  const std::string& path() const;

 private:
  void write_record(const std::string& data);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace fasttab
