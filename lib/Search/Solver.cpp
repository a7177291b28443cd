//===- Solver.cpp - minimum-cost labelling of a cost graph ----------------===//

#include "autopar/Search/Solver.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <map>
#include <set>
#include <utility>

using namespace mlir;
using namespace mlir::autopar;

static constexpr double kInf = std::numeric_limits<double>::infinity();

unsigned CostGraph::addNode(std::vector<double> costs) {
  assert(!costs.empty() && "a node needs a candidate");
  unary.push_back(std::move(costs));
  return unary.size() - 1;
}

void CostGraph::addEdge(unsigned from, unsigned to, std::vector<double> costs) {
  assert(from != to && "no self edges");
  assert(costs.size() == unary[from].size() * unary[to].size());
  edges.push_back({from, to, std::move(costs)});
}

double CostGraph::evaluate(const std::vector<unsigned> &choice) const {
  double total = 0;
  for (unsigned node = 0; node < unary.size(); ++node)
    total += unary[node][choice[node]];
  for (const Edge &edge : edges)
    total += edge.costs[choice[edge.from] * unary[edge.to].size() +
                        choice[edge.to]];
  return total;
}

namespace {
/// The working state of the elimination.
class Eliminator {
public:
  Eliminator(const CostGraph &graph, const SolverOptions &options)
      : options(options), unary(graph.getUnary()),
        alive(graph.getNumNodes(), true),
        neighbours(graph.getNumNodes()) {
    for (const CostGraph::Edge &edge : graph.getEdges())
      addEdge(edge.from, edge.to, edge.costs);
  }

  Solution run();

private:
  unsigned size(unsigned node) const { return unary[node].size(); }
  /// The cost of edge {a, b} for candidates (i of a, j of b).
  double edgeCost(unsigned a, unsigned b, unsigned i, unsigned j) const {
    const auto &entry = edgeMap.at(key(a, b));
    return a < b ? entry[i * size(b) + j] : entry[j * size(a) + i];
  }
  /// Edge {a, b} viewed as a matrix indexed (candidate of a, of b),
  /// looked up once.
  struct Matrix {
    const double *data;
    unsigned rowStride, columnStride;
    double operator()(unsigned i, unsigned j) const {
      return data[i * rowStride + j * columnStride];
    }
  };
  Matrix matrix(unsigned a, unsigned b) const {
    const std::vector<double> &entry = edgeMap.at(key(a, b));
    if (a < b)
      return {entry.data(), size(b), 1};
    return {entry.data(), 1, size(a)};
  }
  static std::pair<unsigned, unsigned> key(unsigned a, unsigned b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
  }
  void addEdge(unsigned from, unsigned to, const std::vector<double> &costs);
  void removeEdge(unsigned a, unsigned b) {
    edgeMap.erase(key(a, b));
    auto drop = [](std::vector<unsigned> &list, unsigned node) {
      list.erase(std::find(list.begin(), list.end(), node));
    };
    drop(neighbours[a], b);
    drop(neighbours[b], a);
  }
  void eliminate(unsigned node);
  void solveCore(Solution &solution);

  /// How to recover an eliminated node's candidate from its neighbours'.
  struct Record {
    unsigned node;
    std::vector<unsigned> others; // 0, 1 or 2 neighbours
    std::vector<unsigned> best;   // indexed by the neighbours' candidates
  };

  const SolverOptions &options;
  std::vector<std::vector<double>> unary;
  std::vector<bool> alive;
  std::vector<std::vector<unsigned>> neighbours;
  std::map<std::pair<unsigned, unsigned>, std::vector<double>> edgeMap;
  std::vector<Record> records;
  std::vector<unsigned> choice;
};
} // namespace

void Eliminator::addEdge(unsigned from, unsigned to,
                         const std::vector<double> &costs) {
  // Store oriented from the lower index to the higher.
  std::vector<double> oriented = costs;
  if (from > to) {
    oriented.assign(costs.size(), 0);
    for (unsigned i = 0; i < size(from); ++i)
      for (unsigned j = 0; j < size(to); ++j)
        oriented[j * size(from) + i] = costs[i * size(to) + j];
  }
  auto [it, inserted] = edgeMap.try_emplace(key(from, to), oriented);
  if (inserted) {
    neighbours[from].push_back(to);
    neighbours[to].push_back(from);
    return;
  }
  for (size_t k = 0; k < oriented.size(); ++k)
    it->second[k] += oriented[k];
}

