#include "report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace automl::report {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out += c;
    }
  }
  return out;
}

std::string px(double value) {
  auto s = fmt::format("{:.1f}", value);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s == "-0" ? "0" : s;
}

double Scale::operator()(double value) const {
  const double a = log ? std::log10(lo) : lo;
  const double b = log ? std::log10(hi) : hi;
  const double v = log ? std::log10(std::max(value, lo * 1e-3)) : value;
  if (b == a) return 0.5 * (from + to);
  return from + (v - a) / (b - a) * (to - from);
}

std::vector<Tick> linear_ticks(double lo, double hi, int count) {
  std::vector<Tick> ticks;
  if (!(hi > lo)) {
    ticks.push_back({lo, fmt::format("{:g}", lo)});
    return ticks;
  }
  const double raw = (hi - lo) / std::max(count, 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step)
    ticks.push_back({v, fmt::format("{:g}", std::abs(v) < 1e-12 * step ? 0.0 : v)});
  return ticks;
}

std::vector<Tick> log_ticks(double lo, double hi) {
  std::vector<Tick> ticks;
  const int first = static_cast<int>(std::floor(std::log10(lo)));
  const int last = static_cast<int>(std::ceil(std::log10(hi)));
  const bool many = last - first > 4;
  for (int e = first; e <= last; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (many && m != 1.0) continue;
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back({v, fmt::format("{:g}", v)});
    }
  }
  if (ticks.empty()) ticks.push_back({lo, fmt::format("{:.3g}", lo)});
  return ticks;
}

double error_of(double accuracy) { return std::max(1.0 - accuracy, k_min_error); }

Scale accuracy_scale(double min_accuracy, double max_accuracy, double from, double to) {
  // Whole decades of error: ticks fall on round accuracies.
  const double lo = std::pow(10.0, std::floor(std::log10(error_of(max_accuracy)) + 1e-9));
  double hi = std::pow(10.0, std::ceil(std::log10(error_of(min_accuracy)) - 1e-9));
  hi = std::max(std::min(hi, 1.0), lo * 10);
  // Lower error is better and is drawn higher up: `from` is the bottom of the plot for the largest error.
  return Scale{lo, hi, to, from, true};
}

std::vector<Tick> accuracy_ticks(const Scale& scale) {
  std::vector<Tick> ticks;
  for (const auto& t : log_ticks(scale.lo, scale.hi))
    ticks.push_back({t.value, fmt::format("{:g}%", std::round((1.0 - t.value) * 1e6) / 1e4)});
  return ticks;
}

std::string svg_open(const std::string& id, const Frame& f, const std::string& label) {
  return fmt::format(R"~(<svg id="{}" class="plot" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}">)~",
                     escape(id), px(f.width), px(f.height), px(f.width), px(f.height), escape(label));
}

std::string axes(const Frame& f, const Scale& x, const std::vector<Tick>& x_ticks, const std::string& x_title,
                 const Scale& y, const std::vector<Tick>& y_ticks, const std::string& y_title) {
  std::string s = "<g class=\"axes\">";
  for (const auto& t : x_ticks) {
    const auto at = px(x(t.value));
    s += fmt::format(R"~(<line class="grid" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/><text x="{0}" y="{3}" text-anchor="middle">{4}</text>)~",
                     at, px(f.y1()), px(f.y0()), px(f.y0() + 14), escape(t.label));
  }
  for (const auto& t : y_ticks) {
    const auto at = px(y(t.value));
    s += fmt::format(R"~(<line class="grid" x1="{1}" x2="{2}" y1="{0}" y2="{0}"/><text x="{3}" y="{0}" dy="4" text-anchor="end">{4}</text>)~",
                     at, px(f.x0()), px(f.x1()), px(f.x0() - 4), escape(t.label));
  }
  s += fmt::format(R"~(<rect class="frame" x="{}" y="{}" width="{}" height="{}"/>)~", px(f.x0()), px(f.y1()),
                   px(f.x1() - f.x0()), px(f.y0() - f.y1()));
  s += fmt::format(R"~(<text class="title" x="{}" y="{}" text-anchor="middle">{}</text>)~", px(0.5 * (f.x0() + f.x1())),
                   px(f.height - 6), escape(x_title));
  s += fmt::format(R"~(<text class="title" transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>)~",
                   px(0.5 * (f.y0() + f.y1())), escape(y_title));
  return s + "</g>";
}

std::string category_colour(std::size_t i) {
  static const std::array<const char*, 8> k_okabe_ito{"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                                      "#56B4E9", "#D55E00", "#F0E442", "#000000"};
  return k_okabe_ito[i % k_okabe_ito.size()];
}

std::string ordered_colour(std::size_t i, std::size_t k) {
  // From light teal-green to dark blue-purple (viridis-like stops), evenly spaced.
  static const std::array<std::array<double, 3>, 5> k_stops{{{94, 201, 98}, {33, 145, 140}, {59, 82, 139},
                                                            {68, 1, 84}, {20, 0, 40}}};
  const double t = k <= 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(k - 1) * 0.75;
  const double pos = t * static_cast<double>(k_stops.size() - 1);
  const auto a = static_cast<std::size_t>(std::floor(pos));
  const auto b = std::min(a + 1, k_stops.size() - 1);
  const double w = pos - static_cast<double>(a);
  std::array<int, 3> rgb{};
  for (std::size_t c = 0; c < 3; ++c) rgb[c] = static_cast<int>(std::lround(k_stops[a][c] * (1 - w) + k_stops[b][c] * w));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

} // namespace automl::report
