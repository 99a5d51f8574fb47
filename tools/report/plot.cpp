#include "tools/report/plot.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "fasttab/error.hpp"

namespace fasttab {
namespace {

// Tableau 10: distinct hues that stay distinguishable for the common colour-vision deficiencies.
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

// Layout in SVG user units (= CSS pixels at 100% zoom). Two panels side by side, each:
//   kLeft (y tick labels + axis title) | kPlotW plot area | right margin (direct curve labels)
constexpr double kLeft = 72, kPlotW = 420, kTop = 78, kPlotH = 300, kBottom = 64;
constexpr double kTickFont = 12, kLabelFont = 13, kAxisFont = 14, kTitleFont = 18;
constexpr double kLabelGap = 15;   // minimum vertical distance between two direct labels' baselines
constexpr double kCharW = 7.6;     // average glyph advance of kLabelFont-px sans, to size the right margin
constexpr double kLogSpan = 20.0;  // end times spanning more than this ratio get a log time axis

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {  // SVG coordinates: two decimals are sub-pixel
  char s[32];
  std::snprintf(s, sizeof s, "%.2f", v);
  return s;
}

// An axis: data range [lo, hi] (positive on a log axis) and the tick values inside it.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  int decimals = 0;  // for tick labels on a linear axis

  double fraction(double v) const {
    return log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
  }
};

// Linear axis covering [lo, hi] with ~5 ticks at multiples of 1, 2 or 5 x 10^k, bounds rounded out to ticks.
Axis linear_axis(double lo, double hi) {
  if (!(lo < hi)) {  // one value (or none): open a small range around it
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  Axis a;
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  for (double t = a.lo; t <= a.hi + step * 1e-6; t += step) a.ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return a;
}

// The largest 1, 2 or 5 x 10^k at or below v (down = true) or the smallest at or above it.
double nice_125(double v, bool down) {
  const double decade = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
  if (down) {
    for (double m : {5.0, 2.0, 1.0})
      if (m * decade <= v * (1 + 1e-9)) return m * decade;
    return decade;
  }
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * decade >= v * (1 - 1e-9)) return m * decade;
  return 10 * decade;
}

// Log axis from a 1-2-5 value at or below lo to one at or above hi; ticks at decades, plus 2 and 5 when the
// axis spans fewer than three decades (so there are always several labelled ticks), plus both ends.
Axis log_axis(double lo, double hi) {
  Axis a;
  a.log = true;
  a.lo = nice_125(lo, true);
  a.hi = nice_125(hi, false);
  if (a.hi <= a.lo) a.hi = a.lo * 10;
  const bool fine = a.hi / a.lo < 1000;
  for (double decade = std::pow(10.0, std::floor(std::log10(a.lo) + 1e-9)); decade <= a.hi * (1 + 1e-9); decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = m * decade;
      const bool end = std::abs(t / a.lo - 1) < 1e-9 || std::abs(t / a.hi - 1) < 1e-9;
      if ((m == 1.0 || fine || end) && t >= a.lo * (1 - 1e-9) && t <= a.hi * (1 + 1e-9)) a.ticks.push_back(t);
    }
  }
  return a;
}

std::string tick_label(const Axis& a, double v) {
  char s[32];
  if (a.log) {
    if (v >= 1e5 || v < 1e-3) std::snprintf(s, sizeof s, "1e%d", static_cast<int>(std::lround(std::log10(v))));
    else std::snprintf(s, sizeof s, "%g", v);
  } else {
    std::snprintf(s, sizeof s, "%.*f", a.decimals, v);
  }
  return s;
}

struct Point {
  double t, v;
};

// The drawable points of one curve in one panel.
std::vector<Point> finite_points(const std::vector<double>& seconds, const std::vector<double>& values, bool log_time) {
  std::vector<Point> points;
  const std::size_t n = std::min(seconds.size(), values.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(seconds[i]) || !std::isfinite(values[i])) continue;
    if (log_time && seconds[i] <= 0) continue;
    points.push_back({seconds[i], values[i]});
  }
  return points;
}

