#include "report/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace automl::report {

namespace {

// Ranks 1..n of the values, ties sharing the average of the ranks they span.
std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

bool has_finite_loss(const study::Trial& t) { return t.loss && std::isfinite(*t.loss); }

bool completed(const study::Trial& t) { return t.state == study::TrialState::complete && has_finite_loss(t); }

// A Parzen estimate of the density of `points` (in [0, 1]) on the grid (k + 0.5) / k_importance_grid, normalised to
// sum to 1: Gaussian kernels with Scott's bandwidth, at least one grid step.
std::vector<double> grid_density(const std::vector<double>& points) {
  const double n = static_cast<double>(points.size());
  const double mean = std::accumulate(points.begin(), points.end(), 0.0) / n;
  double var = 0.0;
  for (double p : points) var += (p - mean) * (p - mean);
  const double sd = n > 1 ? std::sqrt(var / (n - 1)) : 0.0;
  const double step = 1.0 / static_cast<double>(k_importance_grid);
  const double h = std::max(1.06 * sd * std::pow(n, -0.2), step);
  std::vector<double> density(k_importance_grid, 0.0);
  double total = 0.0;
  for (std::size_t k = 0; k < k_importance_grid; ++k) {
    const double g = (static_cast<double>(k) + 0.5) * step;
    for (double p : points) density[k] += std::exp(-0.5 * (g - p) * (g - p) / (h * h));
    total += density[k];
  }
  for (double& d : density) d /= total;
  return density;
}

// Pearson divergence of q_top from q_all: sum over the support of q_all * (q_top / q_all - 1)^2.
double pearson_divergence(const std::vector<double>& top, const std::vector<double>& all) {
  double d = 0.0;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i] > 0) d += top[i] * top[i] / all[i];
  return std::max(0.0, d - 1.0);
}

// The divergence for one parameter over the trials where it is active (`values`, with their losses).
double parameter_divergence(const std::vector<nlohmann::json>& values, const std::vector<double>& losses) {
  const std::size_t m = values.size();
  std::vector<std::size_t> by_loss(m);
  std::iota(by_loss.begin(), by_loss.end(), 0);
  std::stable_sort(by_loss.begin(), by_loss.end(), [&](std::size_t a, std::size_t b) { return losses[a] < losses[b]; });
  const std::size_t n_top = std::min(
      m, std::max(k_importance_min_top, static_cast<std::size_t>(std::floor(k_importance_top_quantile * static_cast<double>(m)))));
  const bool numeric = std::all_of(values.begin(), values.end(), [](const nlohmann::json& v) {
    return v.is_number() && std::isfinite(v.get<double>());
  });
  if (numeric) {
    std::vector<double> raw;
    for (const auto& v : values) raw.push_back(v.get<double>());
    const auto ranks = average_ranks(raw);
    std::vector<double> all, top;
    for (double r : ranks) all.push_back((r - 0.5) / static_cast<double>(m));
    for (std::size_t i = 0; i < n_top; ++i) top.push_back(all[by_loss[i]]);
    return pearson_divergence(grid_density(top), grid_density(all));
  }
  std::map<std::string, std::size_t> category;
  for (const auto& v : values) category.emplace(v.dump(), category.size());
  const double k = static_cast<double>(category.size());
  const auto frequencies = [&](const std::vector<std::size_t>& members) {
    // Laplace smoothing with one pseudo-count spread over the categories, as a Parzen estimator's prior.
    std::vector<double> q(category.size(), 1.0 / k);
    for (std::size_t i : members) q[category.at(values[i].dump())] += 1.0;
    for (double& x : q) x /= static_cast<double>(members.size()) + 1.0;
    return q;
  };
  std::vector<std::size_t> everyone(m);
  std::iota(everyone.begin(), everyone.end(), 0);
  const std::vector<std::size_t> top(by_loss.begin(), by_loss.begin() + static_cast<std::ptrdiff_t>(n_top));
  return pearson_divergence(frequencies(top), frequencies(everyone));
}

} // namespace

std::optional<double> plotted_accuracy(const study::Trial& t) {
  if ((t.state == study::TrialState::complete || t.state == study::TrialState::pruned) && has_finite_loss(t))
    return 1.0 - *t.loss;
  return std::nullopt;
}

std::map<double, std::vector<Point>> best_so_far(const std::vector<study::Trial>& trials) {
  std::vector<const study::Trial*> done;
  for (const auto& t : trials)
    if (completed(t) && t.finished_at) done.push_back(&t);
  std::stable_sort(done.begin(), done.end(), [](const auto* a, const auto* b) { return *a->finished_at < *b->finished_at; });
  std::map<double, std::vector<Point>> curves;
  for (const auto* t : done) {
    auto& curve = curves[t->budget];
    const double accuracy = 1.0 - *t->loss;
    if (curve.empty() || accuracy > curve.back().y) curve.push_back({*t->finished_at, accuracy});
  }
  return curves;
}

