#include "tools/report/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace fasttab {
namespace {

constexpr double kRedrawInterval_s = 0.1;  // ~10 redraws a second: smooth to the eye, negligible cost
constexpr int kBarWidth = 20;
// "\r" returns to column 0; ESC [ K erases to the end of the line, so a shorter redraw leaves no tail behind.
constexpr const char* kClearLine = "\r\033[K";

double steady_now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 12.3M, 950k, 1.20G: three significant figures are all a rate on a status line needs.
std::string human_rate(double v) {
  if (!std::isfinite(v) || v < 0) return "--";
  const char* suffix = "";
  if (v >= 1e9) v /= 1e9, suffix = "G";
  else if (v >= 1e6) v /= 1e6, suffix = "M";
  else if (v >= 1e3) v /= 1e3, suffix = "k";
  char s[32];
  std::snprintf(s, sizeof s, v >= 100 ? "%.0f%s" : v >= 10 ? "%.1f%s" : "%.2f%s", v, suffix);
  return s;
}

// m:ss below an hour, h:mm:ss above.
std::string clock_time(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const auto t = static_cast<std::int64_t>(std::llround(s));
  char out[32];
  if (t >= 3600)
    std::snprintf(out, sizeof out, "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  else
    std::snprintf(out, sizeof out, "%lld:%02lld", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  return out;
}

// Columns of the terminal behind `out`, or 0 when unknown. A bar wider than the terminal wraps, and a
// carriage return then redraws only the last row, leaving a trail of half-bars.
int terminal_columns(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 0;
}

}  // namespace

ProgressBar::ProgressBar(std::FILE* out, bool force_plain)
    : out_(out), interactive_(!force_plain && isatty(fileno(out)) == 1), now_s_(steady_now_s) {}

bool ProgressBar::interactive() const { return interactive_; }

void ProgressBar::set_interactive(bool interactive) { interactive_ = interactive; }

void ProgressBar::set_clock(std::function<double()> now_s) { now_s_ = std::move(now_s); }

std::string ProgressBar::format_status(int epoch, int epochs, std::int64_t batches_done, std::int64_t batches_total,
                                       double samples_per_s, double eta_s, double loss) {
  const double fraction =
      batches_total > 0 ? std::clamp(static_cast<double>(batches_done) / static_cast<double>(batches_total), 0.0, 1.0)
                        : 0.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "]";
  char loss_text[32];
  std::snprintf(loss_text, sizeof loss_text, "%.4f", loss);
  return "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs) + " " + bar + " " +
         std::to_string(batches_done) + "/" + std::to_string(batches_total) + " batches  " +
         human_rate(samples_per_s) + " samples/s  ETA " + clock_time(eta_s) + "  loss " +
         (std::isfinite(loss) ? std::string(loss_text) : std::string("nan"));
}

void ProgressBar::update(int epoch, int epochs, std::int64_t batches_done, std::int64_t batches_total,
                         double samples_per_s, double eta_s, double loss) {
  if (!interactive_) return;
  const double now = now_s_();
  const bool last_batch = batches_done >= batches_total;
  if (drawn_ && !last_batch && now - last_draw_s_ < kRedrawInterval_s) return;
  std::string line = format_status(epoch, epochs, batches_done, batches_total, samples_per_s, eta_s, loss);
  const int columns = terminal_columns(out_);
  if (columns > 1 && static_cast<int>(line.size()) > columns - 1) line.resize(columns - 1);
  std::fprintf(out_, "%s%s", kClearLine, line.c_str());
  std::fflush(out_);
  drawn_ = true;
  last_draw_s_ = now;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fputs(kClearLine, out_);
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::finish_epoch(const std::string& line) {
  clear();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace fasttab
