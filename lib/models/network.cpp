#include "models/network.hpp"

#include "core/error.hpp"
#include "core/suggest.hpp"
#include "models/builder.hpp"
#include "models/shapes.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <map>

namespace automl::models {

namespace {

using Build = std::function<std::string(const core::Hyperparameters&, const NetworkInput&, NetBuilder&,
                                        const std::string& scope)>;

struct Family {
  bool image;
  Build build;
};

void check_range(const std::string& key, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value < lo || value > hi) throw InputError(fmt::format("{}: must be in [{}, {}], got {}", key, lo, hi, value));
}

std::int64_t feature_width(const NetworkInput& input) {
  std::int64_t n = 1;
  for (auto d : input.shape) n *= d;
  return n;
}

// One hidden layer of the MLP families: Linear, (BatchNorm,) activation, dropout.
std::string mlp_layer(NetBuilder& b, const std::string& x, std::int64_t in, std::int64_t out, const std::string& act,
                      double dropout, bool batch_norm = false) {
  std::string h = b.linear(x, in, out);
  if (batch_norm) h = b.batch_norm(h, out, false);
  return b.dropout(b.activation(h, act), dropout);
}

std::string mlpnet(const core::Hyperparameters& hp, const NetworkInput& input, NetBuilder& b, const std::string& s) {
  const auto layers = hp.get_int(s, "num_layers");
  check_range(s + ":num_layers", layers, 1, 64);
  const auto act = hp.get_string(s, "activation", "relu");
  const bool use_dropout = hp.get_bool(s, "use_dropout", false);
  const bool batch_norm = hp.get_bool(s, "use_batch_norm", false);
  std::string x = "x";
  std::int64_t width = feature_width(input);
  for (std::int64_t i = 1; i <= layers; ++i) {
    const auto units = hp.get_int(s, fmt::format("num_units_{}", i));
    check_range(fmt::format("{}:num_units_{}", s, i), units, 1, 1 << 16);
    x = mlp_layer(b, x, width, units, act, use_dropout ? hp.get_double(s, fmt::format("dropout_{}", i), 0.0) : 0.0,
                  batch_norm);
    width = units;
  }
  return b.linear(x, width, input.num_classes);
}

std::string shapedmlpnet(const core::Hyperparameters& hp, const NetworkInput& input, NetBuilder& b,
                         const std::string& s) {
  const auto layers = hp.get_int(s, "num_layers");
  check_range(s + ":num_layers", layers, 1, 64);
  const auto max_units = hp.get_int(s, "max_units");
  check_range(s + ":max_units", max_units, 1, 1 << 16);
  const auto shape = hp.get_string(s, "mlp_shape", "funnel");
  const auto act = hp.get_string(s, "activation", "relu");
  const bool use_dropout = hp.get_bool(s, "use_dropout", false);
  const double max_dropout = use_dropout ? hp.get_double(s, "max_dropout", 0.0) : 0.0;
  const auto in = feature_width(input);
  const auto widths = shaped_widths(shape, in, input.num_classes, max_units, layers);
  const auto dropouts = shaped_widths(shape, 0, 0, 1000, layers);
  std::string x = "x";
  std::int64_t width = in;
  for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(layers) && i < widths.size(); ++i) {
    x = mlp_layer(b, x, width, widths[i], act, static_cast<double>(dropouts[i]) / 1000.0 * max_dropout);
    width = widths[i];
  }
  return b.linear(x, width, input.num_classes);
}

struct ResNetSpec {
  std::int64_t groups = 1;
  std::int64_t blocks_per_group = 1;
  std::vector<std::int64_t> units;    // groups + 1 entries: the stem width, then one per group
  std::vector<double> dropouts;       // one per group
  std::string activation = "relu";
  bool shake_shake = false;
  bool shake_drop = false;
  double max_shake_drop_probability = 0.5;
};

// Auto-PyTorch's pre-activation ResBlock for feature data. When the width changes, BatchNorm + activation
// run once in front of both the projection shortcut and the branch.
std::string res_block(NetBuilder& b, const std::string& x, std::int64_t in, std::int64_t out, const ResNetSpec& spec,
                      double dropout, std::int64_t block_index, std::int64_t num_blocks) {
  b.open("ResBlock");
  std::string start = x;
  std::string residual = x;
  const bool project = in != out;
  if (project) {
    start = b.activation(b.batch_norm(x, in, false), spec.activation);
    residual = b.linear(start, in, out);
  }
  auto branch = [&] {
    std::string h = start;
    if (!project) h = b.activation(b.batch_norm(h, in, false), spec.activation);
    h = b.linear(h, in, out);
    h = b.dropout(b.activation(b.batch_norm(h, out, false), spec.activation), dropout);
    return b.linear(h, out, out);
  };
  std::string h = branch();
  if (spec.shake_shake) h = b.shake_shake(h, branch());
  if (spec.shake_drop)
    h = b.shake_drop(h, 1.0 - static_cast<double>(block_index + 1) / static_cast<double>(num_blocks) *
                                  spec.max_shake_drop_probability);
  b.close();
  return b.add(h, residual);
}