// The time axis shared by both panels: log when the curves' last times span more than kLogSpan.
Axis time_axis(const std::vector<PlotCurve>& curves) {
  double end_min = std::numeric_limits<double>::infinity(), end_max = 0, positive_min = end_min;
  for (const PlotCurve& c : curves) {
    double end = -1;
    for (double t : c.seconds) {
      if (!std::isfinite(t)) continue;
      end = std::max(end, t);
      if (t > 0) positive_min = std::min(positive_min, t);
    }
    if (end > 0) {
      end_min = std::min(end_min, end);
      end_max = std::max(end_max, end);
    }
  }
  if (end_max <= 0) return linear_axis(0, 1);
  if (end_max > kLogSpan * end_min) return log_axis(positive_min, end_max);
  return linear_axis(0, end_max);
}

// Moves label baselines apart so that labels overlapping horizontally are at least kLabelGap apart, within
// [top, bottom], keeping their top-to-bottom order that of the curves' ends (so leader lines never cross):
// a downward sweep in that order, then an upward one if the bottom pushed labels back.
void separate_labels(std::vector<double>& y, const std::vector<double>& x0, const std::vector<double>& x1, double top,
                     double bottom) {
  std::vector<std::size_t> order(y.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b]; });
  auto overlap = [&](std::size_t a, std::size_t b) { return x0[a] < x1[b] && x0[b] < x1[a]; };
  for (std::size_t k = 0; k < order.size(); ++k) {
    double& v = y[order[k]];
    v = std::max(v, top);
    for (std::size_t j = 0; j < k; ++j)
      if (overlap(order[j], order[k])) v = std::max(v, y[order[j]] + kLabelGap);
  }
  for (std::size_t k = order.size(); k-- > 0;) {
    double& v = y[order[k]];
    v = std::min(v, bottom);
    for (std::size_t j = k + 1; j < order.size(); ++j)
      if (overlap(order[j], order[k])) v = std::min(v, y[order[j]] - kLabelGap);
  }
}

// Where a panel's plot area lies, and its two axes: px and py map a time and a value to SVG coordinates.
struct PanelGeometry {
  double x0, left, right, top, bottom;
  const Axis& time;
  Axis value;
  double px(double t) const { return left + time.fraction(t) * kPlotW; }
  double py(double v) const { return bottom - value.fraction(v) * kPlotH; }
};

// The value axis over every curve's points, with 4% headroom on each side so that no curve runs along the
// frame and its label stays inside the panel; 0 to 1 (and *empty) when there are no points.
Axis value_axis(const std::vector<std::vector<Point>>& points, bool* empty) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& curve : points) {
    for (const Point& p : curve) {
      lo = std::min(lo, p.v);
      hi = std::max(hi, p.v);
    }
  }
  *empty = !(lo <= hi);
  const double pad = (hi - lo) * 0.04;
  return *empty ? linear_axis(0, 1) : linear_axis(lo - pad, hi + pad);
}

// Grid and ticks. Gridlines light, so the curves carry the ink.
void draw_grid(std::ostringstream& svg, const PanelGeometry& g) {
  for (double t : g.time.ticks) {
    const double x = g.px(t);
    svg << "<line x1=\"" << num(x) << "\" y1=\"" << num(g.top) << "\" x2=\"" << num(x) << "\" y2=\"" << num(g.bottom)
        << "\" stroke=\"#e5e5e5\"/>\n";
    svg << "<line x1=\"" << num(x) << "\" y1=\"" << num(g.bottom) << "\" x2=\"" << num(x) << "\" y2=\""
        << num(g.bottom + 5) << "\" stroke=\"#333\"/>\n";
    svg << "<text x=\"" << num(x) << "\" y=\"" << num(g.bottom + 19) << "\" text-anchor=\"middle\" font-size=\""
        << kTickFont << "\">" << tick_label(g.time, t) << "</text>\n";
  }
  for (double v : g.value.ticks) {
    const double y = g.py(v);
    svg << "<line x1=\"" << num(g.left) << "\" y1=\"" << num(y) << "\" x2=\"" << num(g.right) << "\" y2=\"" << num(y)
        << "\" stroke=\"#e5e5e5\"/>\n";
    svg << "<line x1=\"" << num(g.left - 5) << "\" y1=\"" << num(y) << "\" x2=\"" << num(g.left) << "\" y2=\""
        << num(y) << "\" stroke=\"#333\"/>\n";
    svg << "<text x=\"" << num(g.left - 8) << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\" font-size=\""
        << kTickFont << "\">" << tick_label(g.value, v) << "</text>\n";
  }
}