void Eliminator::eliminate(unsigned node) {
  std::vector<unsigned> others = neighbours[node];
  std::sort(others.begin(), others.end());
  Record record{node, others, {}};
  if (others.empty()) {
    unsigned best = 0;
    for (unsigned i = 1; i < size(node); ++i)
      if (unary[node][i] < unary[node][best])
        best = i;
    record.best = {best};
  } else if (others.size() == 1) {
    unsigned other = others[0];
    record.best.resize(size(other));
    Matrix edge = matrix(node, other);
    for (unsigned j = 0; j < size(other); ++j) {
      double bestCost = kInf;
      for (unsigned i = 0; i < size(node); ++i) {
        double cost = unary[node][i] + edge(i, j);
        if (cost < bestCost) {
          bestCost = cost;
          record.best[j] = i;
        }
      }
      unary[other][j] += bestCost;
    }
    removeEdge(node, other);
  } else {
    unsigned a = others[0], b = others[1];
    std::vector<double> merged(size(a) * size(b));
    record.best.resize(merged.size());
    Matrix left = matrix(a, node), right = matrix(node, b);
    const std::vector<double> &middle = unary[node];
    for (unsigned i = 0; i < size(a); ++i)
      for (unsigned j = 0; j < size(b); ++j) {
        double bestCost = kInf;
        unsigned best = 0;
        for (unsigned k = 0; k < size(node); ++k) {
          double cost = left(i, k) + middle[k] + right(k, j);
          if (cost < bestCost) {
            bestCost = cost;
            best = k;
          }
        }
        merged[i * size(b) + j] = bestCost;
        record.best[i * size(b) + j] = best;
      }
    removeEdge(node, a);
    removeEdge(node, b);
    addEdge(a, b, merged);
  }
  alive[node] = false;
  records.push_back(std::move(record));
}

void Eliminator::solveCore(Solution &solution) {
  std::vector<unsigned> core;
  for (unsigned node = 0; node < alive.size(); ++node)
    if (alive[node])
      core.push_back(node);
  solution.coreNodes = core.size();
  if (core.empty())
    return;
  auto coreCost = [&](const std::vector<unsigned> &labels) {
    double total = 0;
    for (unsigned node : core)
      total += unary[node][labels[node]];
    for (const auto &[edge, costs] : edgeMap)
      total += costs[labels[edge.first] * size(edge.second) +
                     labels[edge.second]];
    return total;
  };

  uint64_t labellings = 1;
  for (unsigned node : core) {
    labellings *= size(node);
    if (labellings > options.exhaustiveLimit)
      break;
  }
  if (labellings <= options.exhaustiveLimit) {
    solution.method = SolverMethod::CoreEnumeration;
    std::vector<unsigned> labels(alive.size(), 0), best;
    double bestCost = kInf;
    while (true) {
      double cost = coreCost(labels);
      if (cost < bestCost) {
        bestCost = cost;
        best = labels;
      }
      size_t position = 0;
      while (position < core.size()) {
        unsigned node = core[position];
        if (++labels[node] < size(node))
          break;
        labels[node] = 0;
        ++position;
      }
      if (position == core.size())
        break;
    }
    for (unsigned node : core)
      choice[node] = best[node];
    return;
  }

  // Iterated conditional modes from the unary minima.
  solution.exact = false;
  solution.method = SolverMethod::LocalSearch;
  std::vector<unsigned> labels(alive.size(), 0);
  for (unsigned node : core)
    labels[node] = std::min_element(unary[node].begin(), unary[node].end()) -
                   unary[node].begin();
  for (unsigned sweep = 0; sweep < options.maxSweeps; ++sweep) {
    bool changed = false;
    for (unsigned node : core) {
      double bestCost = kInf;
      unsigned best = labels[node];
      for (unsigned i = 0; i < size(node); ++i) {
        double cost = unary[node][i];
        for (unsigned other : neighbours[node])
          cost += edgeCost(node, other, i, labels[other]);
        if (cost < bestCost - 1e-15) {
          bestCost = cost;
          best = i;
        }
      }
      if (best != labels[node]) {
        labels[node] = best;
        changed = true;
      }
    }
    if (!changed)
      break;
  }
  for (unsigned node : core)
    choice[node] = labels[node];
  // A lower bound: every term at its own minimum.
  double bound = 0;
  for (unsigned node : core)
    bound += *std::min_element(unary[node].begin(), unary[node].end());
  for (const auto &[edge, costs] : edgeMap)
    bound += *std::min_element(costs.begin(), costs.end());
  solution.lowerBound = bound;
}

