#include "report/plots.hpp"

#include "report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

namespace automl::report {

namespace {

std::string budget_text(double budget) { return fmt::format("{:.3g}", budget); }

std::string state_colour(study::TrialState state) {
  switch (state) {
  case study::TrialState::complete: return "#009E73";
  case study::TrialState::pruned: return "#E69F00";
  case study::TrialState::fail: return "#D55E00";
  case study::TrialState::running: return "#56B4E9";
  }
  return "#999999";
}

// The budgets of the trials, smallest first, and the colour of each.
struct BudgetColours {
  std::vector<double> budgets;
  std::string operator()(double budget) const {
    const auto it = std::lower_bound(budgets.begin(), budgets.end(), budget);
    return ordered_colour(static_cast<std::size_t>(it - budgets.begin()), budgets.size());
  }
};

BudgetColours budget_colours(const std::vector<study::Trial>& trials) {
  std::set<double> budgets;
  for (const auto& t : trials) budgets.insert(t.budget);
  return {std::vector<double>(budgets.begin(), budgets.end())};
}

std::string legend(const Frame& f, const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string s = "<g class=\"legend\">";
  double x = f.x0() + 8;
  for (const auto& [label, colour] : entries) {
    s += fmt::format(R"~(<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>)~", px(x),
                     px(f.y1() + 6), colour, px(x + 14), px(f.y1() + 15), escape(label));
    x += 24 + 7.0 * static_cast<double>(label.size());
  }
  return s + "</g>";
}

std::vector<std::pair<std::string, std::string>> budget_legend(const BudgetColours& colours, const std::string& unit) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (double b : colours.budgets) entries.emplace_back(fmt::format("{} {}", budget_text(b), unit), colours(b));
  return entries;
}

std::string trial_tip(const study::Trial& t, const std::string& unit) {
  const auto acc = plotted_accuracy(t);
  return fmt::format("trial {} · config {} · {} · budget {} {}{}", t.id, t.config_id(), study::to_string(t.state),
                     budget_text(t.budget), unit, acc ? fmt::format(" · val acc {:.4f}", *acc) : "");
}

std::pair<double, double> accuracy_range(const std::vector<double>& accuracies) {
  if (accuracies.empty()) return {0.0, 1.0};
  const auto [lo, hi] = std::minmax_element(accuracies.begin(), accuracies.end());
  return {*lo, *hi};
}

// Which of the plotted trials to draw when there are too many: the best-so-far steps, the best ones, and an even
// sample of the rest, up to k_max_history_points.
std::vector<std::size_t> thin_history(const std::vector<study::Trial>& trials, const std::vector<std::size_t>& plotted) {
  if (plotted.size() <= k_max_history_points) return plotted;
  std::set<std::size_t> keep;
  std::map<double, double> best;
  std::vector<std::size_t> by_time = plotted;
  std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) {
    return trials[a].finished_at.value_or(0) < trials[b].finished_at.value_or(0);
  });
  for (std::size_t i : by_time) {
    const double acc = *plotted_accuracy(trials[i]);
    const auto it = best.find(trials[i].budget);
    if (it == best.end() || acc > it->second) {
      best[trials[i].budget] = acc;
      keep.insert(i);
    }
  }
  std::vector<std::size_t> by_accuracy = plotted;
  std::stable_sort(by_accuracy.begin(), by_accuracy.end(),
                   [&](std::size_t a, std::size_t b) { return *plotted_accuracy(trials[a]) > *plotted_accuracy(trials[b]); });
  for (std::size_t k = 0; k < by_accuracy.size() && keep.size() < k_max_history_points / 5; ++k) keep.insert(by_accuracy[k]);
  const std::size_t room = k_max_history_points > keep.size() ? k_max_history_points - keep.size() : 0;
  const double stride = static_cast<double>(by_time.size()) / static_cast<double>(std::max<std::size_t>(room, 1));
  for (double k = 0; k < static_cast<double>(by_time.size()) && keep.size() < k_max_history_points; k += stride)
    keep.insert(by_time[static_cast<std::size_t>(k)]);
  return {keep.begin(), keep.end()};
}

} // namespace

std::string config_key(const study::Trial& t) { return fmt::format("{}-{}", t.iteration, t.slot); }

