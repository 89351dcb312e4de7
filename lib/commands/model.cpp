#include "commands/model.hpp"

#include "core/error.hpp"
#include "core/files.hpp"
#include "export/model_file.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <unordered_map>

namespace automl::commands {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '"' ? std::string("\\\"") : std::string(1, c);
  return out;
}

// The forward graph, inlined, as DOT: one node per operation (constants, attribute reads and list
// constructions folded away), edges along the values they pass.
std::string forward_dot(torch::jit::Module& module) {
  auto graph = module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  std::unordered_map<const torch::jit::Node*, int> ids;
  std::string dot = "digraph forward {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
  dot += "  input [label=\"input\", shape=ellipse];\n";
  auto hidden = [](const torch::jit::Node* n) {
    const auto kind = n->kind();
    return kind == c10::prim::Constant || kind == c10::prim::GetAttr || kind == c10::prim::ListConstruct ||
           kind == c10::prim::TupleConstruct || kind == c10::prim::NumToTensor;
  };
  for (const auto* node : graph->nodes()) {
    if (hidden(node)) continue;
    const int id = static_cast<int>(ids.size());
    ids[node] = id;
    std::string label = node->kind().toQualString();
    if (!node->outputs().empty()) {
      if (auto type = node->output(0)->type()->cast<c10::TensorType>(); type && type->sizes().concrete_sizes())
        label += fmt::format("\\n{}", fmt::join(*type->sizes().concrete_sizes(), "x"));
    }
    dot += fmt::format("  n{} [label=\"{}\"];\n", id, escape(label));
    for (const auto* value : node->inputs()) {
      const auto* producer = value->node();
      if (producer->kind() == c10::prim::Param) {
        if (value->offset() == 1) dot += fmt::format("  input -> n{};\n", id); // offset 0 is self
      } else if (auto it = ids.find(producer); it != ids.end()) {
        dot += fmt::format("  n{} -> n{};\n", it->second, id);
      }
    }
  }
  dot += "  output [label=\"logits\", shape=ellipse];\n";
  for (const auto* value : graph->outputs())
    if (auto it = ids.find(value->node()); it != ids.end()) dot += fmt::format("  n{} -> output;\n", it->second);
  return dot + "}\n";
}

// Runs `args` (args[0] looked up on PATH) and waits for it; its exit status, or -1 when it could not start.
int run_program(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_graph(torch::jit::Module& module, const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  const std::string format = ext.empty() ? "" : ext.substr(1);
  if (format != "dot" && format != "svg" && format != "pdf" && format != "png")
    throw InputError(fmt::format("--graph {}: use a .dot, .svg, .pdf or .png file name", path.string()));
  const std::string dot = forward_dot(module);
  if (format == "dot") {
    core::write_file_atomic(path, dot);
    return;
  }
  const auto dot_path = core::temporary_path_for(path.string() + ".dot");
  const auto drawn = core::temporary_path_for(path);
  core::write_file_atomic(dot_path, dot);
  // Graphviz runs with an argument vector, not through a shell: any character in a path is just a character.
  const int status = run_program({"dot", "-T" + format, dot_path.string(), "-o", drawn.string()});
  std::error_code ignored;
  std::filesystem::remove(dot_path, ignored);
  if (status != 0) {
    std::filesystem::remove(drawn, ignored);
    throw Error(fmt::format("Graphviz failed to draw {} (is the graphviz package installed? scripts/setup installs it)",
                            path.string()));
  }
  core::commit_path(drawn, path);
}

} // namespace

int model(const ModelOptions& o, std::ostream& out) {
  if (o.model.empty()) throw InputError("model: a model FILE is required");
  auto m = export_::load_model(o.model);
  if (!o.graph.empty()) write_graph(m.module, o.graph);
  const auto& s = m.info.schema;
  if (o.json) {
    out << nlohmann::json{{"model", o.model},
                          {"schema", export_::to_json(s)},
                          {"config", m.info.config},
                          {"training", m.info.training},
                          {"versions", m.info.versions},
                          {"architecture", m.info.architecture}}
               .dump(2)
        << "\n";
    return 0;
  }
  fmt::print(out, "{}", m.info.architecture);
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
