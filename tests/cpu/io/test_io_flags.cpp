// tools/io_flags.hpp: every flag lands in LoadOptions, and bad values are refused by the parser.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tools/io_flags.hpp"

namespace {
// Parses `args` with the io flags; returns the error text ("" when parsing succeeds).
std::string parse(std::vector<std::string> args, fasttab::LoadOptions& options) {
  CLI::App app;
  fasttab::add_io_flags(app, options);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("io flags: every flag sets its option") {
  fasttab::LoadOptions o;
  REQUIRE(parse({"--label-col", "3", "--features", "1-21,25", "--no-header", "--delimiter", "tab", "--nan-policy",
                 "drop", "--cache-dir", "/tmp/c", "--no-cache", "--io-threads", "4"},
                o) == "");
  CHECK(o.label_col == 3);
  CHECK(o.features == "1-21,25");
  CHECK(o.header == fasttab::HeaderMode::absent);
  CHECK(o.delimiter == '\t');
  CHECK(o.nan_policy == fasttab::NanPolicy::drop);
  CHECK(o.cache_dir == "/tmp/c");
  CHECK_FALSE(o.use_cache);
  CHECK(o.threads == 4);

  fasttab::LoadOptions p;
  REQUIRE(parse({"--header", "--delimiter", ";", "--nan-policy", "ZERO"}, p) == "");
  CHECK(p.header == fasttab::HeaderMode::present);
  CHECK(p.delimiter == ';');
  CHECK(p.nan_policy == fasttab::NanPolicy::zero);
  REQUIRE(parse({"--delimiter", ","}, p) == "");
  CHECK(p.delimiter == ',');

  fasttab::LoadOptions defaults;
  REQUIRE(parse({}, defaults) == "");
  CHECK(defaults.header == fasttab::HeaderMode::detect);
  CHECK(defaults.delimiter == 0);
  CHECK(defaults.use_cache);
}

TEST_CASE("io flags: bad values are refused") {
  fasttab::LoadOptions o;
  CHECK(parse({"--nan-policy", "ignore"}, o).find("not in {reject,drop,zero,indicator}") != std::string::npos);
  CHECK(parse({"--delimiter", "|"}, o).find("'|' is not a delimiter") != std::string::npos);
  CHECK_FALSE(parse({"--label-col", "-1"}, o).empty());
  CHECK_FALSE(parse({"--io-threads", "-2"}, o).empty());
  CHECK_FALSE(parse({"--data", "x.csv"}, o).empty());  // --data belongs to each tool, not to the io flags
}