Plot history_plot(const std::vector<study::Trial>& trials, double t0, const std::string& unit) {
  std::vector<std::size_t> plotted;
  std::vector<double> accuracies;
  double t_end = t0 + 1;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto acc = plotted_accuracy(trials[i]);
    if (!acc || !trials[i].finished_at) continue;
    plotted.push_back(i);
    accuracies.push_back(*acc);
    t_end = std::max(t_end, *trials[i].finished_at);
  }
  Frame f;
  const auto [lo, hi] = accuracy_range(accuracies);
  const Scale x{0.0, t_end - t0, f.x0(), f.x1()};
  const Scale y = accuracy_scale(lo, hi, f.y0(), f.y1());
  const auto colours = budget_colours(trials);
  std::string s = svg_open("plot-history", f, "validation accuracy of each trial over time");
  s += axes(f, x, linear_ticks(0.0, t_end - t0, 8), "seconds since the first trial started", y, accuracy_ticks(y),
            "validation accuracy");
  for (const auto& [budget, curve] : best_so_far(trials)) {
    std::string path;
    for (std::size_t k = 0; k < curve.size(); ++k) {
      const auto cx = px(x(curve[k].x - t0));
      const auto cy = px(y(error_of(curve[k].y)));
      path += k == 0 ? fmt::format("M{} {}", cx, cy) : fmt::format("H{}V{}", cx, cy);
    }
    path += fmt::format("H{}", px(x(t_end - t0)));
    s += fmt::format(R"~(<path class="best" d="{}" stroke="{}" data-tip="best so far on budget {} {}"/>)~", path,
                     colours(budget), budget_text(budget), escape(unit));
  }
  const auto drawn = thin_history(trials, plotted);
  for (std::size_t i : drawn) {
    const auto& t = trials[i];
    s += fmt::format(R"~(<circle r="3" cx="{}" cy="{}" fill="{}" data-c="{}" data-tip="{}"/>)~", px(x(*t.finished_at - t0)),
                     px(y(error_of(*plotted_accuracy(t)))), colours(t.budget), config_key(t), escape(trial_tip(t, unit)));
  }
  s += legend(f, budget_legend(colours, unit)) + "</svg>";
  std::string note;
  if (plotted.empty()) note = "No trial has reported a validation accuracy yet.";
  else if (drawn.size() < plotted.size())
    note = fmt::format("{} of {} trials drawn: every one that raised its budget's best so far, the best ones and an "
                       "even sample of the rest.", drawn.size(), plotted.size());
  return {s, note};
}

Plot budget_plot(const std::vector<study::Trial>& trials, const std::vector<ConfigCurve>& curves, const std::string& unit) {
  Frame f;
  std::vector<double> accuracies;
  double b_lo = 0, b_hi = 0;
  for (const auto& c : curves) {
    for (const auto& p : c.points) {
      accuracies.push_back(p.y);
      b_lo = b_lo == 0 ? p.x : std::min(b_lo, p.x);
      b_hi = std::max(b_hi, p.x);
    }
  }
  if (curves.empty()) b_lo = b_hi = 1.0;
  const auto [lo, hi] = accuracy_range(accuracies);
  const bool log_x = b_lo > 0 && b_hi / b_lo > 4;
  const double pad = log_x ? 1.25 : 0.0;
  const Scale x{log_x ? b_lo / pad : b_lo - 0.5, log_x ? b_hi * pad : b_hi + 0.5, f.x0(), f.x1(), log_x};
  const Scale y = accuracy_scale(lo, hi, f.y0(), f.y1());
  const auto colours = budget_colours(trials);
  std::vector<Tick> x_ticks;
  for (double b : colours.budgets) x_ticks.push_back({b, budget_text(b)});
  std::string s = svg_open("plot-budgets", f, "validation accuracy of each configuration against its budget");
  s += axes(f, x, x_ticks, "budget (" + unit + ")", y, accuracy_ticks(y), "validation accuracy");
  const std::size_t shown = std::min(curves.size(), k_max_curves);
  // Drawn worst first, so that the best configurations are on top.
  for (std::size_t k = shown; k-- > 0;) {
    const auto& c = curves[k];
    const auto& last = trials[c.trials.back()];
    std::string path;
    for (std::size_t p = 0; p < c.points.size(); ++p)
      path += fmt::format("{}{} {}", p == 0 ? "M" : "L", px(x(c.points[p].x)), px(y(error_of(c.points[p].y))));
    if (c.points.size() == 1) path += "h0.1";
    s += fmt::format(R"~(<path class="curve" d="{}" stroke="{}" data-c="{}" data-tip="config {} · reached {} {} · val acc {:.4f}"/>)~",
                     path, colours(c.points.back().x), config_key(last), last.config_id(), budget_text(c.points.back().x),
                     escape(unit), c.points.back().y);
  }
  s += "</svg>";
  std::string note;
  if (curves.empty()) note = "No trial has completed yet.";
  else if (shown < curves.size())
    note = fmt::format("{} of {} configurations drawn: those that reached the largest budgets, best first.", shown, curves.size());
  return {s, note};
}

