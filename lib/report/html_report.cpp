#include "report/html_report.hpp"

#include "report/plots.hpp"
#include "report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

namespace automl::report {

namespace {

const char* const k_style = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0 auto;max-width:1100px;padding:0 20px 40px}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #ddd;padding-bottom:3px}
.sub{color:#666;margin:0 0 10px}.note{color:#666;font-size:12.5px;margin:4px 0}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:8px 0}dl.summary dt{color:#555}dl.summary dd{margin:0}
table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none;background:#f6f6f6}table.sortable th[data-dir=asc]::after{content:" \25B2"}table.sortable th[data-dir=desc]::after{content:" \25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}.scroll{overflow:auto;max-height:560px;border:1px solid #eee}
svg.plot{display:block;margin:6px 0;font-size:11px;max-width:100%;height:auto}svg text{fill:#333}svg .title{font-size:12px;fill:#444}svg .tick{font-size:10px;fill:#555}
.grid{stroke:#eee}.frame{fill:none;stroke:#bbb}.axis{stroke:#999}.best{fill:none;stroke-width:2}.curve{fill:none;stroke-width:1.3;opacity:.55}
.pc{fill:none;stroke-width:1.6;opacity:.75}svg .cell{font-size:10.5px}circle{opacity:.8}
.hl{stroke:#111!important;stroke-width:3!important;opacity:1!important}tr.hl td{background:#fff3bf}
pre.error{white-space:pre-wrap;background:#fff5f5;border:1px solid #f1c0c0;padding:6px;font-size:12px;margin:4px 0 10px}
#tip{position:absolute;display:none;background:#222;color:#fff;padding:4px 7px;font-size:12px;border-radius:3px;pointer-events:none;max-width:520px;z-index:9}
.graph{overflow:auto;max-height:640px;border:1px solid #eee}.graph svg{height:auto}
)";

// Tooltips for [data-tip], sorting of table.sortable by its cells' data-v (numbers) or text, and highlighting of
// every element of one configuration ([data-c]) under the pointer. It ends by marking the body ready.
const char* const k_script = R"(
(function () {
  var tip = document.getElementById('tip');
  function closest(node, selector) { return node && node.closest ? node.closest(selector) : null; }
  document.addEventListener('mousemove', function (e) {
    var t = closest(e.target, '[data-tip]');
    if (!t) { tip.style.display = 'none'; return; }
    tip.textContent = t.getAttribute('data-tip');
    tip.style.display = 'block';
    tip.style.left = (e.pageX + 14) + 'px';
    tip.style.top = (e.pageY + 14) + 'px';
  });
  var lit = [];
  function light(key) {
    lit.forEach(function (n) { n.classList.remove('hl'); });
    lit = [];
    if (!key) return;
    document.querySelectorAll('[data-c="' + key + '"]').forEach(function (n) { n.classList.add('hl'); lit.push(n); });
  }
  document.addEventListener('mouseover', function (e) {
    var t = closest(e.target, '[data-c]');
    light(t ? t.getAttribute('data-c') : null);
  });
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.querySelectorAll('th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute('data-dir') === 'asc' ? 'desc' : 'asc';
        heads.forEach(function (h) { h.removeAttribute('data-dir'); });
        th.setAttribute('data-dir', dir);
        function key(row) { var c = row.cells[col]; return c ? (c.getAttribute('data-v') || c.textContent) : ''; }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
          var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return dir === 'asc' ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var plots = document.querySelectorAll('svg.plot').length;
  document.body.setAttribute('data-ready', String(plots));
  console.log('automl report: ready, ' + plots + ' plots');
})();
)";

std::string budget_text(double budget) { return fmt::format("{:.3g}", budget); }

// The value at a path of object keys, or nullptr.
const nlohmann::json* find_path(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  const nlohmann::json* node = &j;
  for (const char* k : keys) {
    if (!node->is_object()) return nullptr;
    const auto it = node->find(k);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  return v.dump();
}

// A number for a sortable cell's data-v; JSON strings sort by text instead.
std::string sort_value(const nlohmann::json& v) {
  if (v.is_number()) return fmt::format("{:.17g}", v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  return "";
}

std::string section(const std::string& id, const std::string& title, const std::string& body) {
  return fmt::format("<section id=\"{}\"><h2>{}</h2>\n{}\n</section>\n", id, escape(title), body);
}

std::string plot_html(const Plot& p) {
  return p.svg + (p.note.empty() ? "" : "<p class=\"note\">" + escape(p.note) + "</p>");
}

std::string row(const std::string& label, const std::string& html_value) {
  return fmt::format("<dt>{}</dt><dd>{}</dd>", escape(label), html_value);
}

std::string minutes_text(double seconds) {
  if (seconds < 120) return fmt::format("{:.1f} s", seconds);
  return fmt::format("{:.1f} min ({:.0f} s)", seconds / 60, seconds);
}

double first_start(const std::vector<study::Trial>& trials) {
  double t0 = 0;
  for (const auto& t : trials)
    if (t.started_at > 0 && (t0 == 0 || t.started_at < t0)) t0 = t.started_at;
  return t0;
}

std::string summary_section(const ReportInput& in) {
  std::size_t counts[4] = {0, 0, 0, 0};
  for (const auto& t : in.trials) ++counts[static_cast<int>(t.state)];
  std::string s = "<dl class=\"summary\">";
  s += row("study", escape(in.study));
  s += row("storage", escape(in.storage));
  if (const auto* d = find_path(in.effective, {"data"}); d && d->is_object()) {
    std::string text = value_text(d->value("source", nlohmann::json("?")));
    if (d->contains("samples"))
      text += fmt::format(" · {} samples ({} train, {} validation)", value_text((*d)["samples"]),
                          value_text(d->value("train", nlohmann::json("?"))), value_text(d->value("validation", nlohmann::json("?"))));
    if (d->contains("kind")) text += " · " + value_text((*d)["kind"]);
    if (const auto c = d->find("classes"); c != d->end() && c->is_array()) text += fmt::format(" · {} classes", c->size());
    s += row("data", escape(text));
  }
  if (const auto* b = find_path(in.effective, {"run", "budget"}); b && b->is_object()) {
    s += row("trial budgets", escape(fmt::format("{}-{} {}, eta {}", value_text(b->value("min_budget", nlohmann::json("?"))),
                                                 value_text(b->value("max_budget", nlohmann::json("?"))), in.budget_unit,
                                                 value_text(b->value("eta", nlohmann::json("?"))))));
  }
  if (const auto* o = find_path(in.effective, {"options", "optimizer"})) s += row("optimizer", escape(value_text(*o)));
  if (const auto* w = find_path(in.effective, {"cpus", "workers"})) {
    const auto* th = find_path(in.effective, {"cpus", "threads"});
    s += row("workers", escape(fmt::format("{} x {} thread(s)", value_text(*w), th ? value_text(*th) : "?")));
  }
  std::string time;
  if (const auto* b = find_path(in.effective, {"time", "budget_s"})) time += fmt::format("budget {} s", value_text(*b));
  if (const auto* used = find_path(in.best_config, {"times", "total_seconds"}); used && used->is_number())
    time += (time.empty() ? "" : " · ") + std::string("used ") + minutes_text(used->get<double>());
  double last = 0;
  for (const auto& t : in.trials) last = std::max(last, t.finished_at.value_or(t.state == study::TrialState::running ? in.now : t.started_at));
  const double t0 = first_start(in.trials);
  if (t0 > 0) time += (time.empty() ? "" : " · ") + std::string("trials ran for ") + minutes_text(last - t0);
  if (const auto* started = find_path(in.effective, {"started_at"}); started && started->is_string())
    time += " · started " + started->get<std::string>();
  if (!time.empty()) s += row("time", escape(time));
  s += row("trials", escape(fmt::format("{} ({} complete, {} pruned, {} failed, {} running)", in.trials.size(),
                                        counts[static_cast<int>(study::TrialState::complete)],
                                        counts[static_cast<int>(study::TrialState::pruned)],
                                        counts[static_cast<int>(study::TrialState::fail)],
                                        counts[static_cast<int>(study::TrialState::running)])));
  if (in.best) {
    const auto& b = *in.best;
    s += row("best trial", escape(fmt::format("trial {} · config {} · budget {} {} · seed {}", b.id, b.config_id(),
                                              budget_text(b.budget), in.budget_unit, b.seed)));
    if (const auto acc = study::trial_accuracy(b)) s += row("validation accuracy", fmt::format("<b>{:.4f}</b>", *acc));
    const auto* id = find_path(in.best_config, {"trial_id"});
    const bool same = id && id->is_number_integer() && id->get<std::int64_t>() == b.id;
    // What was exported: this trial, or an ensemble of trials (its test accuracy is the ensemble's).
    const auto* members = find_path(in.best_config, {"ensemble", "members"});
    const bool ensemble = members && members->is_array() && !members->empty();
    const auto* refit = find_path(in.best_config, {"refit", "done"});
    const bool refit_done = refit && refit->is_boolean() && refit->get<bool>();
    if (same && ensemble) {
      const auto* method = find_path(in.best_config, {"ensemble", "method"});
      s += row("exported model", escape(fmt::format("an ensemble of {} trials ({}; see Ensemble below){}", members->size(),
                                                    method && method->is_string() ? method->get<std::string>() : "selection",
                                                    refit_done ? ", refit on train+validation" : "")));
    } else if (same && refit && refit->is_boolean()) {
      s += row("exported model", refit_done ? "this trial, refit on train+validation" : "this trial's own weights");
    }
    if (const auto* test = find_path(in.best_config, {"test_accuracy"}); same && test && test->is_number())
      s += row("test accuracy", fmt::format("<b>{:.4f}</b> on {} ({})", test->get<double>(),
                                            escape(value_text(in.best_config.value("test", nlohmann::json("")))),
                                            ensemble ? "the ensemble" : "the exported model"));
  } else {
    s += row("best trial", "none yet: no trial has completed");
  }
  return s + "</dl>";
}

std::string leaderboard_section(const ReportInput& in) {
  std::vector<const study::Trial*> done;
  for (const auto& t : in.trials)
    if (t.state == study::TrialState::complete && t.loss && std::isfinite(*t.loss)) done.push_back(&t);
  std::stable_sort(done.begin(), done.end(), [](const auto* a, const auto* b) {
    if (a->budget != b->budget) return a->budget > b->budget;
    return *a->loss < *b->loss;
  });
  const std::size_t shown = std::min(done.size(), k_leaderboard_rows);
  std::vector<nlohmann::json> configs;
  for (std::size_t i = 0; i < shown; ++i) configs.push_back(study::config_object(*done[i]));
  const auto params = varying_parameters(configs);
  std::string s = "<div class=\"scroll\"><table class=\"sortable\" id=\"leaderboard-table\"><thead><tr>"
                  "<th>rank</th><th>trial</th><th>config</th><th>budget</th><th>val acc</th><th>seconds</th>";
  for (const auto& p : params) {
    const auto colon = p.rfind(':');
    s += fmt::format("<th title=\"{}\">{}</th>", escape(p), escape(colon == std::string::npos ? p : p.substr(colon + 1)));
  }
  s += "</tr></thead><tbody>";
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& t = *done[i];
    s += fmt::format("<tr data-c=\"{}\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td data-v=\"{}\">{}</td>"
                     "<td class=\"num\" data-v=\"{:.17g}\">{}</td><td class=\"num\">{:.4f}</td><td class=\"num\">{:.1f}</td>",
                     config_key(t), i + 1, t.id, t.iteration * 10000000 + t.slot, escape(t.config_id()), t.budget,
                     budget_text(t.budget), 1.0 - *t.loss, t.finished_at.value_or(t.started_at) - t.started_at);
    for (const auto& p : params) {
      const auto it = configs[i].find(p);
      if (it == configs[i].end()) s += "<td>-</td>";
      else s += fmt::format("<td data-v=\"{}\">{}</td>", sort_value(*it), escape(value_text(*it)));
    }
    s += "</tr>";
  }
  s += "</tbody></table></div>";
  s += fmt::format("<p class=\"note\">{} of {} complete trials, ranked as the incumbent is chosen: largest budget first, "
                   "then validation accuracy. Click a column to sort; the columns are the parameters that differ "
                   "between these trials.</p>",
                   shown, done.size());
  return s;
}

std::string test_section(const ReportInput& in) {
  if (!in.test_confusion) return "<p class=\"note\">" + escape(in.test_note) + "</p>";
  const auto& m = *in.test_confusion;
  std::int64_t total = 0, right = 0;
  for (std::size_t t = 0; t < m.counts.size(); ++t)
    for (std::size_t p = 0; p < m.counts[t].size(); ++p) {
      total += m.counts[t][p];
      if (t == p) right += m.counts[t][p];
    }
  std::string s = fmt::format("<p>The exported model on <b>{}</b>: {} samples, accuracy <b>{:.4f}</b>.</p>",
                              escape(m.source), total, total > 0 ? static_cast<double>(right) / static_cast<double>(total) : 0.0);
  if (!in.test_note.empty()) s += "<p class=\"note\">" + escape(in.test_note) + "</p>";
  s += "<h3>Accuracy per class</h3>" + plot_html(per_class_plot(m));
  s += "<h3>Confusion matrix</h3>" + plot_html(confusion_plot(m));
  return s;
}

std::string ensemble_section(const nlohmann::json& given) {
  // automl's ensemble (commands/search_ensemble.hpp): its accuracy against the best trial alone, then its members
  // without their configurations (the leaderboard has them). Other JSON is shown as it is: a list of objects as
  // a table (one row each, one column per key), anything else as text.
  std::string intro;
  nlohmann::json ensemble = given;
  if (given.is_object() && given.contains("members") && given["members"].is_array()) {
    const auto number = [&](const nlohmann::json* j) {
      return j && j->is_number() ? fmt::format("{:.4f}", j->get<double>()) : std::string("?");
    };
    // best_single: the trial the ensemble was compared with (the best candidate alone, or the incumbent for
    // the seeds and the peers), not always the summary's best trial.
    const auto* single = find_path(given, {"best_single", "trial_id"});
    intro = fmt::format("<p>{} members, validation accuracy {} (the best of them alone{}: {}).</p>", given["members"].size(),
                        number(find_path(given, {"val_accuracy"})),
                        single && single->is_number_integer() ? fmt::format(", trial {}", single->get<std::int64_t>()) : "",
                        number(find_path(given, {"best_single", "val_accuracy"})));
    ensemble = nlohmann::json::array();
    for (auto m : given["members"]) {
      if (m.is_object()) m.erase("config");
      ensemble.push_back(m);
    }
  }
  if (ensemble.is_array() && !ensemble.empty() &&
      std::all_of(ensemble.begin(), ensemble.end(), [](const auto& m) { return m.is_object(); })) {
    std::vector<std::string> keys;
    for (const auto& m : ensemble)
      for (const auto& [k, v] : m.items())
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    std::string s = intro + "<table class=\"sortable\"><thead><tr>";
    for (const auto& k : keys) s += "<th>" + escape(k) + "</th>";
    s += "</tr></thead><tbody>";
    for (const auto& m : ensemble) {
      s += "<tr>";
      for (const auto& k : keys) {
        const auto it = m.find(k);
        s += it == m.end() ? "<td>-</td>"
                           : fmt::format("<td data-v=\"{}\">{}</td>", sort_value(*it), escape(value_text(*it)));
      }
      s += "</tr>";
    }
    return s + "</tbody></table>";
  }
  return "<pre>" + escape(ensemble.dump(2)) + "</pre>";
}

std::string failures_section(const ReportInput& in) {
  std::map<std::string, std::vector<const study::Trial*>> by_message;
  std::vector<std::string> order;
  for (const auto& t : in.trials) {
    if (t.state != study::TrialState::fail) continue;
    auto& group = by_message[t.error];
    if (group.empty()) order.push_back(t.error);
    group.push_back(&t);
  }
  if (order.empty()) return "<p class=\"note\">No trial failed.</p>";
  std::size_t failed = 0;
  for (const auto& [message, group] : by_message) failed += group.size();
  std::string s = fmt::format("<p>{} failed trials, {} distinct messages.</p>", failed, order.size());
  for (std::size_t g = 0; g < std::min(order.size(), k_max_failure_groups); ++g) {
    const auto& group = by_message[order[g]];
    std::string ids;
    for (std::size_t k = 0; k < std::min<std::size_t>(group.size(), 20); ++k)
      ids += (k ? ", " : "") + std::to_string(group[k]->id);
    if (group.size() > 20) ids += fmt::format(" and {} more", group.size() - 20);
    auto message = order[g];
    if (message.size() > k_max_error_chars) message = message.substr(0, k_max_error_chars) + " [...]";
    s += fmt::format("<p>{} (budget {} {}): trial{} {}</p><pre class=\"error\">{}</pre>", group.size() == 1 ? "1 trial" : fmt::format("{} trials", group.size()),
                     budget_text(group.front()->budget), escape(in.budget_unit), group.size() == 1 ? "" : "s", ids,
                     escape(message.empty() ? "(no message)" : message));
  }
  if (order.size() > k_max_failure_groups)
    s += fmt::format("<p class=\"note\">{} more messages not shown.</p>", order.size() - k_max_failure_groups);
  return s;
}

} // namespace

std::string render_html(const ReportInput& in) {
  const double t0 = first_start(in.trials);
  const auto curves = config_curves(in.trials);
  const auto importance = parameter_importance(in.trials);
  std::vector<std::string> important_first;
  if (importance)
    for (const auto& p : importance->parameters) important_first.push_back(p.name);

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  html += fmt::format("<title>automl report: {}</title><style>{}</style></head><body>\n", escape(in.study), k_style);
  html += fmt::format("<h1>Study {}</h1><p class=\"sub\">{} trials · report written {} by {}</p>\n", escape(in.study),
                      in.trials.size(), [&] {
                        const auto seconds = static_cast<std::time_t>(in.now);
                        std::tm tm{};
                        gmtime_r(&seconds, &tm);
                        char text[32];
                        std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
                        return std::string(text);
                      }(), escape(in.generator));
  html += section("summary", "Summary", summary_section(in));
  html += section("leaderboard", "Leaderboard", leaderboard_section(in));
  html += section("history", "Optimization history",
                  "<p class=\"note\">Validation accuracy of each trial when it ended, coloured by budget; the lines "
                  "are the best so far on each budget. The axis is logarithmic in the error.</p>" +
                      plot_html(history_plot(in.trials, t0, in.budget_unit)));
  html += section("budgets", "Accuracy against budget",
                  "<p class=\"note\">One line per configuration across the rungs it reached (HpBandSter's "
                  "loss-over-budget view), coloured by the largest budget it reached.</p>" +
                      plot_html(budget_plot(in.trials, curves, in.budget_unit)));
  html += section("timeline", "Workers", plot_html(timeline_plot(in.trials, timeline_lanes(in.trials, in.now), t0)));
  std::string importance_html;
  if (importance) {
    importance_html = fmt::format(
        "<p class=\"note\">PED-ANOVA (Watanabe et al. 2023, Optuna's default importance evaluator) on budget {} {} "
        "({} complete trials): for each parameter, the Pearson divergence between the values of the top {:.0f}% "
        "trials (at least {}) and those of all trials on that budget, from one-dimensional Parzen estimates over each "
        "parameter's empirical quantiles (categories by their smoothed frequencies); shares of the total.</p>",
        budget_text(importance->budget), escape(in.budget_unit), importance->trials, 100 * k_importance_top_quantile,
        k_importance_min_top);
    importance_html += plot_html(importance_plot(*importance));
  } else {
    importance_html = fmt::format("<p class=\"note\">No budget has {} complete trials yet.</p>", k_importance_min_trials);
  }
  html += section("importance", "Hyperparameter importance", importance_html);
  html += section("correlation", "Rank correlation between budgets",
                  "<p class=\"note\">Spearman's rank correlation of the validation accuracy of the configurations "
                  "evaluated on both budgets (as HpBandSter plots it): high values mean the small budgets rank "
                  "configurations as the large ones do.</p>" +
                      plot_html(correlation_plot(budget_correlations(in.trials))));
  html += section("parallel", "Best configurations", plot_html(parallel_plot(in.trials, curves, important_first)));
  html += section("test", "The best model on the test set", test_section(in));
  html += section("model-graph", "The best model's graph",
                  in.model_graph_svg.empty() ? "<p class=\"note\">" + escape(in.model_graph_note) + "</p>"
                                             : "<div class=\"graph\">" + in.model_graph_svg + "</div>");
  if (const auto* ensemble = find_path(in.best_config, {"ensemble"}); ensemble && !ensemble->is_null())
    html += section("ensemble", "Ensemble", ensemble_section(*ensemble));
  html += section("failures", "Failed trials", failures_section(in));
  html += "<div id=\"tip\"></div><script>" + std::string(k_script) + "</script></body></html>\n";
  return html;
}

} // namespace automl::report
