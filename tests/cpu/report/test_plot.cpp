#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <string>
#include <vector>

#include "fasttab/error.hpp"
#include "tools/report/plot.hpp"

namespace {

// Well-formedness, simply: every element closes in order (<a>..</a>, <a/>), no stray '<' or '&'.
bool tags_balanced(const std::string& svg, std::string* why) {
  std::vector<std::string> open;
  std::size_t at = 0;
  while ((at = svg.find('<', at)) != std::string::npos) {
    const std::size_t end = svg.find('>', at);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    const std::string tag = svg.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;  // XML declaration, comment
    if (tag.find('<') != std::string::npos) return *why = "'<' inside a tag", false;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return *why = "</" + name + "> closes nothing open", false;
      open.pop_back();
      continue;
    }
    if (tag.back() == '/') continue;
    open.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
  }
  for (std::size_t i = 0; i < svg.size(); ++i) {
    if (svg[i] == '&' && svg.compare(i, 5, "&amp;") && svg.compare(i, 4, "&lt;") && svg.compare(i, 4, "&gt;") &&
        svg.compare(i, 6, "&quot;"))
      return *why = "unescaped '&'", false;
  }
  if (!open.empty()) return *why = "<" + open.back() + "> never closed", false;
  return true;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// Number of points in the polyline of the given label in panel `panel` (0 = metric, 1 = loss); -1 if none.
int polyline_points(const std::string& svg, const std::string& label, int panel) {
  std::size_t at = 0;
  for (int p = 0; p <= panel; ++p) {
    at = svg.find("<g class=\"panel\">", at);
    if (at == std::string::npos) return -1;
    at += 1;
  }
  const std::size_t panel_end = svg.find("</g>", at);
  const std::size_t line = svg.find("<polyline class=\"curve\" data-label=\"" + label + "\"", at);
  if (line == std::string::npos || line > panel_end) return -1;
  const std::size_t begin = svg.find("points=\"", line) + 8;
  const std::string points = svg.substr(begin, svg.find('"', begin) - begin);
  return points.empty() ? 0 : static_cast<int>(count(points, " ")) + 1;
}

// The (x, y) pairs of the polyline of `label` in panel `panel`, and that panel's frame (the plot area).
struct PanelGeometry {
  std::vector<std::pair<double, double>> points;
  double left = 0, top = 0, width = 0, height = 0;
};
PanelGeometry panel_geometry(const std::string& svg, const std::string& label, int panel) {
  PanelGeometry g;
  std::size_t at = 0;
  for (int p = 0; p <= panel; ++p) at = svg.find("<g class=\"panel\">", at) + 1;
  auto attribute = [&](std::size_t from, const std::string& name) {
    const std::size_t v = svg.find(" " + name + "=\"", from) + name.size() + 3;
    return std::stod(svg.substr(v));
  };
  const std::size_t rect = svg.find("<rect x=", at);
  g.left = attribute(rect, "x");
  g.top = attribute(rect, "y");
  g.width = attribute(rect, "width");
  g.height = attribute(rect, "height");
  const std::size_t line = svg.find("<polyline class=\"curve\" data-label=\"" + label + "\"", at);
  const std::size_t begin = svg.find("points=\"", line) + 8;
  std::istringstream points(svg.substr(begin, svg.find('"', begin) - begin));
  std::string pair;
  while (points >> pair) {
    const std::size_t comma = pair.find(',');
    g.points.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return g;
}

fasttab::PlotCurve curve(const std::string& label, int n, double time_scale) {
  fasttab::PlotCurve c;
  c.label = label;
  for (int i = 1; i <= n; ++i) {
    c.seconds.push_back(i * time_scale);
    c.metric.push_back(0.9 - 0.2 / i);
    c.loss.push_back(0.3 + 0.3 / i);
  }
  return c;
}

}  // namespace

TEST_CASE("plot: one polyline per curve with its points, each label present, well-formed") {
  auto gather = curve("gather", 10, 1.0);
  auto per_sample = curve("per-sample", 10, 100.0);  // 100x slower: log time axis
  auto run = curve("run <A&B>", 7, 2.0);
  run.metric[2] = NAN;  // skipped in the metric panel only
  run.loss[5] = INFINITY;
  run.seconds.push_back(20);  // longer than metric/loss: the extra time has no values
  const std::string svg = fasttab::render_svg_plot("loaders \"compared\"", "test AUC", {gather, per_sample, run});
  std::string why;
  CHECK_MESSAGE(tags_balanced(svg, &why), why);
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count(svg, "<polyline") == 6);
  CHECK(polyline_points(svg, "gather", 0) == 10);
  CHECK(polyline_points(svg, "gather", 1) == 10);
  CHECK(polyline_points(svg, "per-sample", 0) == 10);
  CHECK(polyline_points(svg, "run &lt;A&amp;B&gt;", 0) == 6);
  CHECK(polyline_points(svg, "run &lt;A&amp;B&gt;", 1) == 6);
  CHECK(count(svg, ">gather</text>") == 2);
  CHECK(count(svg, ">per-sample</text>") == 2);
  CHECK(count(svg, ">run &lt;A&amp;B&gt;</text>") == 2);
  CHECK(svg.find("loaders &quot;compared&quot;") != std::string::npos);
  CHECK(svg.find("log scale") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
}

TEST_CASE("plot: linear time axis when end times are close") {
  const std::string svg = fasttab::render_svg_plot("t", "AUC", {curve("a", 5, 1.0), curve("b", 5, 1.5)});
  CHECK(svg.find("log scale") == std::string::npos);
  CHECK(svg.find("time since start of training (s)") != std::string::npos);
}

TEST_CASE("plot: empty, single-point and all-NaN curves do not crash") {
  fasttab::PlotCurve empty;
  empty.label = "empty";
  fasttab::PlotCurve single = curve("single", 1, 3.0);
  fasttab::PlotCurve nans = curve("nans", 3, 1.0);
  for (auto& v : nans.metric) v = NAN;
  nans.loss.clear();
  std::string why;
  for (const auto& curves : std::vector<std::vector<fasttab::PlotCurve>>{
           {}, {empty}, {single}, {empty, single, nans}, {nans}}) {
    const std::string svg = fasttab::render_svg_plot("edge cases", "AUC", curves);
    CHECK_MESSAGE(tags_balanced(svg, &why), why);
    CHECK(svg.find("nan\"") == std::string::npos);
  }
  const std::string svg = fasttab::render_svg_plot("edge cases", "AUC", {empty, single, nans});
  CHECK(polyline_points(svg, "single", 0) == 1);
  CHECK(polyline_points(svg, "single", 1) == 1);
  CHECK(polyline_points(svg, "empty", 0) == -1);
  CHECK(polyline_points(svg, "nans", 0) == -1);
  CHECK(polyline_points(svg, "nans", 1) == -1);
  CHECK(count(svg, ">single</text>") == 2);
  CHECK(count(svg, "no data") == 0);  // the single point gives both panels data
  CHECK(count(fasttab::render_svg_plot("none", "AUC", {empty, nans}), "no data") == 2);
}

TEST_CASE("plot: labels of curves ending together are nudged apart") {
  std::vector<fasttab::PlotCurve> curves;
  for (int k = 0; k < 5; ++k) curves.push_back(curve("curve" + std::to_string(k), 10, 1.0));  // identical ends
  const std::string svg = fasttab::render_svg_plot("crowded", "AUC", curves);
  std::vector<double> ys;
  for (std::size_t at = svg.find("<text class=\"label\""); at != std::string::npos && ys.size() < 5;
       at = svg.find("<text class=\"label\"", at + 1)) {
    const std::size_t y = svg.find(" y=\"", at) + 4;
    ys.push_back(std::stod(svg.substr(y)));
  }
  REQUIRE(ys.size() == 5);
  std::sort(ys.begin(), ys.end());
  for (std::size_t i = 1; i < ys.size(); ++i) CHECK(ys[i] - ys[i - 1] >= 14.0);
}

TEST_CASE("plot: write_svg_plot writes the file, and names it when it cannot") {
  const auto dir = std::filesystem::temp_directory_path() / ("fasttab_test_plot_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "curves.svg";
  fasttab::write_svg_plot(path.string(), "t", "AUC", {curve("a", 3, 1.0)});
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == fasttab::render_svg_plot("t", "AUC", {curve("a", 3, 1.0)}));
  CHECK_THROWS_WITH_AS(fasttab::write_svg_plot((dir / "missing" / "x.svg").string(), "t", "AUC", {}),
                       doctest::Contains("cannot create plot"), fasttab::Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("plot: coordinates: time runs left to right, values bottom to top, inside the frame") {
  // Linear axis: times 1..10 s with metric 0.9 - 0.2 / i (rising) and loss 0.3 + 0.3 / i (falling).
  const std::string svg = fasttab::render_svg_plot("t", "AUC", {curve("a", 10, 1.0)});
  for (int panel = 0; panel < 2; ++panel) {
    CAPTURE(panel);
    const PanelGeometry g = panel_geometry(svg, "a", panel);
    REQUIRE(g.points.size() == 10);
    const double dx = g.points[1].first - g.points[0].first;
    CHECK(dx > 0);
    for (std::size_t i = 0; i < g.points.size(); ++i) {
      const auto [x, y] = g.points[i];
      CHECK(x >= g.left - 0.01);
      CHECK(x <= g.left + g.width + 0.01);
      CHECK(y >= g.top - 0.01);
      CHECK(y <= g.top + g.height + 0.01);
      if (i > 0) {
        // Equal time steps are equal distances on a linear axis (to the 2 decimals the SVG writes).
        CHECK(g.points[i].first - g.points[i - 1].first == doctest::Approx(dx).epsilon(0.01));
        // SVG's y grows downwards: a rising metric goes up the page, a falling loss down.
        if (panel == 0) CHECK(g.points[i].second < g.points[i - 1].second);
        else CHECK(g.points[i].second > g.points[i - 1].second);
      }
    }
    // Time 0 is the left edge of a linear axis, so t = 1 s sits one step in: x(1) - left == dx.
    CHECK(g.points[0].first - g.left == doctest::Approx(dx).epsilon(0.01));
  }
  // y is linear in the value: the same pixels per unit of metric between any two points.
  const PanelGeometry m = panel_geometry(svg, "a", 0);
  const fasttab::PlotCurve a = curve("a", 10, 1.0);
  const double per_unit = (m.points[9].second - m.points[0].second) / (a.metric[9] - a.metric[0]);
  CHECK(per_unit < 0);
  for (int i = 1; i < 9; ++i)
    CHECK(m.points[i].second - m.points[0].second == doctest::Approx(per_unit * (a.metric[i] - a.metric[0])).epsilon(0.02));
}

TEST_CASE("plot: coordinates on a log time axis: equal ratios of time are equal distances") {
  fasttab::PlotCurve fast = curve("fast", 4, 1.0), slow;
  slow.label = "slow";
  for (double t : {1.0, 10.0, 100.0, 1000.0}) {  // 1000x the other curve's end: a log axis
    slow.seconds.push_back(t);
    slow.metric.push_back(0.8);
    slow.loss.push_back(0.4);
  }
  const std::string svg = fasttab::render_svg_plot("t", "AUC", {fast, slow});
  REQUIRE(svg.find("log scale") != std::string::npos);
  const PanelGeometry g = panel_geometry(svg, "slow", 0);
  REQUIRE(g.points.size() == 4);
  const double decade = g.points[1].first - g.points[0].first;
  CHECK(decade > 0);
  CHECK(g.points[2].first - g.points[1].first == doctest::Approx(decade).epsilon(0.01));
  CHECK(g.points[3].first - g.points[2].first == doctest::Approx(decade).epsilon(0.01));
  CHECK(g.points[0].second == g.points[3].second);  // a constant value is a horizontal line
}