Plot timeline_plot(const std::vector<study::Trial>& trials, const TimelineLayout& layout, double t0) {
  const std::size_t rows = std::min(layout.rows.size(), k_max_timeline_rows);
  Frame f;
  f.left = 150;
  f.top = 26;
  const double row_height = 16;
  f.height = f.top + f.bottom + row_height * static_cast<double>(std::max<std::size_t>(rows, 1));
  double t_end = t0 + 1;
  for (const auto& b : layout.bars) t_end = std::max(t_end, b.end);
  const Scale x{0.0, t_end - t0, f.x0(), f.x1()};
  std::string s = svg_open("plot-timeline", f, "trials of each worker over time");
  s += axes(f, x, linear_ticks(0.0, t_end - t0, 8), "seconds since the first trial started", Scale{}, {}, "");
  for (std::size_t r = 0; r < rows; ++r) {
    auto name = layout.rows[r];
    if (name.size() > 22) name = "…" + name.substr(name.size() - 21);
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="end" data-tip="{}">{}</text>)~", px(f.x0() - 4),
                     px(f.y1() + row_height * (static_cast<double>(r) + 0.5) + 4), escape(layout.rows[r]), escape(name));
  }
  // Bars of a row in time order; a bar narrower than k_timeline_merge_px that starts within a pixel of the end of
  // a run of such bars in the same state extends it (thousands of short trials would otherwise be thousands of
  // sub-pixel rectangles). Wider bars stand alone, drawn half a pixel short so that neighbours stay apart.
  struct Run {
    double x0, x1;
    study::TrialState state;
    std::size_t first, last, count;
    bool narrow; // made of bars narrower than k_timeline_merge_px
  };
  std::vector<std::vector<Run>> runs(rows);
  for (const auto& b : layout.bars) {
    if (b.row >= rows) continue;
    const auto& t = trials[b.trial];
    const double x0 = x(b.start - t0), x1 = std::max(x(b.end - t0), x0 + 0.5);
    const bool narrow = x1 - x0 < k_timeline_merge_px;
    auto& row = runs[b.row];
    if (narrow && !row.empty() && row.back().narrow && row.back().state == t.state && x0 - row.back().x1 < 1.0) {
      row.back().x1 = std::max(row.back().x1, x1);
      row.back().last = b.trial;
      ++row.back().count;
    } else {
      row.push_back({x0, x1, t.state, b.trial, b.trial, 1, narrow});
    }
  }
  std::size_t merged = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    for (const auto& run : runs[r]) {
      const auto& first = trials[run.first];
      const double y0 = f.y1() + row_height * static_cast<double>(r) + 2;
      std::string tip;
      std::string key;
      if (run.count == 1) {
        tip = fmt::format("trial {} · {} · budget {} · {:.1f} s", first.id, study::to_string(first.state),
                          budget_text(first.budget), first.finished_at.value_or(first.started_at) - first.started_at);
        key = fmt::format(R"~( data-c="{}")~", config_key(first));
      } else {
        merged += run.count;
        tip = fmt::format("{} {} trials, {} to {}", run.count, study::to_string(run.state), first.id, trials[run.last].id);
      }
      const double width = run.narrow ? run.x1 - run.x0 : std::max(run.x1 - run.x0 - 0.5, 0.5);
      s += fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="{}"{} data-tip="{}"/>)~", px(run.x0), px(y0),
                       px(width), px(row_height - 4), state_colour(run.state), key, escape(tip));
    }
  }
  s += legend(f, {{"COMPLETE", state_colour(study::TrialState::complete)},
                  {"PRUNED", state_colour(study::TrialState::pruned)},
                  {"FAIL", state_colour(study::TrialState::fail)},
                  {"RUNNING", state_colour(study::TrialState::running)}});
  // The legend sits above the rows.
  s.replace(s.rfind("<g class=\"legend\">"), 18, "<g class=\"legend\" transform=\"translate(0 -24)\">");
  s += "</svg>";
  std::string note;
  if (layout.bars.empty()) note = "No trial has started yet.";
  if (merged > 0)
    note = fmt::format("{} trials narrower than {:g} pixels are drawn as runs of their row and state.", merged, k_timeline_merge_px);
  if (rows < layout.rows.size())
    note += fmt::format(" {} of {} rows drawn.", rows, layout.rows.size());
  return {s, note};
}

