#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "tools/report/progress.hpp"
#include "test_support.hpp"

namespace {

// Everything written to a tmpfile so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fseek(f, 0, SEEK_END);
  return s;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("progress: status line format") {
  CHECK(fasttab::ProgressBar::format_status(3, 10, 320, 641, 12.3e6, 4.2, 0.51234) ==
        "epoch 3/10 [#########...........] 320/641 batches  12.3M samples/s  ETA 0:04  loss 0.5123");
  CHECK(fasttab::ProgressBar::format_status(1, 1, 0, 0, -1, INFINITY, NAN) ==
        "epoch 1/1 [....................] 0/0 batches  -- samples/s  ETA --:--  loss nan");
  CHECK(fasttab::ProgressBar::format_status(2, 2, 5, 5, 950e3, 3725, 1) ==
        "epoch 2/2 [####################] 5/5 batches  950k samples/s  ETA 1:02:05  loss 1.0000");
}

TEST_CASE("progress: plain mode writes only the epoch lines") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  fasttab::ProgressBar bar(f);  // a tmpfile is not a terminal
  CHECK_FALSE(bar.interactive());
  for (int b = 1; b <= 100; ++b) bar.update(1, 2, b, 100, 1e6, 1.0, 0.5);
  bar.finish_epoch("epoch 1/2  loss 0.5000  auc 0.8000");
  for (int b = 1; b <= 100; ++b) bar.update(2, 2, b, 100, 1e6, 1.0, 0.4);
  bar.finish_epoch("epoch 2/2  loss 0.4000  auc 0.8100");
  CHECK(contents(f) == "epoch 1/2  loss 0.5000  auc 0.8000\nepoch 2/2  loss 0.4000  auc 0.8100\n");
  std::fclose(f);
}

TEST_CASE("progress: a terminal gets the bar, unless force_plain") {
  // A pseudo-terminal: its slave side is a terminal as far as isatty() can tell.
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0)
    FASTTAB_SKIP_TEST("no pseudo-terminal can be opened here");
  std::FILE* terminal = std::fopen(::ptsname(master), "w");
  REQUIRE(terminal != nullptr);
  CHECK(::isatty(::fileno(terminal)) == 1);
  CHECK(fasttab::ProgressBar(terminal).interactive());
  CHECK_FALSE(fasttab::ProgressBar(terminal, /*force_plain=*/true).interactive());
  std::fclose(terminal);
  ::close(master);
}

TEST_CASE("progress: interactive mode redraws in place and rate-limits") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  fasttab::ProgressBar bar(f);
  bar.set_interactive(true);
  double now = 100.0;
  bar.set_clock([&now] { return now; });

  bar.update(1, 2, 1, 100, 1e6, 9.0, 0.7);  // first update always draws
  std::string out = contents(f);
  CHECK(out.rfind("\r\033[K", 0) == 0);
  CHECK(out.find("epoch 1/2") != std::string::npos);
  CHECK(out.find('\n') == std::string::npos);

  // 50 updates within 0.05 s: none drawn.
  for (int b = 2; b <= 51; ++b) {
    now += 0.001;
    bar.update(1, 2, b, 100, 1e6, 5.0, 0.6);
  }
  CHECK(count(contents(f), "\r") == 1);
  // 1 s of updates every 10 ms: about 10 redraws, not 100.
  for (int b = 52; b <= 99; ++b) {
    now += 0.02;
    bar.update(1, 2, b, 100, 1e6, 1.0, 0.55);
  }
  const std::size_t redraws = count(contents(f), "\r");
  CHECK(redraws >= 1 + 8);
  CHECK(redraws <= 1 + 11);
  // The last batch always draws, even within the interval.
  now += 0.001;
  bar.update(1, 2, 100, 100, 1e6, 0.0, 0.5);
  out = contents(f);
  CHECK(count(out, "\r") == redraws + 1);
  CHECK(out.find("100/100 batches") != std::string::npos);

  // finish_epoch clears the bar and prints the line on its own.
  bar.finish_epoch("epoch 1/2  loss 0.5000");
  out = contents(f);
  const std::string tail = "\r\033[Kepoch 1/2  loss 0.5000\n";
  REQUIRE(out.size() >= tail.size());
  CHECK(out.substr(out.size() - tail.size()) == tail);
  // With no bar drawn, finish_epoch prints just the line.
  bar.finish_epoch("done");
  CHECK(contents(f).substr(out.size()) == "done\n");
  std::fclose(f);
}