std::string resnet_from_spec(const ResNetSpec& spec, const NetworkInput& input, NetBuilder& b) {
  std::string x = b.linear("x", feature_width(input), spec.units[0]);
  const auto num_blocks = spec.groups * spec.blocks_per_group;
  for (std::int64_t g = 1; g <= spec.groups; ++g) {
    b.open(fmt::format("ResGroup{}", g));
    for (std::int64_t j = 0; j < spec.blocks_per_group; ++j) {
      const auto in = j == 0 ? spec.units[static_cast<std::size_t>(g - 1)] : spec.units[static_cast<std::size_t>(g)];
      x = res_block(b, x, in, spec.units[static_cast<std::size_t>(g)], spec, spec.dropouts[static_cast<std::size_t>(g - 1)],
                    (g - 1) * spec.blocks_per_group + j, num_blocks);
    }
    b.close();
  }
  const auto last = spec.units.back();
  x = b.activation(b.batch_norm(x, last, false), spec.activation);
  return b.linear(x, last, input.num_classes);
}

ResNetSpec common_resnet_spec(const core::Hyperparameters& hp, const std::string& s) {
  ResNetSpec spec;
  spec.groups = hp.get_int(s, "num_groups");
  check_range(s + ":num_groups", spec.groups, 1, 64);
  spec.blocks_per_group = hp.get_int(s, "blocks_per_group");
  check_range(s + ":blocks_per_group", spec.blocks_per_group, 1, 64);
  spec.activation = hp.get_string(s, "activation", "relu");
  spec.shake_shake = hp.get_bool(s, "use_shake_shake", false);
  spec.shake_drop = hp.get_bool(s, "use_shake_drop", false);
  if (spec.shake_drop) spec.max_shake_drop_probability = hp.get_double(s, "max_shake_drop_probability", 0.5);
  return spec;
}

std::string resnet(const core::Hyperparameters& hp, const NetworkInput& input, NetBuilder& b, const std::string& s) {
  ResNetSpec spec = common_resnet_spec(hp, s);
  const bool use_dropout = hp.get_bool(s, "use_dropout", false);
  for (std::int64_t g = 0; g <= spec.groups; ++g) {
    spec.units.push_back(hp.get_int(s, fmt::format("num_units_{}", g)));
    check_range(fmt::format("{}:num_units_{}", s, g), spec.units.back(), 1, 1 << 16);
    if (g > 0) spec.dropouts.push_back(use_dropout ? hp.get_double(s, fmt::format("dropout_{}", g), 0.0) : 0.0);
  }
  return resnet_from_spec(spec, input, b);
}

std::string shapedresnet(const core::Hyperparameters& hp, const NetworkInput& input, NetBuilder& b,
                         const std::string& s) {
  ResNetSpec spec = common_resnet_spec(hp, s);
  const auto max_units = hp.get_int(s, "max_units");
  check_range(s + ":max_units", max_units, 1, 1 << 16);
  const auto shape = hp.get_string(s, "resnet_shape", "funnel");
  spec.units = shaped_widths(shape, feature_width(input), input.num_classes, max_units, spec.groups + 2);
  spec.units.pop_back();
  const bool use_dropout = hp.get_bool(s, "use_dropout", false);
  const double max_dropout = use_dropout ? hp.get_double(s, "max_dropout", 0.0) : 0.0;
  for (auto d : shaped_widths(shape, 0, 0, 1000, spec.groups))
    spec.dropouts.push_back(static_cast<double>(d) / 1000.0 * max_dropout);
  return resnet_from_spec(spec, input, b);
}