Plot importance_plot(const ImportanceResult& r) {
  Frame f;
  f.left = 260;
  f.top = 8;
  f.bottom = 36;
  const double bar = 20;
  f.height = f.top + f.bottom + bar * static_cast<double>(std::max<std::size_t>(r.parameters.size(), 1));
  double top = 0;
  for (const auto& p : r.parameters) top = std::max(top, p.importance);
  const Scale x{0.0, std::max(top, 1e-9) * 1.05, f.x0(), f.x1()};
  std::string s = svg_open("plot-importance", f, "hyperparameter importance (PED-ANOVA)");
  s += axes(f, x, linear_ticks(0.0, std::max(top, 1e-9) * 1.05, 6), "importance (share of the total)", Scale{}, {}, "");
  for (std::size_t i = 0; i < r.parameters.size(); ++i) {
    const auto& p = r.parameters[i];
    const double y0 = f.y1() + bar * static_cast<double>(i);
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="end">{}</text>)~", px(f.x0() - 6), px(y0 + 14), escape(p.name));
    s += fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="#0072B2" data-tip="{} · importance {:.3f} · Pearson divergence {:.4g} · {} trials"/>)~",
                     px(f.x0()), px(y0 + 3), px(x(p.importance) - f.x0()), px(bar - 6), escape(p.name), p.importance,
                     p.divergence, p.trials);
  }
  s += "</svg>";
  return {s, r.parameters.empty() ? "No parameter varied on enough trials of that budget." : ""};
}

Plot correlation_plot(const std::vector<BudgetCorrelation>& correlations) {
  std::set<double> budget_set;
  for (const auto& c : correlations) {
    budget_set.insert(c.budget_a);
    budget_set.insert(c.budget_b);
  }
  const std::vector<double> budgets(budget_set.begin(), budget_set.end());
  const double cell = 56;
  Frame f;
  f.left = 70;
  f.top = 10;
  f.bottom = 40;
  const double n = static_cast<double>(budgets.size() > 1 ? budgets.size() - 1 : 1);
  f.width = f.left + f.right + cell * n;
  f.height = f.top + f.bottom + cell * n;
  std::string s = svg_open("plot-correlation", f, "Spearman rank correlation of validation accuracy between budgets");
  const auto index = [&](double b) { return static_cast<double>(std::lower_bound(budgets.begin(), budgets.end(), b) - budgets.begin()); };
  for (std::size_t i = 0; i + 1 < budgets.size(); ++i) {
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="middle">{}</text>)~", px(f.x0() + cell * (static_cast<double>(i) + 0.5)),
                     px(f.y0() + 16), budget_text(budgets[i]));
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="end">{}</text>)~", px(f.x0() - 6),
                     px(f.y1() + cell * (static_cast<double>(i) + 0.5) + 4), budget_text(budgets[i + 1]));
  }
  for (const auto& c : correlations) {
    const double cx = f.x0() + cell * index(c.budget_a);
    const double cy = f.y1() + cell * (index(c.budget_b) - 1);
    std::string fill = "#eeeeee";
    std::string label = "-";
    if (c.rho) {
      // Blue for positive, red for negative, stronger with |rho|.
      const double a = std::abs(*c.rho);
      const int k = static_cast<int>(std::lround(255 * (1 - 0.75 * a)));
      fill = *c.rho >= 0 ? fmt::format("#{:02x}{:02x}ff", k, k) : fmt::format("#ff{:02x}{:02x}", k, k);
      label = fmt::format("{:.2f}", *c.rho);
    }
    s += fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#fff" data-tip="budgets {} and {} · {} configurations on both · Spearman {}"/>)~",
                     px(cx), px(cy), px(cell), px(cell), fill, budget_text(c.budget_a), budget_text(c.budget_b),
                     c.configurations, c.rho ? fmt::format("{:.3f}", *c.rho) : "undefined (fewer than 3 or constant)");
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="middle" class="cell">{}</text>)~", px(cx + cell / 2), px(cy + cell / 2 + 4), label);
  }
  s += fmt::format(R"~(<text class="title" x="{}" y="{}" text-anchor="middle">smaller budget</text>)~",
                   px(0.5 * (f.x0() + f.x1())), px(f.height - 4));
  s += "</svg>";
  return {s, budgets.size() < 2 ? "Only one budget has completed trials." : ""};
}

