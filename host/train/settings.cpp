#include "fasttab/settings.hpp"

#include <cmath>
#include <sstream>

namespace fasttab {

std::string flag_of_setting(const std::string& key) {
  std::string flag;
  TrainConfig config;
  for_each_setting(config, [&](const Setting& s, const auto&) {
    if (key == s.key) flag = s.flag;
  });
  return flag;
}

std::string out_of_range(const Setting& s, double value) {
  const bool ok = std::isfinite(value) && std::isfinite(static_cast<float>(value)) && (s.min_open ? value > s.min : value >= s.min) && value <= s.max;
  if (ok) return "";
  std::ostringstream want;
  want << "must be a finite number ";
  if (std::isinf(s.max)) want << (s.min_open ? "> " : ">= ") << s.min;
  else want << "in " << (s.min_open ? "(" : "[") << s.min << ", " << s.max << "]";
  return want.str();
}

}  // namespace fasttab
