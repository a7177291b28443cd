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
/// A graph of `count` copies of one random block between a random prefix
/// and suffix, the repetition declared; `perturb` makes one copy's node
/// cost differ (the claim then does not hold).
CostGraph makeRepeated(Random &random, unsigned prefix, unsigned length,
                       unsigned count, bool perturb) {
  CostGraph graph;
  for (unsigned k = 0; k < prefix; ++k) {
    graph.addNode(randomCosts(random, 1 + random.below(3)));
    if (k > 0)
      addRandomEdge(random, graph, random.below(k), k);
  }
  std::vector<std::vector<double>> unary;
  for (unsigned i = 0; i < length; ++i)
    unary.push_back(randomCosts(random, 1 + random.below(3)));
  struct Pattern {
    unsigned from, to;
    bool across;
    std::vector<double> costs;
  };
  std::vector<Pattern> patterns;
  for (unsigned i = 1; i < length; ++i) {
    unsigned from = random.below(i);
    patterns.push_back(
        {from, i, false,
         randomCosts(random, unary[from].size() * unary[i].size())});
  }
  // One or two values a copy hands the next.
  for (unsigned k = 0, e = 1 + random.below(2); k < e; ++k) {
    unsigned from = random.below(length), to = random.below(length);
    patterns.push_back(
        {from, to, true,
         randomCosts(random, unary[from].size() * unary[to].size())});
  }
  unsigned start = prefix;
  for (unsigned c = 0; c < count; ++c)
    for (unsigned i = 0; i < length; ++i)
      graph.addNode(unary[i]);
  if (perturb) {
    std::vector<double> costs = unary[0];
    costs[0] += 1;
    graph.setUnary(start + length * (1 + random.below(count - 1)), costs);
  }
  if (prefix > 0)
    addRandomEdge(random, graph, random.below(prefix), start);
  for (unsigned c = 0; c < count; ++c)
    for (const Pattern &pattern : patterns) {
      if (pattern.across && c + 1 == count)
        continue;
      unsigned from = start + c * length + pattern.from;
      unsigned to = start + (c + pattern.across) * length + pattern.to;
      graph.addEdge(from, to, pattern.costs);
    }
  unsigned suffix = graph.addNode(randomCosts(random, 1 + random.below(3)));
  addRandomEdge(random, graph, start + (count - 1) * length + length - 1,
                suffix);
  graph.setRepetition({start, length, count});
  return graph;
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
  // Repeated blocks: small ones against enumeration, long chains against
  // the plain elimination; a claim the costs contradict is not used.
  unsigned repeated = 0, reused = 0, refused = 0;
  for (unsigned trial = 0; trial < 400; ++trial) {
    bool small = trial % 2 == 0;
    bool perturb = trial % 8 == 1;
    unsigned length = small ? 1 + random.below(2) : 1 + random.below(6);
    unsigned count = small ? 3 : 3 + random.below(30);
    CostGraph graph = makeRepeated(random, small ? 1 : 1 + random.below(3),
                                   length, count, perturb);
    if (small && graph.getNumNodes() > 9)
      continue;
    ++repeated;
    Solution fast = solve(graph);
    Solution reference;
    if (small) {
      reference = solveExhaustive(graph);
    } else {
      CostGraph plain = graph;
      plain.setRepetition({});
      reference = solve(plain);
    }
    reused += fast.reusedCopies == count - 2;
    refused += perturb && fast.reusedCopies == 0;
    bool ok =
        fast.exact && std::abs(fast.cost - reference.cost) < 1e-9 &&
        std::abs(graph.evaluate(fast.choice) - fast.cost) < 1e-9 &&
        (perturb ? fast.reusedCopies == 0 : fast.reusedCopies == count - 2);
    if (!ok) {
      ++failures;
      std::printf("FAIL repeated #%u: fast %.3f (exact %d, reused %u) vs "
                  "optimum %.3f\n",
                  trial, fast.cost, fast.exact, fast.reusedCopies,
                  reference.cost);
    }
  }
  std::printf("graphs: %u, solved exactly: %u, equal to enumeration: %u, "
              "failures: %u\n",
              graphs, exact, matched, failures);
  std::printf("repeated blocks: %u graphs, copies reused in %u, a false "
              "claim refused in %u\n",
              repeated, reused, refused);
  std::printf("by elimination: %u, elimination+enumeration: %u, "
              "elimination+icm: %u\n",
              methods[0], methods[1], methods[2]);
  return failures ? 1 : 0;
}