Plot parallel_plot(const std::vector<study::Trial>& trials, const std::vector<ConfigCurve>& curves,
                   const std::vector<std::string>& important_first) {
  const std::size_t shown = std::min(curves.size(), k_parallel_configs);
  std::vector<nlohmann::json> configs;
  std::vector<double> accuracies;
  std::vector<const study::Trial*> picked;
  for (std::size_t k = 0; k < shown; ++k) {
    picked.push_back(&trials[curves[k].trials.back()]);
    configs.push_back(study::config_object(*picked.back()));
    accuracies.push_back(curves[k].points.back().y);
  }
  std::vector<std::string> names;
  const auto varying = varying_parameters(configs);
  for (const auto& n : important_first)
    if (std::find(varying.begin(), varying.end(), n) != varying.end()) names.push_back(n);
  for (const auto& n : varying)
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  const std::size_t axes_left_out = names.size() > k_parallel_axes ? names.size() - k_parallel_axes : 0;
  names.resize(std::min(names.size(), k_parallel_axes));

  Frame f;
  f.left = 40;
  f.right = 60;
  f.top = 40;
  f.bottom = 24;
  const double n_axes = static_cast<double>(names.size() + 1);
  const auto axis_x = [&](std::size_t a) { return f.x0() + (f.x1() - f.x0()) * (n_axes > 1 ? static_cast<double>(a) / (n_axes - 1) : 0.5); };
  // Each parameter axis maps a value to a pixel height: numbers linearly (log when positive and spanning 20x or
  // more), anything else by its place among the sorted distinct values.
  struct Axis {
    bool numeric = true;
    Scale scale;
    std::vector<std::string> categories;
    std::vector<Tick> ticks;
  };
  std::vector<Axis> parameter_axes;
  for (const auto& name : names) {
    Axis axis;
    std::vector<double> numbers;
    std::set<std::string> categories;
    for (const auto& c : configs) {
      const auto it = c.find(name);
      if (it == c.end()) continue;
      if (it->is_number() && !it->is_boolean()) numbers.push_back(it->get<double>());
      else axis.numeric = false;
      categories.insert(it->is_string() ? it->get<std::string>() : it->dump());
    }
    if (axis.numeric && !numbers.empty()) {
      const auto [lo, hi] = std::minmax_element(numbers.begin(), numbers.end());
      const bool log = *lo > 0 && *hi / *lo >= 20;
      axis.scale = Scale{*lo, *hi > *lo ? *hi : *lo + 1, f.y0(), f.y1(), log};
      axis.ticks = {{*lo, fmt::format("{:.3g}", *lo)}, {*hi, fmt::format("{:.3g}", *hi)}};
    } else {
      axis.numeric = false;
      axis.categories.assign(categories.begin(), categories.end());
      const double k = static_cast<double>(axis.categories.size());
      axis.scale = Scale{0.0, 1.0, f.y0(), f.y1()};
      for (std::size_t i = 0; i < axis.categories.size(); ++i)
        axis.ticks.push_back({(static_cast<double>(i) + 0.5) / k, axis.categories[i]});
    }
    parameter_axes.push_back(std::move(axis));
  }
  const auto [acc_lo, acc_hi] = accuracy_range(accuracies);
  const Scale acc_scale = accuracy_scale(acc_lo, acc_hi, f.y0(), f.y1());

  std::string s = svg_open("plot-parallel", f, "parallel coordinates of the best configurations");
  for (std::size_t a = 0; a <= names.size(); ++a) {
    const auto ax = px(axis_x(a));
    s += fmt::format(R"~(<line class="axis" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/>)~", ax, px(f.y1()), px(f.y0()));
    const bool accuracy_axis = a == names.size();
    const auto full = accuracy_axis ? std::string("validation accuracy") : names[a];
    const auto colon = full.rfind(':');
    const auto label = colon == std::string::npos ? full : full.substr(colon + 1);
    s += fmt::format(R"~(<text class="title" x="{}" y="{}" text-anchor="middle" data-tip="{}">{}</text>)~", ax,
                     px(f.y1() - (a % 2 == 0 ? 22 : 10)), escape(full), escape(label));
    const auto& ticks = accuracy_axis ? accuracy_ticks(acc_scale) : parameter_axes[a].ticks;
    const auto& scale = accuracy_axis ? acc_scale : parameter_axes[a].scale;
    for (const auto& t : ticks) {
      auto text = t.label.size() > 14 ? t.label.substr(0, 13) + "…" : t.label;
      s += fmt::format(R"~(<text class="tick" x="{}" y="{}">{}</text>)~", px(axis_x(a) + 3), px(scale(t.value) + 3), escape(text));
    }
  }
  for (std::size_t k = shown; k-- > 0;) {
    std::string path;
    bool pen_down = false;
    for (std::size_t a = 0; a <= names.size(); ++a) {
      double yv = 0;
      if (a == names.size()) {
        yv = acc_scale(error_of(accuracies[k]));
      } else {
        const auto it = configs[k].find(names[a]);
        if (it == configs[k].end()) {
          pen_down = false; // inactive here: the line breaks
          continue;
        }
        const auto& axis = parameter_axes[a];
        if (axis.numeric) {
          yv = axis.scale(it->get<double>());
        } else {
          const auto text = it->is_string() ? it->get<std::string>() : it->dump();
          const auto pos = std::lower_bound(axis.categories.begin(), axis.categories.end(), text) - axis.categories.begin();
          yv = axis.scale((static_cast<double>(pos) + 0.5) / static_cast<double>(axis.categories.size()));
        }
      }
      path += fmt::format("{}{} {}", pen_down ? "L" : "M", px(axis_x(a)), px(yv));
      pen_down = true;
    }
    s += fmt::format(R"~(<path class="pc" d="{}" stroke="{}" data-c="{}" data-tip="#{} · config {} · budget {} · val acc {:.4f}"/>)~",
                     path, ordered_colour(k, shown), config_key(*picked[k]), k + 1, picked[k]->config_id(),
                     budget_text(picked[k]->budget), accuracies[k]);
  }
  s += "</svg>";
  std::string note = fmt::format("The {} best configurations (largest budget reached, then accuracy there), best darkest.", shown);
  if (curves.empty()) note = "No trial has completed yet.";
  if (axes_left_out > 0) note += fmt::format(" {} less important parameters left out.", axes_left_out);
  return {s, note};
}