// The frame, the axis titles, and "no data" on an empty panel.
void draw_frame(std::ostringstream& svg, const PanelGeometry& g, const std::string& y_name, bool empty) {
  svg << "<rect x=\"" << num(g.left) << "\" y=\"" << num(g.top) << "\" width=\"" << num(kPlotW) << "\" height=\""
      << num(kPlotH) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg << "<text x=\"" << num(g.left + kPlotW / 2) << "\" y=\"" << num(g.bottom + 44)
      << "\" text-anchor=\"middle\" font-size=\"" << kAxisFont << "\">time since start of training (s"
      << (g.time.log ? ", log scale" : "") << ")</text>\n";
  const double mid_y = g.top + kPlotH / 2;
  svg << "<text x=\"" << num(g.x0 + 18) << "\" y=\"" << num(mid_y) << "\" text-anchor=\"middle\" font-size=\""
      << kAxisFont << "\" transform=\"rotate(-90 " << num(g.x0 + 18) << " " << num(mid_y) << ")\">"
      << escape_xml(y_name) << "</text>\n";
  if (empty) {
    svg << "<text x=\"" << num(g.left + kPlotW / 2) << "\" y=\"" << num(mid_y)
        << "\" text-anchor=\"middle\" font-size=\"" << kAxisFont << "\" fill=\"#888\">no data</text>\n";
  }
}

const char* curve_colour(std::size_t c) { return kColours[c % (sizeof kColours / sizeof kColours[0])]; }

// Where each drawn curve ends and where its label goes.
struct CurveLabels {
  std::vector<double> y, x0, x1, end_x, end_y;
  std::vector<std::size_t> curve;
};

// Curves, clipped to the plot area (a point exactly on the frame stays visible; nothing spills outside), each
// with a dot at its end; returns where their labels start.
CurveLabels draw_curves(std::ostringstream& svg, const PanelGeometry& g, const std::vector<PlotCurve>& curves,
                        const std::vector<std::vector<Point>>& points, bool loss_panel) {
  const std::string clip = loss_panel ? "clip-loss" : "clip-metric";
  svg << "<clipPath id=\"" << clip << "\"><rect x=\"" << num(g.left - 4) << "\" y=\"" << num(g.top - 4)
      << "\" width=\"" << num(kPlotW + 8) << "\" height=\"" << num(kPlotH + 8) << "\"/></clipPath>\n";
  CurveLabels labels;
  for (std::size_t c = 0; c < curves.size(); ++c) {
    if (points[c].empty()) continue;
    const char* colour = curve_colour(c);
    svg << "<polyline class=\"curve\" data-label=\"" << escape_xml(curves[c].label) << "\" clip-path=\"url(#" << clip
        << ")\" fill=\"none\" stroke=\"" << colour
        << "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"";
    for (std::size_t i = 0; i < points[c].size(); ++i)
      svg << (i ? " " : "") << num(g.px(points[c][i].t)) << "," << num(g.py(points[c][i].v));
    svg << "\"/>\n";
    const Point& last = points[c].back();
    svg << "<circle cx=\"" << num(g.px(last.t)) << "\" cy=\"" << num(g.py(last.v)) << "\" r=\"3\" fill=\"" << colour
        << "\"/>\n";
    labels.curve.push_back(c);
    labels.end_x.push_back(g.px(last.t));
    labels.end_y.push_back(g.py(last.v));
    labels.y.push_back(g.py(last.v) + 4);  // baseline so the text's middle sits at the point
    labels.x0.push_back(g.px(last.t) + 7);
    labels.x1.push_back(g.px(last.t) + 7 + kCharW * static_cast<double>(curves[c].label.size()));
  }
  return labels;
}