Solution Eliminator::run() {
  Solution solution;
  choice.assign(alive.size(), 0);
  // Eliminate nodes of degree <= 2 until none is left, lowest index first
  // (a worklist: eliminating a node only changes its neighbours' degrees).
  std::set<unsigned> ready;
  for (unsigned node = 0; node < alive.size(); ++node)
    if (neighbours[node].size() <= 2)
      ready.insert(node);
  while (!ready.empty()) {
    unsigned node = *ready.begin();
    ready.erase(ready.begin());
    if (!alive[node] || neighbours[node].size() > 2)
      continue;
    std::vector<unsigned> touched = neighbours[node];
    eliminate(node);
    for (unsigned other : touched)
      if (alive[other] && neighbours[other].size() <= 2)
        ready.insert(other);
  }
  // The eliminated part contributes exactly; the bound of the core (if not
  // exact) is added to the eliminated part's cost below.
  solveCore(solution);
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    const Record &record = *it;
    unsigned index = 0;
    if (record.others.size() == 1)
      index = choice[record.others[0]];
    else if (record.others.size() == 2)
      index = choice[record.others[0]] * size(record.others[1]) +
              choice[record.others[1]];
    choice[record.node] = record.best[index];
  }
  solution.choice = choice;
  return solution;
}

Solution mlir::autopar::solve(const CostGraph &graph,
                              const SolverOptions &options) {
  if (graph.getNumNodes() == 0)
    return {};
  Eliminator eliminator(graph, options);
  Solution solution = eliminator.run();
  solution.cost = graph.evaluate(solution.choice);
  // When the core was not solved exactly, its bound already covers the
  // eliminated part, whose optimal contribution is folded into the core's
  // unary costs.
  if (solution.exact)
    solution.lowerBound = solution.cost;
  return solution;
}

StringRef mlir::autopar::stringifySolverMethod(SolverMethod method) {
  switch (method) {
  case SolverMethod::Elimination:
    return "elimination";
  case SolverMethod::CoreEnumeration:
    return "elimination+enumeration";
  case SolverMethod::LocalSearch:
    return "elimination+icm";
  case SolverMethod::Exhaustive:
    return "exhaustive";
  }
  llvm_unreachable("unknown solver method");
}

uint64_t mlir::autopar::countLabellings(const CostGraph &graph) {
  uint64_t count = 1;
  for (unsigned node = 0, e = graph.getNumNodes(); node < e; ++node) {
    uint64_t size = graph.getNumCandidates(node);
    if (size && count > UINT64_MAX / size)
      return UINT64_MAX;
    count *= size;
  }
  return count;
}

Solution mlir::autopar::solveExhaustive(const CostGraph &graph) {
  Solution solution;
  solution.method = SolverMethod::Exhaustive;
  unsigned n = graph.getNumNodes();
  std::vector<unsigned> labels(n, 0);
  solution.cost = kInf;
  if (n == 0) {
    solution.cost = 0;
    return solution;
  }
  while (true) {
    double cost = graph.evaluate(labels);
    if (cost < solution.cost) {
      solution.cost = cost;
      solution.choice = labels;
    }
    unsigned position = 0;
    while (position < n) {
      if (++labels[position] < graph.getNumCandidates(position))
        break;
      labels[position] = 0;
      ++position;
    }
    if (position == n)
      break;
  }
  solution.lowerBound = solution.cost;
  return solution;
}
