// Training curves as a self-contained SVG file (no plotting library), for comparing runs or loaders at a
// glance in a browser: metric against time on the left, loss against time on the right.
#pragma once

#include <string>
#include <vector>

namespace fasttab {

struct PlotCurve {
  std::string label;            // e.g. "gather" or "per-sample" or "run"
  std::vector<double> seconds;  // wall-clock time since the start of training
  std::vector<double> metric;   // e.g. test AUC
  std::vector<double> loss;     // test loss
};

// Two panels side by side: metric against time (left), loss against time (right); one colour per curve;
// each curve labelled directly at its last point (labels nudged apart vertically when curves end close
// together); axes with "nice" ticks and units; a log time axis when the curves' end times span more than 20x
// (loaders differ by 100x). Point i of a curve is (seconds[i], metric[i]) / (seconds[i], loss[i]); points with
// a non-finite coordinate (or a time <= 0 on a log axis) are skipped, and a curve with no loss values simply
// has no line in the right panel. Throws Error when the file cannot be written.
void write_svg_plot(const std::string& path, const std::string& title, const std::string& metric_name,
                    const std::vector<PlotCurve>& curves);

// The SVG text write_svg_plot writes (exposed for tests and for embedding in an HTML report).
std::string render_svg_plot(const std::string& title, const std::string& metric_name,
                            const std::vector<PlotCurve>& curves);

}  // namespace fasttab