// A direct label per curve, moved apart where they would overlap.
void draw_labels(std::ostringstream& svg, const PanelGeometry& g, const std::vector<PlotCurve>& curves,
                 CurveLabels& labels) {
  separate_labels(labels.y, labels.x0, labels.x1, g.top + 10, g.bottom - 3);
  for (std::size_t k = 0; k < labels.curve.size(); ++k) {
    const char* colour = curve_colour(labels.curve[k]);
    if (std::abs(labels.y[k] - 4 - labels.end_y[k]) > 6) {  // nudged: a thin leader line back to the curve's end
      svg << "<line x1=\"" << num(labels.end_x[k] + 3) << "\" y1=\"" << num(labels.end_y[k]) << "\" x2=\""
          << num(labels.x0[k] - 1) << "\" y2=\"" << num(labels.y[k] - 4) << "\" stroke=\"" << colour
          << "\" stroke-width=\"1\"/>\n";
    }
    // A white halo keeps a label readable where it crosses another curve or a gridline.
    svg << "<text class=\"label\" x=\"" << num(labels.x0[k]) << "\" y=\"" << num(labels.y[k]) << "\" font-size=\""
        << kLabelFont << "\" font-weight=\"bold\" fill=\"" << colour
        << "\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">"
        << escape_xml(curves[labels.curve[k]].label) << "</text>\n";
  }
}

// One panel at horizontal offset x0: frame, grid, ticks, axis titles, one polyline and a direct label per curve.
void draw_panel(std::ostringstream& svg, double x0, const std::string& panel_title, const std::string& y_name,
                const Axis& time, const std::vector<PlotCurve>& curves, bool loss_panel) {
  std::vector<std::vector<Point>> points;
  for (const PlotCurve& c : curves) points.push_back(finite_points(c.seconds, loss_panel ? c.loss : c.metric, time.log));
  bool empty = false;
  const double left = x0 + kLeft;
  const PanelGeometry g{x0, left, left + kPlotW, kTop, kTop + kPlotH, time, value_axis(points, &empty)};

  svg << "<g class=\"panel\">\n";
  svg << "<text x=\"" << num(left + kPlotW / 2) << "\" y=\"" << num(g.top - 14)
      << "\" text-anchor=\"middle\" font-size=\"" << kAxisFont + 1 << "\" font-weight=\"bold\">"
      << escape_xml(panel_title) << "</text>\n";
  draw_grid(svg, g);
  draw_frame(svg, g, y_name, empty);
  CurveLabels labels = draw_curves(svg, g, curves, points, loss_panel);
  draw_labels(svg, g, curves, labels);
  svg << "</g>\n";
}

}  // namespace

std::string render_svg_plot(const std::string& title, const std::string& metric_name,
                            const std::vector<PlotCurve>& curves) {
  std::size_t longest = 0;
  for (const PlotCurve& c : curves) longest = std::max(longest, c.label.size());
  // Room on the right of each panel for the labels of curves that end at the last time tick.
  const double right = std::clamp(16 + kCharW * static_cast<double>(longest), 40.0, 200.0);
  const double panel_w = kLeft + kPlotW + right;
  const double width = 2 * panel_w, height = kTop + kPlotH + kBottom;
  const Axis time = time_axis(curves);

  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
      << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\" font-family=\"" << kFont
      << "\" fill=\"#222\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << num(width / 2) << "\" y=\"28\" text-anchor=\"middle\" font-size=\"" << kTitleFont
      << "\" font-weight=\"bold\">" << escape_xml(title) << "</text>\n";
  draw_panel(svg, 0, metric_name + " vs time", metric_name, time, curves, false);
  draw_panel(svg, panel_w, "test loss vs time", "test loss", time, curves, true);
  svg << "</svg>\n";
  return svg.str();
}

void write_svg_plot(const std::string& path, const std::string& title, const std::string& metric_name,
                    const std::vector<PlotCurve>& curves) {
  const std::string svg = render_svg_plot(title, metric_name, curves);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  FASTTAB_REQUIRE(out, "cannot create plot ", path, ": ", std::strerror(errno));
  out << svg;
  out.close();
  FASTTAB_REQUIRE(out, "cannot write plot ", path, ": ", std::strerror(errno));
}

}  // namespace fasttab
