#pragma once
// `automl model FILE.pt`: what an exported model is (architecture, input schema, configuration, training),
// and optionally its computation graph drawn with Graphviz.

#include <iosfwd>
#include <string>

namespace automl::commands {

// Example: ModelOptions o; o.model = "runs/x/model.pt"; o.graph = "net.svg";
struct ModelOptions {
  std::string model;  // required
  std::string graph;  // optional: .dot (written directly), .svg/.pdf/.png (rendered by Graphviz `dot`)
  bool json = false;
};

int model(const ModelOptions& options, std::ostream& out);

} // namespace automl::commands
