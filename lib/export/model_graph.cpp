#include "export/model_graph.hpp"

#include "core/error.hpp"
#include "core/files.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace automl::export_ {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '"' ? std::string("\\\"") : std::string(1, c);
  return out;
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

// Draws `dot` text into `drawn` as `format` with Graphviz; false when it is missing or fails (`drawn` removed then).
bool run_dot(const std::string& dot, const std::string& format, const std::filesystem::path& drawn) {
  const auto dot_path = core::temporary_path_for(drawn.string() + ".dot");
  core::write_file_atomic(dot_path, dot);
  const int status = run_program({"dot", "-T" + format, dot_path.string(), "-o", drawn.string()});
  std::error_code ignored;
  std::filesystem::remove(dot_path, ignored);
  if (status != 0) std::filesystem::remove(drawn, ignored);
  return status == 0;
}

} // namespace

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
  const auto drawn = core::temporary_path_for(path);
  // Graphviz runs with an argument vector, not through a shell: any character in a path is just a character.
  if (!run_dot(dot, format, drawn)) {
    throw Error(fmt::format("Graphviz failed to draw {} (is the graphviz package installed? scripts/setup installs it)",
                            path.string()));
  }
  core::commit_path(drawn, path);
}

std::optional<std::string> graph_svg(torch::jit::Module& module) {
  const auto drawn = core::temporary_path_for(std::filesystem::temp_directory_path() / "automl-graph.svg");
  if (!run_dot(forward_dot(module), "svg", drawn)) return std::nullopt;
  std::ifstream in(drawn);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string svg = text.str();
  std::error_code ignored;
  std::filesystem::remove(drawn, ignored);
  // Graphviz starts with an XML declaration, a DOCTYPE and comments, which HTML does not want inline.
  const auto start = svg.find("<svg");
  if (start == std::string::npos) return std::nullopt;
  return svg.substr(start);
}

} // namespace automl::export_
