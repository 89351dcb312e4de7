#include "commands/search_ensemble.hpp"

#include "core/error.hpp"
#include "exec/checkpoints.hpp"
#include "exec/search.hpp"
#include "export/ensemble.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

namespace automl::commands {

double export_evaluation_seconds(double one_model_s, int ensemble_size, double budget_s) {
  const int members = std::clamp(ensemble_size, 1, k_ensemble_reserve_members);
  const double extra = std::min(static_cast<double>(members - 1) * one_model_s, k_ensemble_reserve_share * budget_s);
  return one_model_s + std::max(0.0, extra);
}

bool beats_alone(std::int64_t correct, double log_loss, std::int64_t alone_correct, double alone_log_loss) {
  if (correct > alone_correct) return log_loss <= alone_log_loss;
  return correct == alone_correct && log_loss <= (1 - k_ensemble_log_loss_gain) * alone_log_loss;
}

bool gain_holds_out(const export_::HeldOutComparison& h) {
  const auto gain = static_cast<double>(h.only_ensemble_correct - h.only_single_correct);
  const auto disagreements = static_cast<double>(h.only_ensemble_correct + h.only_single_correct);
  const bool significant =
      h.ensemble_correct > h.single_correct && gain >= k_ensemble_significant_gain * std::sqrt(disagreements);
  return significant || beats_alone(h.ensemble_correct, h.ensemble_log_loss, h.single_correct, h.single_log_loss);
}

std::optional<EnsembleExport> choose_ensemble(study::Storage& storage, const std::vector<study::Trial>& trials,
                                              const data::Dataset& validation, const EnsembleSettings& settings,
                                              std::string& why) {
  std::vector<const study::Trial*> ordered = exec::models_by_budget(trials);
  ordered.erase(std::remove_if(ordered.begin(), ordered.end(),
                               [&](const study::Trial* t) { return t->budget < settings.min_budget * (1 - 1e-9); }),
                ordered.end());
  const auto classes = static_cast<std::int64_t>(validation.schema.num_classes());
  std::vector<const study::Trial*> candidates;
  std::vector<exec::LocalCheckpoint> checkpoints;
  std::vector<torch::Tensor> probabilities;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (const auto* t : ordered) {
    if (candidates.size() >= k_max_ensemble_candidates ||
        (candidates.size() >= 2 && elapsed() > k_ensemble_read_share * settings.seconds))
      break;
    const auto reference = storage.checkpoint(t->id);
    if (!reference) continue;
    // A directory here without the file: no need to read the copy in the database.
    std::error_code ec;
    if (std::filesystem::is_directory(*reference, ec) &&
        !std::filesystem::exists(std::filesystem::path(*reference) / export_::k_validation_probabilities_file, ec))
      continue;
    auto checkpoint = exec::local_checkpoint(storage, t->id, settings.fetch_dir);
    if (!checkpoint) continue;
    const auto file = std::filesystem::path(checkpoint->dir()) / export_::k_validation_probabilities_file;
    if (!std::filesystem::exists(file)) continue; // validated on a subset of the validation set
    try {
      probabilities.push_back(export_::load_probabilities(file, validation.size(), classes));
    } catch (const Error& e) {
      spdlog::warn("ensemble: trial {} left out: {}", t->id, e.what());
      continue;
    }
    candidates.push_back(t);
    checkpoints.push_back(std::move(*checkpoint));
  }
  if (candidates.size() < 2) {
    why = fmt::format("{} trial{} stored probabilities for the whole validation set", candidates.size(),
                      candidates.size() == 1 ? "" : "s");
    return std::nullopt;
  }
  // The probabilities of a pool of candidates (indices into `candidates`).
  const auto probabilities_of = [&](const std::vector<std::size_t>& pool) {
    std::vector<torch::Tensor> pooled;
    for (const auto i : pool) pooled.push_back(probabilities[i]);
    return pooled;
  };
  // Selection over a pool of candidates, mapped back to all candidates.
  const auto select_among = [&](const std::vector<std::size_t>& pool) {
    const auto s = export_::select_ensemble(probabilities_of(pool), validation.labels, settings.size, settings.size);
    export_::EnsembleSelection all;
    all.counts.assign(candidates.size(), 0);
    all.weights.assign(candidates.size(), 0.0);
    all.candidate_accuracy.assign(candidates.size(), 0.0);
    all.candidate_log_loss.assign(candidates.size(), 0.0);
    for (std::size_t j = 0; j < pool.size(); ++j) {
      all.counts[pool[j]] = s.counts[j];
      all.weights[pool[j]] = s.weights[j];
      all.candidate_accuracy[pool[j]] = s.candidate_accuracy[j];
      all.candidate_log_loss[pool[j]] = s.candidate_log_loss[j];
    }
    all.accuracy = s.accuracy;
    all.log_loss = s.log_loss;
    all.best_candidate = static_cast<int>(pool[static_cast<std::size_t>(s.best_candidate)]);
    return all;
  };
  // Members by weight, heaviest first.
  const auto members_of = [&](const export_::EnsembleSelection& s) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < candidates.size(); ++i)
      if (s.counts[i] > 0) members.push_back(i);
    std::stable_sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) { return s.counts[a] > s.counts[b]; });
    return members;
  };
  // Each candidate's validation accuracy alone; the commonest class's share (chance).
  const auto n = static_cast<double>(validation.size());
  const double chance = validation.labels.bincount().max().item<double>() / n;
  std::vector<double> accuracy;
  for (const auto& p : probabilities) accuracy.push_back(p.argmax(1).eq(validation.labels).sum().item<double>() / n);
  // Each member's pipeline, loaded once: timed, described and put in the ensemble.
  std::map<std::size_t, train::Pipeline> pipelines;
  const auto pipeline = [&](std::size_t i) -> train::Pipeline& {
    auto it = pipelines.find(i);
    if (it == pipelines.end()) it = pipelines.emplace(i, train::load_checkpoint_pipeline(checkpoints[i].dir())).first;
    return it->second;
  };
  // The members (in their order) that can evaluate the export's samples in the time left, each timed once.
  std::map<std::size_t, double> evaluation_seconds;
  const auto in_time = [&](const std::vector<std::size_t>& members) {
    if (settings.samples <= 0 || !std::isfinite(settings.seconds) || members.size() < 2) return members;
    torch::NoGradGuard no_grad;
    const auto rows = std::min(k_ensemble_pace_samples, validation.size());
    const auto x = validation.features.narrow(0, 0, rows);
    std::vector<std::size_t> fit;
    double total = 0;
    for (const auto i : members) {
      if (!evaluation_seconds.count(i)) {
        auto& module = pipeline(i).module;
        module.eval();
        for (int warm_up = 0; warm_up < 2; ++warm_up) module.forward({x.narrow(0, 0, std::min<std::int64_t>(8, rows))});
        const auto pass_start = std::chrono::steady_clock::now();
        module.forward({x});
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - pass_start).count();
        evaluation_seconds[i] = k_ensemble_safety * seconds * static_cast<double>(settings.samples) / static_cast<double>(rows);
      }
      const double cost = evaluation_seconds[i];
      if (total + cost > settings.seconds - elapsed()) continue;
      total += cost;
      fit.push_back(i);
    }
    return fit;
  };
  // The exported ensemble of `members` (heaviest first) with `weights` (per candidate), `description` completed.
  const auto ensemble_of = [&](const std::vector<std::size_t>& members, const std::vector<double>& weights,
                               const std::string& how, nlohmann::json description) {
    EnsembleExport e;
    nlohmann::json described = nlohmann::json::array();
    e.architecture = fmt::format("AutoMLEnsemble: weighted average of the softmax of {} members ({})\n", members.size(), how);
    for (const auto i : members) {
      const auto& t = *candidates[i];
      e.members.push_back(pipeline(i).module);
      e.weights.push_back(weights[i]);
      e.member_ids.push_back(t.id);
      described.push_back({{"trial_id", t.id},
                           {"config_id", nlohmann::json::parse(t.config_id())},
                           {"budget", t.budget},
                           {"state", study::to_string(t.state)},
                           {"weight", weights[i]},
                           {"val_accuracy", accuracy[i]},
                           {"config", nlohmann::json::parse(t.config)}});
      e.architecture += fmt::format("\nmember {} (trial {}, weight {:.4f}):\n{}", e.member_ids.size() - 1, t.id,
                                    weights[i], train::describe(pipeline(i)));
    }
    e.val_accuracy = description["val_accuracy"].get<double>();
    description["candidates"] = candidates.size();
    description["members"] = std::move(described);
    e.description = std::move(description);
    return e;
  };

  // The incumbent's index among the candidates, if it is one: the anchor of the seeds and of the peers.
  const auto incumbent_index = [&]() -> std::optional<std::size_t> {
    const auto it = std::find_if(candidates.begin(), candidates.end(),
                                 [&](const study::Trial* t) { return t->id == settings.incumbent_id; });
    if (it == candidates.end()) return std::nullopt;
    return static_cast<std::size_t>(it - candidates.begin());
  };
  // The equal average of `members` (the incumbent first, scored `alone`): the seeds' and the peers' ensembles.
  // Nothing is chosen on validation there, so nothing is held out ("held_out" is null).
  const auto equal_average = [&](const std::vector<std::size_t>& members, const std::string& method,
                                 const std::string& others, const export_::AverageScore& alone,
                                 const export_::AverageScore& average) {
    std::vector<double> weights(candidates.size(), 0.0);
    for (const auto i : members) weights[i] = 1.0 / static_cast<double>(members.size());
    const auto anchor_id = candidates[members.front()]->id;
    return ensemble_of(members, weights, fmt::format("trial {} and {} {}, equal weights", anchor_id, members.size() - 1, others),
                       {{"method", method},
                        {"size", members.size()},
                        {"candidates_left_out", 0},
                        {"val_accuracy", average.accuracy},
                        {"val_log_loss", average.log_loss},
                        {"best_single", {{"trial_id", anchor_id}, {"val_accuracy", alone.accuracy}, {"val_log_loss", alone.log_loss}}},
                        {"held_out", nullptr}});
  };

  // Ensemble selection among the competent candidates; nothing, with the reason in `why`, when it does not win.
  const auto selected = [&]() -> std::optional<EnsembleExport> {
    // The candidates that may take part: within reach of the best alone (k_ensemble_min_competence).
    const double best_accuracy = *std::max_element(accuracy.begin(), accuracy.end());
    const double standard_error = std::sqrt(best_accuracy * (1 - best_accuracy) / n);
    const double floor = chance + settings.min_competence * (best_accuracy - chance) - 2 * standard_error - 0.5 / n;
    std::vector<std::size_t> competent;
    for (std::size_t i = 0; i < candidates.size(); ++i)
      if (accuracy[i] >= floor) competent.push_back(i);
    if (competent.size() < candidates.size())
      spdlog::info("ensemble: {} of {} candidates left out, below {:.4f} validation accuracy alone (chance {:.4f}, best {:.4f})",
                   candidates.size() - competent.size(), candidates.size(), floor + 0.5 / n, chance, best_accuracy);
    if (competent.size() < 2) {
      why = fmt::format("{} of the {} candidates come near the best alone on validation", competent.size(), candidates.size());
      return std::nullopt;
    }
    std::vector<std::size_t> pool = competent; // the candidates the selection is made among
    auto selection = select_among(pool);
    const auto best_index = static_cast<std::size_t>(selection.best_candidate); // the best candidate alone, of all
    const double best_single = selection.candidate_accuracy[best_index];
    const double best_single_log_loss = selection.candidate_log_loss[best_index];
    auto members = members_of(selection);
    // When some members cannot evaluate the export's samples in time, the selection runs again among those that can.
    if (const auto fit = in_time(members); fit.size() < members.size()) {
      if (fit.size() < 2) {
        why = fmt::format("the {:.1f} s left can evaluate fewer than two members", std::max(0.0, settings.seconds - elapsed()));
        return std::nullopt;
      }
      spdlog::info("ensemble: {} of the {} selected members can be evaluated in the {:.1f} s left; selecting among them",
                   fit.size(), members.size(), settings.seconds);
      pool = fit;
      selection = select_among(pool);
      members = members_of(selection);
    }
    // Accuracies are counts over the same samples: more right samples, not a rounding difference.
    const double one_sample = 1.0 / static_cast<double>(validation.size());
    const bool more_right = selection.accuracy >= best_single + 0.5 * one_sample;
    const bool as_right_and_surer = selection.accuracy >= best_single - 0.5 * one_sample &&
                                    selection.log_loss <= (1 - k_ensemble_log_loss_gain) * best_single_log_loss;
    if (members.size() < 2 || !(more_right || as_right_and_surer)) {
      why = fmt::format("no combination of the {} candidates beats the best of them alone on validation ({:.4f}, "
                        "log-loss {:.4f})",
                        candidates.size(), best_single, best_single_log_loss);
      return std::nullopt;
    }
    // The same choice made on part of the validation set and judged on the rest (k_ensemble_held_out_folds).
    const auto folds = static_cast<int>(std::min<std::int64_t>(k_ensemble_held_out_folds, validation.size() / 2));
    nlohmann::json held_out; // null when the validation set is too small to hold rows out
    if (folds >= 2) {
      const auto h = export_::compare_held_out(probabilities_of(pool), validation.labels, settings.size, settings.size, folds);
      held_out = {{"folds", h.folds},
                  {"samples", h.samples},
                  {"ensemble_correct", h.ensemble_correct},
                  {"single_correct", h.single_correct},
                  {"only_ensemble_correct", h.only_ensemble_correct},
                  {"only_single_correct", h.only_single_correct},
                  {"ensemble_log_loss", h.ensemble_log_loss},
                  {"single_log_loss", h.single_log_loss}};
      const auto judged = fmt::format("chosen on {} of {} validation folds and judged on the other, the ensemble got {} "
                                      "of {} samples right (log-loss {:.4f}), the best trial alone {} ({:.4f})",
                                      folds - 1, folds, h.ensemble_correct, h.samples, h.ensemble_log_loss,
                                      h.single_correct, h.single_log_loss);
      if (!gain_holds_out(h)) {
        why = fmt::format("the selection's gain on validation ({:.4f} against {:.4f} alone) does not hold on samples it "
                          "was not chosen on: {}",
                          selection.accuracy, best_single, judged);
        return std::nullopt;
      }
      spdlog::info("ensemble: {}", judged);
    }
    if (!more_right)
      spdlog::info("ensemble: as accurate on validation as the best trial alone ({:.4f}), with a log-loss of {:.4f} "
                   "against {:.4f}",
                   best_single, selection.log_loss, best_single_log_loss);
    const auto& best = *candidates[best_index];
    return ensemble_of(members, selection.weights, fmt::format("ensemble selection, {} rounds", settings.size),
                       {{"method", "selection"},
                        {"size", settings.size},
                        {"candidates_left_out", candidates.size() - competent.size()},
                        {"val_accuracy", selection.accuracy},
                        {"val_log_loss", selection.log_loss},
                        {"best_single", {{"trial_id", best.id}, {"val_accuracy", best_single}, {"val_log_loss", best_single_log_loss}}},
                        {"held_out", held_out}});
  };

  // The incumbent with the other trials of its configuration on its budget (its seed replicas, exec/search.hpp),
  // equal weights; nothing, with the reason in `why_seeds` (empty when there are none), when they do not win.
  std::string why_seeds;
  const auto seeds = [&]() -> std::optional<EnsembleExport> {
    const auto incumbent = incumbent_index();
    if (!incumbent) return std::nullopt;
    const auto anchor_index = *incumbent;
    const study::Trial& anchor = *candidates[anchor_index];
    std::vector<std::size_t> members{anchor_index};
    for (std::size_t i = 0; i < candidates.size(); ++i)
      if (i != anchor_index && candidates[i]->config == anchor.config &&
          std::abs(candidates[i]->budget - anchor.budget) <= 1e-9 * anchor.budget)
        members.push_back(i);
    if (members.size() < 2) return std::nullopt;
    members = in_time(members);
    if (members.size() < 2 || members.front() != anchor_index) {
      why_seeds = fmt::format("the {:.1f} s left can evaluate fewer than two of them", std::max(0.0, settings.seconds - elapsed()));
      return std::nullopt;
    }
    const auto alone = export_::score_average({probabilities[anchor_index]}, validation.labels);
    const auto average = export_::score_average(probabilities_of(members), validation.labels);
    const bool wins = beats_alone(average.correct, average.log_loss, alone.correct, alone.log_loss);
    const auto compared = fmt::format("trial {} with {} more seed{} of its configuration got {} of {} validation "
                                      "samples right (log-loss {:.4f}), alone {} ({:.4f})",
                                      anchor.id, members.size() - 1, members.size() == 2 ? "" : "s", average.correct,
                                      validation.size(), average.log_loss, alone.correct, alone.log_loss);
    if (!wins) {
      why_seeds = compared;
      return std::nullopt;
    }
    spdlog::info("ensemble: {}", compared);
    return equal_average(members, "seeds", "more seeds of its configuration", alone, average);
  };

  // The incumbent with its peers: the candidates on its budget within one standard error of its validation
  // accuracy (at least one sample), equal weights, when another one there ties with it exactly; nothing otherwise.
  const auto peers = [&]() -> std::optional<EnsembleExport> {
    const auto incumbent = incumbent_index();
    if (!incumbent || settings.size < 2) return std::nullopt;
    const auto anchor_index = *incumbent;
    const study::Trial& anchor = *candidates[anchor_index];
    const double best = accuracy[anchor_index];
    const double margin = std::max(std::sqrt(best * (1 - best) / n), 1.0 / n);
    const double half_sample = 0.5 / n;
    std::vector<std::size_t> others;
    bool tie = false;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (i == anchor_index || std::abs(candidates[i]->budget - anchor.budget) > 1e-9 * anchor.budget) continue;
      if (accuracy[i] < best - margin - half_sample) continue;
      tie = tie || std::abs(accuracy[i] - best) < half_sample;
      others.push_back(i);
    }
    if (!tie) return std::nullopt;
    const auto log_loss_of = [&](std::size_t i) { return export_::score_average({probabilities[i]}, validation.labels).log_loss; };
    std::map<std::size_t, double> log_loss;
    for (const auto i : others) log_loss[i] = log_loss_of(i);
    std::stable_sort(others.begin(), others.end(), [&](std::size_t a, std::size_t b) {
      return accuracy[a] != accuracy[b] ? accuracy[a] > accuracy[b] : log_loss[a] < log_loss[b];
    });
    std::vector<std::size_t> members{anchor_index};
    for (const auto i : others)
      if (members.size() < static_cast<std::size_t>(settings.size)) members.push_back(i);
    members = in_time(members);
    if (members.size() < 2 || members.front() != anchor_index) return std::nullopt;
    const auto alone = export_::score_average({probabilities[anchor_index]}, validation.labels);
    const auto average = export_::score_average(probabilities_of(members), validation.labels);
    spdlog::info("ensemble: trial {} ties with other trials on its budget on validation ({} of {} samples right); "
                 "averaging it with the {} within {:.4f} of its accuracy: {} right (log-loss {:.4f}, alone {:.4f})",
                 anchor.id, alone.correct, validation.size(), members.size() - 1, margin, average.correct,
                 average.log_loss, alone.log_loss);
    auto e = equal_average(members, "peers", "more trials as accurate on validation", alone, average);
    e.description["margin"] = margin;
    return e;
  };

  if (auto e = selected()) return e;
  if (auto e = seeds()) {
    spdlog::info("ensemble: no selection ({}); the incumbent's seeds instead", why);
    return e;
  }
  if (!why_seeds.empty()) why += fmt::format("; the incumbent's seeds do not beat it alone either: {}", why_seeds);
  if (auto e = peers()) {
    spdlog::info("ensemble: no selection ({}); the incumbent's peers instead", why);
    return e;
  }
  return std::nullopt;
}

} // namespace automl::commands