TimelineLayout timeline_lanes(const std::vector<study::Trial>& trials, double now) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < trials.size(); ++i)
    if (trials[i].started_at > 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return trials[a].started_at < trials[b].started_at;
  });
  const auto end_of = [&](const study::Trial& t) {
    const double end = t.finished_at ? *t.finished_at : t.state == study::TrialState::running ? now : t.started_at;
    return std::max(end, t.started_at);
  };
  std::vector<std::string> workers;                  // in order of first start
  std::unordered_map<std::string, std::size_t> worker_index;
  std::vector<std::vector<double>> lane_ends;        // per worker, per lane: when its last bar ends
  std::vector<std::pair<std::size_t, std::size_t>> placed(trials.size()); // (worker, lane) per trial
  for (std::size_t i : order) {
    const auto& t = trials[i];
    const auto [it, added] = worker_index.emplace(t.worker, workers.size());
    if (added) {
      workers.push_back(t.worker);
      lane_ends.emplace_back();
    }
    auto& lanes = lane_ends[it->second];
    std::size_t lane = 0;
    while (lane < lanes.size() && lanes[lane] > t.started_at) ++lane;
    if (lane == lanes.size()) lanes.push_back(0.0);
    lanes[lane] = end_of(t);
    placed[i] = {it->second, lane};
  }
  TimelineLayout layout;
  std::vector<std::size_t> first_row(workers.size());
  for (std::size_t w = 0; w < workers.size(); ++w) {
    first_row[w] = layout.rows.size();
    for (std::size_t lane = 0; lane < lane_ends[w].size(); ++lane)
      layout.rows.push_back(lane == 0 ? workers[w] : workers[w] + " (lane " + std::to_string(lane + 1) + ")");
  }
  for (std::size_t i : order) {
    const auto [w, lane] = placed[i];
    layout.bars.push_back({i, first_row[w] + lane, trials[i].started_at, end_of(trials[i])});
  }
  return layout;
}

std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("spearman: samples of different sizes");
  if (x.size() < 3) return std::nullopt;
  const auto rx = average_ranks(x);
  const auto ry = average_ranks(y);
  const double mean = 0.5 * static_cast<double>(x.size() + 1); // the mean of any ranks 1..n, ties averaged
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx <= 0 || syy <= 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}

std::vector<BudgetCorrelation> budget_correlations(const std::vector<study::Trial>& trials) {
  std::map<std::string, std::map<double, double>> by_config; // config id -> budget -> accuracy
  std::set<double> budgets;
  for (const auto& t : trials) {
    if (!completed(t)) continue;
    by_config[t.config_id()][t.budget] = 1.0 - *t.loss;
    budgets.insert(t.budget);
  }
  std::vector<BudgetCorrelation> result;
  for (auto a = budgets.begin(); a != budgets.end(); ++a) {
    for (auto b = std::next(a); b != budgets.end(); ++b) {
      std::vector<double> x, y;
      for (const auto& [id, accuracies] : by_config) {
        const auto on_a = accuracies.find(*a);
        const auto on_b = accuracies.find(*b);
        if (on_a == accuracies.end() || on_b == accuracies.end()) continue;
        x.push_back(on_a->second);
        y.push_back(on_b->second);
      }
      result.push_back({*a, *b, x.size(), spearman(x, y)});
    }
  }
  return result;
}

std::vector<std::string> varying_parameters(const std::vector<nlohmann::json>& configs) {
  std::map<std::string, std::set<std::string>> values;
  std::map<std::string, std::size_t> with_key;
  for (const auto& config : configs) {
    for (const auto& [key, value] : config.items()) {
      values[key].insert(value.dump());
      ++with_key[key];
    }
  }
  std::vector<std::string> names;
  for (const auto& [key, seen] : values)
    if (seen.size() > 1 || with_key[key] != configs.size()) names.push_back(key);
  return names;
}

std::vector<ParameterImportance> ped_anova(const std::vector<nlohmann::json>& configs, const std::vector<double>& losses) {
  if (configs.size() != losses.size()) throw std::invalid_argument("ped_anova: configurations and losses differ in number");
  std::vector<ParameterImportance> result;
  for (const auto& name : varying_parameters(configs)) {
    std::vector<nlohmann::json> values;
    std::vector<double> active_losses;
    for (std::size_t i = 0; i < configs.size(); ++i) {
      const auto it = configs[i].find(name);
      if (it == configs[i].end()) continue;
      values.push_back(*it);
      active_losses.push_back(losses[i]);
    }
    if (values.size() < k_importance_min_trials) continue;
    result.push_back({name, 0.0, parameter_divergence(values, active_losses), values.size()});
  }
  double total = 0.0;
  for (const auto& p : result) total += p.divergence;
  for (auto& p : result) p.importance = total > 0 ? p.divergence / total : 0.0;
  std::stable_sort(result.begin(), result.end(), [](const auto& a, const auto& b) { return a.importance > b.importance; });
  return result;
}

