#include "commands/model.hpp"

#include "core/error.hpp"
#include "export/model_file.hpp"
#include "export/model_graph.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include <ostream>

namespace automl::commands {

int model(const ModelOptions& o, std::ostream& out) {
  if (o.model.empty()) throw InputError("model: a model FILE is required");
  auto m = export_::load_model(o.model);
  if (!o.graph.empty()) export_::write_graph(m.module, o.graph);
  const auto& s = m.info.schema;
  if (o.json) {
    out << nlohmann::json{{"model", o.model},
                          {"schema", export_::to_json(s)},
                          {"config", m.info.config},
                          {"training", m.info.training},
                          {"versions", m.info.versions},
                          {"ensemble", m.info.ensemble},
                          {"architecture", m.info.architecture}}
               .dump(2)
        << "\n";
    return 0;
  }
  fmt::print(out, "{}", m.info.architecture);
  if (const auto& e = m.info.ensemble; !e.is_null()) {
    const auto& members = e["members"];
    fmt::print(out, "ensemble  {} members", members.size());
    if (e.contains("val_accuracy") && e["val_accuracy"].is_number())
      fmt::print(out, ", validation accuracy {:.4f}", e["val_accuracy"].get<double>());
    fmt::print(out, "\n");
    for (const auto& member : members) {
      const auto text = [&](const char* key) { return member.contains(key) ? member[key].dump() : std::string("?"); };
      fmt::print(out, "  trial {} weight {} validation accuracy {}\n", text("trial_id"), text("weight"), text("val_accuracy"));
    }
  }
  fmt::print(out, "input     {} samples of {}{}\n", data::to_string(s.kind), fmt::join(s.sample_shape, "x"),
             s.feature_names.empty() ? "" : fmt::format(" ({})", fmt::join(s.feature_names, ", ")));
  fmt::print(out, "classes   {}\n", fmt::join(s.class_names, ", "));
  fmt::print(out, "config\n");
  for (const auto& [key, value] : m.info.config.items()) fmt::print(out, "  {}: {}\n", key, value.dump());
  if (m.info.training.contains("val_accuracy"))
    fmt::print(out, "training  {} epochs, validation accuracy {}\n", m.info.training.value("epochs", 0.0),
               m.info.training["val_accuracy"].dump());
  fmt::print(out, "versions  automl {}, libtorch {}\n", m.info.versions.value("automl", "?"),
             m.info.versions.value("libtorch", "?"));
  if (!o.graph.empty()) fmt::print(out, "graph written to {}\n", o.graph);
  return 0;
}

} // namespace automl::commands
