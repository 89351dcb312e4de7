#pragma once
// Small pieces for drawing plots as inline SVG text: escaping, number formatting, scales with ticks, a plot
// frame with its axes. No layout engine: each plot in plots.cpp places its marks itself.

#include <string>
#include <string_view>
#include <vector>

namespace automl::report {

// Text safe inside HTML/SVG elements and double-quoted attributes: & < > " ' escaped.
std::string escape(std::string_view text);

// A coordinate with one decimal, trailing ".0" dropped: keeps large plots small.
std::string px(double value);

// Maps data values in [lo, hi] (log10 when `log`) onto pixels [from, to].
struct Scale {
  double lo = 0.0;
  double hi = 1.0;
  double from = 0.0;
  double to = 1.0;
  bool log = false;
  double operator()(double value) const;
};

struct Tick {
  double value = 0.0;
  std::string label;
};
// About `count` round values within [lo, hi] (1, 2, 5 x 10^k steps), labelled with %g.
std::vector<Tick> linear_ticks(double lo, double hi, int count);
// Powers of ten and their 2x and 5x within [lo, hi] (lo > 0); only the powers when there are many decades.
std::vector<Tick> log_ticks(double lo, double hi);

// Validation accuracy is drawn as the error 1 - accuracy on a log scale (0.9, 0.99 and 0.999 equally far
// apart), labelled as accuracy: the differences that matter near the top stay visible beside diverged trials.
constexpr double k_min_error = 1e-4; // an accuracy of 1 is drawn at this error
double error_of(double accuracy);
Scale accuracy_scale(double min_accuracy, double max_accuracy, double from, double to);
std::vector<Tick> accuracy_ticks(const Scale& scale);

// A plot area: the SVG element's size and the inner rectangle the data is drawn in.
struct Frame {
  double width = 760;
  double height = 320;
  double left = 64;
  double right = 16;
  double top = 16;
  double bottom = 44;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; } // the bottom of the data area (larger y)
  double y1() const { return top; }
};

// "<svg ...>" with the plot's id and an accessible label; close with "</svg>".
std::string svg_open(const std::string& id, const Frame& frame, const std::string& label);
// The axes, grid lines at the ticks, and the axis titles.
std::string axes(const Frame& frame, const Scale& x, const std::vector<Tick>& x_ticks, const std::string& x_title,
                 const Scale& y, const std::vector<Tick>& y_ticks, const std::string& y_title);

// A categorical palette (colour-blind safe, Okabe-Ito) and a sequential one for k ordered values.
std::string category_colour(std::size_t i);
std::string ordered_colour(std::size_t i, std::size_t k);

} // namespace automl::report