Plot confusion_plot(const ConfusionMatrix& m) {
  const std::size_t k = m.classes.size();
  if (k > k_max_matrix_classes)
    return {"", fmt::format("{} classes: the matrix is not drawn above {} classes.", k, k_max_matrix_classes)};
  const double cell = std::min(36.0, 520.0 / static_cast<double>(std::max<std::size_t>(k, 1)));
  Frame f;
  f.left = 90;
  f.top = 10;
  f.bottom = 60;
  f.width = f.left + f.right + cell * static_cast<double>(k);
  f.height = f.top + f.bottom + cell * static_cast<double>(k);
  std::string s = svg_open("plot-confusion", f, "confusion matrix on the test set");
  for (std::size_t t = 0; t < k; ++t) {
    const auto row_total = std::accumulate(m.counts[t].begin(), m.counts[t].end(), std::int64_t{0});
    auto name = m.classes[t].size() > 12 ? m.classes[t].substr(0, 11) + "…" : m.classes[t];
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="end">{}</text>)~", px(f.x0() - 4),
                     px(f.y1() + cell * (static_cast<double>(t) + 0.5) + 4), escape(name));
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="middle">{}</text>)~", px(f.x0() + cell * (static_cast<double>(t) + 0.5)),
                     px(f.y0() + 14), escape(name));
    for (std::size_t p = 0; p < k; ++p) {
      const auto count = m.counts[t][p];
      const double share = row_total > 0 ? static_cast<double>(count) / static_cast<double>(row_total) : 0.0;
      // Square root: the few confusions stay visible next to the diagonal.
      const int shade = static_cast<int>(std::lround(255 * (1 - std::sqrt(share))));
      const auto fill = t == p ? fmt::format("#{:02x}{:02x}ff", shade, shade) : fmt::format("#ff{:02x}{:02x}", shade, shade);
      s += fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#fff" data-tip="true {} · predicted {} · {} samples ({:.2f}% of the class)"/>)~",
                       px(f.x0() + cell * static_cast<double>(p)), px(f.y1() + cell * static_cast<double>(t)), px(cell),
                       px(cell), fill, escape(m.classes[t]), escape(m.classes[p]), count, 100 * share);
      if (k <= 12 && count > 0)
        s += fmt::format(R"~(<text class="cell" x="{}" y="{}" text-anchor="middle">{}</text>)~",
                         px(f.x0() + cell * (static_cast<double>(p) + 0.5)), px(f.y1() + cell * (static_cast<double>(t) + 0.5) + 4),
                         count);
    }
  }
  s += fmt::format(R"~(<text class="title" x="{}" y="{}" text-anchor="middle">predicted class</text>)~",
                   px(0.5 * (f.x0() + f.x1())), px(f.height - 24));
  s += fmt::format(R"~(<text class="title" transform="translate(14 {}) rotate(-90)" text-anchor="middle">true class</text>)~",
                   px(0.5 * (f.y0() + f.y1())));
  return {s + "</svg>", ""};
}

