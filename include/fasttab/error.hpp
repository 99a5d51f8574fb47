// fasttab::Error: the one exception type the library throws. Its message says what went wrong and what
// the user can do about it (the flag and its range, the file and line of a bad row, the bytes a table needs).
// Executables catch it, print "error: <message>" and exit non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace fasttab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// FASTTAB_FAIL("batch size ", n, " is not in [1, ", max, "]") throws fasttab::Error with the parts joined.
#define FASTTAB_FAIL(...) throw ::fasttab::Error(::fasttab::detail::concat(__VA_ARGS__))

// FASTTAB_REQUIRE(cond, parts...) throws when cond is false.
#define FASTTAB_REQUIRE(cond, ...) \
  do {                             \
    if (!(cond)) FASTTAB_FAIL(__VA_ARGS__); \
  } while (0)

}  // namespace fasttab
