#pragma once
// The forward computation graph of an exported model, for `automl model --graph` and the report: DOT text, and
// drawings through Graphviz's `dot` (run with an argument vector, never a shell).

#include <torch/script.h>

#include <filesystem>
#include <optional>
#include <string>

namespace automl::export_ {

// The forward graph, inlined, as DOT: one node per operation (constants, attribute reads and list
// constructions folded away), edges along the values they pass.
std::string forward_dot(torch::jit::Module& module);

// Writes the graph to `path`: .dot directly, .svg/.pdf/.png drawn by Graphviz. Throws InputError for another
// extension, Error when Graphviz fails or is missing.
void write_graph(torch::jit::Module& module, const std::filesystem::path& path);

// The graph drawn as SVG text (from "<svg" on, to embed in HTML), or nullopt when Graphviz is missing or fails.
std::optional<std::string> graph_svg(torch::jit::Module& module);

} // namespace automl::export_