Plot per_class_plot(const ConfusionMatrix& m) {
  const auto accuracy = per_class_accuracy(m);
  const std::size_t k = std::min(accuracy.size(), k_max_class_bars);
  Frame f;
  f.left = 90;
  f.top = 8;
  f.bottom = 36;
  const double bar = 18;
  f.height = f.top + f.bottom + bar * static_cast<double>(std::max<std::size_t>(k, 1));
  double lowest = 1.0;
  for (const auto& a : accuracy)
    if (a) lowest = std::min(lowest, *a);
  const double x_lo = std::max(0.0, std::floor(lowest * 10 - 1e-9) / 10);
  const Scale x{x_lo, 1.0, f.x0(), f.x1()};
  std::string s = svg_open("plot-per-class", f, "accuracy of each class on the test set");
  s += axes(f, x, linear_ticks(x_lo, 1.0, 6), "accuracy on the test set", Scale{}, {}, "");
  for (std::size_t c = 0; c < k; ++c) {
    const double y0 = f.y1() + bar * static_cast<double>(c);
    const auto n = std::accumulate(m.counts[c].begin(), m.counts[c].end(), std::int64_t{0});
    auto name = m.classes[c].size() > 12 ? m.classes[c].substr(0, 11) + "…" : m.classes[c];
    s += fmt::format(R"~(<text x="{}" y="{}" text-anchor="end">{}</text>)~", px(f.x0() - 4), px(y0 + 13), escape(name));
    if (!accuracy[c]) continue;
    s += fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="#0072B2" data-tip="{} · {:.2f}% of {} samples"/>)~",
                     px(f.x0()), px(y0 + 3), px(std::max(x(*accuracy[c]) - f.x0(), 0.5)), px(bar - 6),
                     escape(m.classes[c]), 100 * *accuracy[c], n);
  }
  std::string note;
  if (k < accuracy.size()) note = fmt::format("The first {} of {} classes.", k, accuracy.size());
  return {s + "</svg>", note};
}

} // namespace automl::report