std::string convnet(const core::Hyperparameters& hp, const NetworkInput& input, NetBuilder& b, const std::string& s) {
  const auto conv_layers = hp.get_int(s, "num_conv_layers");
  check_range(s + ":num_conv_layers", conv_layers, 1, 4);
  const auto fc_layers = hp.get_int(s, "num_fc_layers");
  check_range(s + ":num_fc_layers", fc_layers, 1, 2);
  std::string x = "x";
  std::int64_t channels = input.shape.at(0);
  std::int64_t height = input.shape.at(1);
  std::int64_t width = input.shape.at(2);
  for (std::int64_t i = 0; i < conv_layers; ++i) {
    const auto depth = hp.get_int(s, fmt::format("conv_depth_{}", i));
    check_range(fmt::format("{}:conv_depth_{}", s, i), depth, 1, 4096);
    x = b.activation(b.conv2d(x, channels, depth, 3, 1, 0), "relu");
    channels = depth;
    height -= 2;
    width -= 2;
  }
  if (height < 2 || width < 2)
    throw InputError(fmt::format("{}: {} unpadded 3x3 convolutions leave a {}x{} image, too small to pool", s,
                                 conv_layers, height, width));
  x = b.dropout(b.max_pool2d(x, 2), hp.get_double(s, "conv_dropout", 0.0));
  x = b.flatten(x);
  std::int64_t features = channels * (height / 2) * (width / 2);
  for (std::int64_t i = 0; i < fc_layers; ++i) {
    const auto out = hp.get_int(s, fmt::format("fc_output_feat_{}", i));
    check_range(fmt::format("{}:fc_output_feat_{}", s, i), out, 1, 1 << 16);
    x = mlp_layer(b, x, features, out, "relu", hp.get_double(s, fmt::format("fc_dropout_{}", i), 0.0));
    features = out;
  }
  return b.linear(x, features, input.num_classes);
}

// Basic residual block of two 3x3 convolutions with BatchNorm (He et al. 2016); a strided 1x1 projection
// when the shape changes.
std::string conv_block(NetBuilder& b, const std::string& x, std::int64_t in, std::int64_t out, std::int64_t stride,
                       const std::string& act) {
  b.open("BasicBlock");
  std::string h = b.activation(b.batch_norm(b.conv2d(x, in, out, 3, stride, 1, false), out, true), act);
  h = b.batch_norm(b.conv2d(h, out, out, 3, 1, 1, false), out, true);
  std::string shortcut = x;
  if (stride != 1 || in != out) shortcut = b.batch_norm(b.conv2d(x, in, out, 1, stride, 0, false), out, true);
  b.close();
  return b.activation(b.add(h, shortcut), act);
}

std::string residual_cnn(const core::Hyperparameters& hp, const NetworkInput& input, NetBuilder& b, const std::string& s) {
  const auto base = hp.get_int(s, "base_channels", 32);
  check_range(s + ":base_channels", base, 1, 1024);
  const auto stages = hp.get_int(s, "num_stages", 3);
  check_range(s + ":num_stages", stages, 1, 4);
  const auto blocks = hp.get_int(s, "blocks_per_stage", 1);
  check_range(s + ":blocks_per_stage", blocks, 1, 8);
  const auto act = hp.get_string(s, "activation", "relu");
  std::string x = b.activation(b.batch_norm(b.conv2d("x", input.shape.at(0), base, 3, 1, 1, false), base, true), act);
  std::int64_t channels = base;
  for (std::int64_t st = 0; st < stages; ++st) {
    const std::int64_t out = base << st;
    for (std::int64_t j = 0; j < blocks; ++j) {
      x = conv_block(b, x, channels, out, st > 0 && j == 0 ? 2 : 1, act);
      channels = out;
    }
  }
  x = b.dropout(b.global_avg_pool(x), hp.get_double(s, "dropout", 0.0));
  return b.linear(x, channels, input.num_classes);
}

const std::map<std::string, Family>& families() {
  static const std::map<std::string, Family> k_families{
      {"mlpnet", {false, mlpnet}},       {"shapedmlpnet", {false, shapedmlpnet}}, {"resnet", {false, resnet}},
      {"shapedresnet", {false, shapedresnet}}, {"convnet", {true, convnet}}, {"residual_cnn", {true, residual_cnn}},
  };
  return k_families;
}

const Family& find_family(const std::string& name) {
  const auto it = families().find(name);
  if (it != families().end()) return it->second;
  const auto names = network_names();
  const auto guess = core::closest_match(name, names);
  throw InputError(fmt::format("network: unknown family '{}'{}; valid: {}", name,
                               guess ? fmt::format(" (did you mean '{}'?)", *guess) : "", fmt::join(names, ", ")));
}

} // namespace

std::vector<std::string> network_names() {
  std::vector<std::string> names;
  for (const auto& [name, family] : families()) names.push_back(name);
  return names;
}

bool image_network(const std::string& family) { return find_family(family).image; }

NetworkInfo build_network(const core::Hyperparameters& hp, const NetworkInput& input, torch::jit::Module& module,
                          c10::optional<at::Generator> generator) {
  NetworkInfo info;
  info.family = hp.get_string("", "network");
  const Family& family = find_family(info.family);
  if (family.image && input.shape.size() != 3)
    throw InputError(fmt::format("network: '{}' needs image data (C x H x W), got samples of {} dimension(s)",
                                 info.family, input.shape.size()));
  NetBuilder b(module, "net", std::move(generator));
  const std::string output = family.build(hp, input, b, "network:" + info.family);
  b.define("net", "x", output);
  info.description = b.description();
  return info;
}

} // namespace automl::models
