#include "models/shapes.hpp"

#include "core/error.hpp"

#include <algorithm>

namespace automl::models {

const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> k_names{"funnel", "long_funnel", "diamond", "hexagon",
                                                "brick",  "triangle",    "stairs"};
  return k_names;
}

std::vector<std::int64_t> shaped_widths(const std::string& shape, std::int64_t in, std::int64_t out,
                                        std::int64_t max_units, std::int64_t layers) {
  if (std::find(shape_names().begin(), shape_names().end(), shape) == shape_names().end()) {
    std::string valid;
    for (const auto& s : shape_names()) valid += (valid.empty() ? "" : ", ") + s;
    throw InputError("unknown network shape '" + shape + "'; valid: " + valid);
  }
  std::vector<std::int64_t> w;
  if (layers <= 0) return w;
  if (layers == 1) return {out};
  const std::int64_t top = std::max(in, max_units);
  auto append = [&w](const std::vector<std::int64_t>& more) { w.insert(w.end(), more.begin(), more.end()); };

  if (shape == "brick") {
    w.assign(static_cast<std::size_t>(layers - 1), top);
    w.push_back(out);
  } else if (shape == "triangle") {
    const std::int64_t step = std::max<std::int64_t>(0, (top - in) / (layers - 1));
    std::int64_t previous = in;
    for (std::int64_t i = 0; i < layers - 2; ++i) w.push_back(previous += step);
    w.push_back(top);
    w.push_back(out);
  } else if (shape == "funnel") {
    const std::int64_t step = std::max<std::int64_t>(0, (top - out) / (layers - 1));
    std::int64_t previous = top;
    w.push_back(previous);
    for (std::int64_t i = 0; i < layers - 2; ++i) w.push_back(previous -= step);
    w.push_back(out);
  } else if (shape == "long_funnel") {
    const std::int64_t brick = layers / 2;
    append(shaped_widths("brick", in, top, top, brick));
    append(shaped_widths("funnel", in, out, top, layers - brick));
  } else if (shape == "diamond") {
    const std::int64_t triangle = layers / 2 + 1;
    append(shaped_widths("triangle", in, top, top, triangle));
    // The triangle ends in two layers of `top` units; drop them and let the funnel start at the peak.
    const bool trimmed = w.size() > 1;
    if (trimmed) w.resize(w.size() - 2);
    append(shaped_widths("funnel", top, out, top, layers - triangle + (trimmed ? 2 : 0)));
  } else if (shape == "hexagon") {
    const std::int64_t triangle = layers / 3 + 1;
    append(shaped_widths("triangle", in, top, top, triangle));
    append(shaped_widths("brick", top, top, top, layers - 2 * triangle));
    append(shaped_widths("funnel", top, out, top, triangle));
  } else { // stairs
    std::int64_t previous = top;
    w.push_back(previous);
    if (layers % 2 == 1) w.push_back(previous);
    const std::int64_t step = 2 * std::max<std::int64_t>(0, (top - out) / (layers - 1));
    for (std::int64_t i = 0; i < layers / 2 - 1; ++i) {
      previous -= step;
      w.push_back(previous);
      w.push_back(previous);
    }
    w.push_back(out);
  }
  return w;
}

} // namespace automl::models
