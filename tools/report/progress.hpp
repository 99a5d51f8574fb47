// The training progress display: on a terminal, one status line redrawn in place (carriage return) at most
// ~10 times a second; elsewhere (a log file, a pipe, CI) nothing but the per-epoch lines, so that logs stay
// one line per epoch instead of thousands of redraws.
//
//   epoch 3/10 [########............] 320/641 batches  12.3M samples/s  ETA 0:04  loss 0.5123
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace fasttab {

class ProgressBar {
 public:
  // Draws a bar when `out` is a terminal (isatty) and force_plain is false; plain lines otherwise.
  ProgressBar(std::FILE* out, bool force_plain = false);

  bool interactive() const;
  // Forces the mode regardless of isatty (tests; a --progress=bar|plain flag).
  void set_interactive(bool interactive);
  // The clock used for rate limiting, in seconds (default: steady_clock). Tests pass a fake one.
  void set_clock(std::function<double()> now_s);
  // Redraws at most every 0.1 s on a terminal (the last batch of an epoch always draws); nothing in plain mode.
  // eta_s or loss that are not finite print as "--:--" and "nan".
  void update(int epoch, int epochs, std::int64_t batches_done, std::int64_t batches_total, double samples_per_s,
              double eta_s, double loss);
  // Clears the bar on a terminal, then prints line and a newline (in both modes).
  void finish_epoch(const std::string& line);
  // Clears the bar, if one is drawn, so that other output (a warning) starts on a clean line.
  void clear();

  // The status line update() draws, without the carriage return (exposed for tests).
  static std::string format_status(int epoch, int epochs, std::int64_t batches_done, std::int64_t batches_total,
                                   double samples_per_s, double eta_s, double loss);

 private:
  std::FILE* out_;
  bool interactive_;
  bool drawn_ = false;        // a bar is on the current terminal line
  double last_draw_s_ = 0.0;  // clock time of the last redraw
  std::function<double()> now_s_;
};

}  // namespace fasttab
