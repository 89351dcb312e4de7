#include "models/shapes.hpp"
#include "support/expect_error.hpp"

using automl::models::shaped_widths;
using W = std::vector<std::int64_t>;

// Expected widths worked out by hand from Auto-PyTorch's get_shaped_neuron_counts.
TEST(Shapes, TableOfShapes) {
  struct Case {
    std::string shape;
    std::int64_t in, out, max_units, layers;
    W expected;
  };
  const std::vector<Case> cases{
      {"brick", 10, 2, 20, 4, {20, 20, 20, 2}},
      {"triangle", 10, 2, 20, 4, {13, 16, 20, 2}},
      {"funnel", 10, 2, 20, 4, {20, 14, 8, 2}},
      {"long_funnel", 10, 2, 20, 4, {20, 20, 20, 2}},
      {"diamond", 10, 2, 20, 5, {15, 20, 14, 8, 2}},
      {"hexagon", 10, 2, 20, 6, {15, 20, 20, 20, 11, 2}},
      {"stairs", 10, 2, 20, 5, {20, 20, 12, 12, 2}},
      {"brick", 30, 2, 20, 3, {30, 30, 2}}, // max_units below the input width: the input width wins
      {"funnel", 10, 2, 20, 1, {2}},
      {"funnel", 10, 2, 20, 0, {}},
      {"brick", 0, 0, 1000, 3, {1000, 1000, 0}}, // the dropout shape of shapedresnet
  };
  for (const auto& c : cases)
    EXPECT_EQ(shaped_widths(c.shape, c.in, c.out, c.max_units, c.layers), c.expected) << c.shape << " " << c.layers;
}

TEST(Shapes, UnknownShapeListsValidOnes) {
  automl::test::expect_input_error([] { shaped_widths("cone", 1, 1, 1, 2); },
                                   {"unknown network shape 'cone'; valid: funnel, long_funnel, diamond"});
}
