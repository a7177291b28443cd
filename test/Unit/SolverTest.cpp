//===- SolverTest.cpp - the search's solver against enumeration -----------===//
//
// Generates random cost graphs (chains, trees, series-parallel graphs and
// general DAGs) with a fixed seed and checks that the fast solver finds the
// exhaustive optimum whenever it claims to be exact, and never reports a
// cost below the optimum or a bound above it otherwise. Prints a summary
// line that the lit test checks.
//
//===----------------------------------------------------------------------===//

#include "autopar/Search/Solver.h"

#include <cmath>
#include <cstdio>
#include <random>

using namespace mlir::autopar;

namespace {
struct Random {
  std::mt19937_64 engine{20261127};
  unsigned below(unsigned n) { return static_cast<unsigned>(engine() % n); }
  double cost() { return static_cast<double>(engine() % 1000) / 10.0; }
};

std::vector<double> randomCosts(Random &random, size_t count) {
  std::vector<double> costs(count);
  for (double &cost : costs)
    cost = random.cost();
  return costs;
}

void addRandomEdge(Random &random, CostGraph &graph, unsigned from,
                   unsigned to) {
  graph.addEdge(from, to,
                randomCosts(random, graph.getNumCandidates(from) *
                                        graph.getNumCandidates(to)));
}

/// Series-parallel graphs by random series and parallel compositions.
void addSeriesParallel(Random &random, CostGraph &graph, unsigned source,
                       unsigned sink, unsigned budget) {
  if (budget == 0 || random.below(3) == 0) {
    addRandomEdge(random, graph, source, sink);
    return;
  }
  if (random.below(2) == 0) {
    unsigned middle = graph.addNode(randomCosts(random, 1 + random.below(4)));
    addSeriesParallel(random, graph, source, middle, budget - 1);
    addSeriesParallel(random, graph, middle, sink, budget - 1);
  } else {
    addSeriesParallel(random, graph, source, sink, budget - 1);
    addSeriesParallel(random, graph, source, sink, budget - 1);
  }
}
} // namespace

int main() {
  Random random;
  unsigned graphs = 0, exact = 0, matched = 0, failures = 0;
  unsigned methods[4] = {0, 0, 0, 0};
  const char *kinds[] = {"chain", "tree", "series-parallel", "dag"};
  for (unsigned kind = 0; kind < 4; ++kind) {
    for (unsigned trial = 0; trial < 250; ++trial) {
      CostGraph graph;
      unsigned nodes = 2 + random.below(6);
      if (kind == 2) {
        unsigned source = graph.addNode(randomCosts(random, 1 + random.below(4)));
        unsigned sink = graph.addNode(randomCosts(random, 1 + random.below(4)));
        addSeriesParallel(random, graph, source, sink, 3);
      } else {
        for (unsigned node = 0; node < nodes; ++node)
          graph.addNode(randomCosts(random, 1 + random.below(4)));
        for (unsigned node = 1; node < nodes; ++node) {
          unsigned parent = kind == 0 ? node - 1 : random.below(node);
          addRandomEdge(random, graph, parent, node);
          if (kind == 3)
            for (unsigned extra = 0; extra < 2; ++extra) {
              unsigned other = random.below(node);
              if (other != parent)
                addRandomEdge(random, graph, other, node);
            }
        }
      }
      if (graph.getNumNodes() > 9)
        continue;
      ++graphs;
      Solution reference = solveExhaustive(graph);
      // On half the DAGs a tiny elimination budget leaves a core; a tiny
      // enumeration limit then forces the heuristic on half of those.
      SolverOptions options;
      if (kind == 3 && trial % 2) {
        options.maxEliminationWork = 8;
        options.exhaustiveLimit = trial % 4 == 1 ? 1 : 1u << 20;
      }
      Solution fast = solve(graph, options);
      ++methods[static_cast<unsigned>(fast.method)];
      bool ok;
      if (fast.exact) {
        ++exact;
        ok = std::abs(fast.cost - reference.cost) < 1e-9 &&
             std::abs(graph.evaluate(fast.choice) - fast.cost) < 1e-9;
        matched += ok;
      } else {
        ok = fast.cost >= reference.cost - 1e-9 &&
             fast.lowerBound <= reference.cost + 1e-9;
        matched += std::abs(fast.cost - reference.cost) < 1e-9;
      }
      if (!ok) {
        ++failures;
        std::printf("FAIL %s #%u: fast %.3f (exact %d, bound %.3f) vs optimum "
                    "%.3f\n",
                    kinds[kind], trial, fast.cost, fast.exact, fast.lowerBound,
                    reference.cost);
      }
    }
  }
  std::printf("graphs: %u, solved exactly: %u, equal to enumeration: %u, "
              "failures: %u\n",
              graphs, exact, matched, failures);
  std::printf("by elimination: %u, elimination+enumeration: %u, "
              "elimination+icm: %u\n",
              methods[0], methods[1], methods[2]);
  return failures ? 1 : 0;
}