std::optional<ImportanceResult> parameter_importance(const std::vector<study::Trial>& trials) {
  std::map<double, std::vector<const study::Trial*>> by_budget;
  for (const auto& t : trials)
    if (completed(t)) by_budget[t.budget].push_back(&t);
  for (auto it = by_budget.rbegin(); it != by_budget.rend(); ++it) {
    if (it->second.size() < k_importance_min_trials) continue;
    std::vector<nlohmann::json> configs;
    std::vector<double> losses;
    for (const auto* t : it->second) {
      configs.push_back(study::config_object(*t));
      losses.push_back(*t->loss);
    }
    return ImportanceResult{it->first, it->second.size(), ped_anova(configs, losses)};
  }
  return std::nullopt;
}

std::vector<ConfigCurve> config_curves(const std::vector<study::Trial>& trials) {
  std::map<std::string, std::size_t> index;
  std::vector<ConfigCurve> curves;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    if (!completed(t)) continue;
    const auto [it, added] = index.emplace(t.config_id(), curves.size());
    if (added) curves.push_back({t.config_id(), {}, {}});
    curves[it->second].points.push_back({t.budget, 1.0 - *t.loss});
    curves[it->second].trials.push_back(i);
  }
  for (auto& c : curves) {
    std::vector<std::size_t> order(c.points.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return c.points[a].x < c.points[b].x; });
    std::vector<Point> points;
    std::vector<std::size_t> ids;
    for (std::size_t k : order) {
      points.push_back(c.points[k]);
      ids.push_back(c.trials[k]);
    }
    c.points = std::move(points);
    c.trials = std::move(ids);
  }
  std::stable_sort(curves.begin(), curves.end(), [](const ConfigCurve& a, const ConfigCurve& b) {
    if (a.points.back().x != b.points.back().x) return a.points.back().x > b.points.back().x;
    return a.points.back().y > b.points.back().y;
  });
  return curves;
}

ConfusionMatrix confusion_matrix(const std::vector<std::int64_t>& truth, const std::vector<std::int64_t>& predicted,
                                 const std::vector<std::string>& classes) {
  if (truth.size() != predicted.size()) throw std::invalid_argument("confusion_matrix: labels and predictions differ in number");
  const auto k = static_cast<std::int64_t>(classes.size());
  ConfusionMatrix m{classes, std::vector<std::vector<std::int64_t>>(classes.size(), std::vector<std::int64_t>(classes.size(), 0)), ""};
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= k || predicted[i] < 0 || predicted[i] >= k)
      throw std::invalid_argument("confusion_matrix: class index out of range");
    ++m.counts[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
  }
  return m;
}

std::vector<std::optional<double>> per_class_accuracy(const ConfusionMatrix& m) {
  std::vector<std::optional<double>> result;
  for (std::size_t c = 0; c < m.counts.size(); ++c) {
    const auto n = std::accumulate(m.counts[c].begin(), m.counts[c].end(), std::int64_t{0});
    result.push_back(n > 0 ? std::optional<double>(static_cast<double>(m.counts[c][c]) / static_cast<double>(n)) : std::nullopt);
  }
  return result;
}

nlohmann::json to_json(const ConfusionMatrix& m) {
  return {{"source", m.source}, {"classes", m.classes}, {"counts", m.counts}};
}

std::optional<ConfusionMatrix> confusion_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("classes") || !j.contains("counts")) return std::nullopt;
  const auto& classes = j.at("classes");
  const auto& counts = j.at("counts");
  if (!classes.is_array() || !counts.is_array() || counts.size() != classes.size() || classes.empty()) return std::nullopt;
  ConfusionMatrix m;
  for (const auto& c : classes) {
    if (!c.is_string()) return std::nullopt;
    m.classes.push_back(c.get<std::string>());
  }
  for (const auto& row : counts) {
    if (!row.is_array() || row.size() != classes.size()) return std::nullopt;
    std::vector<std::int64_t> r;
    for (const auto& v : row) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0) return std::nullopt;
      r.push_back(v.get<std::int64_t>());
    }
    m.counts.push_back(std::move(r));
  }
  if (const auto s = j.find("source"); s != j.end() && s->is_string()) m.source = s->get<std::string>();
  return m;
}

} // namespace automl::report
