//===- Solver.cpp - minimum-cost labelling of a cost graph ----------------===//

#include "autopar/Search/Solver.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cassert>
#include <limits>
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
/// A cost term over several nodes: `table` is row-major over `vars`
/// (ascending), the last node's candidate varying fastest.
struct Factor {
  SmallVector<unsigned, 4> vars;
  std::vector<double> table;
  bool alive = true;
};

/// The working state of variable elimination.
class Eliminator {
public:
  Eliminator(const CostGraph &graph, const SolverOptions &options);

  Solution run();

private:
  unsigned size(unsigned node) const { return unary[node].size(); }
  /// Adds `table` over `vars` (ascending, at least two), summing it into a
  /// live factor over the same nodes if there is one.
  void addFactor(ArrayRef<unsigned> vars, std::vector<double> table);
  /// The live factors touching `node` (dead ones are dropped on the way).
  ArrayRef<unsigned> liveFactors(unsigned node);
  /// The nodes sharing a live factor with `node`, ascending.
  SmallVector<unsigned, 8> scopeOf(unsigned node);
  /// The work of eliminating `node` (product of the candidate counts of
  /// it and its scope), saturating; UINT64_MAX when over the limit.
  uint64_t eliminationWork(unsigned node);
  void updateKey(unsigned node);
  void eliminate(unsigned node);
  /// The cost of the live factors and unary terms at `labels`, restricted
  /// to terms touching `node` when given.
  double factorValue(const Factor &factor,
                     const std::vector<unsigned> &labels) const;
  void solveCore(Solution &solution);

  /// How to recover an eliminated node's candidate from its scope's.
  struct Record {
    unsigned node;
    SmallVector<unsigned, 4> scope;
    std::vector<unsigned> best; // row-major over the scope's candidates
  };

  const SolverOptions &options;
  std::vector<std::vector<double>> unary;
  std::vector<bool> alive;
  std::vector<Factor> factors;
  std::vector<SmallVector<unsigned, 4>> nodeFactors;
  /// Elimination order: (work, node), smallest first; ties to lower index.
  std::set<std::pair<uint64_t, unsigned>> queue;
  std::vector<uint64_t> key;
  std::vector<Record> records;
  std::vector<unsigned> choice;
  unsigned width = 0;
};
} // namespace

Eliminator::Eliminator(const CostGraph &graph, const SolverOptions &options)
    : options(options), unary(graph.getUnary()),
      alive(graph.getNumNodes(), true), nodeFactors(graph.getNumNodes()),
      key(graph.getNumNodes(), UINT64_MAX) {
  for (const CostGraph::Edge &edge : graph.getEdges()) {
    unsigned a = std::min(edge.from, edge.to), b = std::max(edge.from, edge.to);
    std::vector<double> table(edge.costs.size());
    for (unsigned i = 0; i < size(edge.from); ++i)
      for (unsigned j = 0; j < size(edge.to); ++j) {
        unsigned index = edge.from == a ? i * size(b) + j : j * size(b) + i;
        table[index] = edge.costs[i * size(edge.to) + j];
      }
    unsigned vars[] = {a, b};
    addFactor(vars, std::move(table));
  }
}

ArrayRef<unsigned> Eliminator::liveFactors(unsigned node) {
  SmallVector<unsigned, 4> &list = nodeFactors[node];
  llvm::erase_if(list, [&](unsigned id) { return !factors[id].alive; });
  return list;
}

void Eliminator::addFactor(ArrayRef<unsigned> vars,
                           std::vector<double> table) {
  for (unsigned id : liveFactors(vars.front())) {
    Factor &factor = factors[id];
    if (ArrayRef<unsigned>(factor.vars) == vars) {
      for (size_t k = 0; k < table.size(); ++k)
        factor.table[k] += table[k];
      return;
    }
  }
  unsigned id = factors.size();
  factors.push_back({SmallVector<unsigned, 4>(vars), std::move(table), true});
  for (unsigned var : vars)
    nodeFactors[var].push_back(id);
}

SmallVector<unsigned, 8> Eliminator::scopeOf(unsigned node) {
  SmallVector<unsigned, 8> scope;
  for (unsigned id : liveFactors(node))
    for (unsigned var : factors[id].vars)
      if (var != node)
        scope.push_back(var);
  llvm::sort(scope);
  scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
  return scope;
}

uint64_t Eliminator::eliminationWork(unsigned node) {
  // A hub (many factors) waits until its neighbours are gone.
  if (liveFactors(node).size() > 64)
    return UINT64_MAX;
  uint64_t work = size(node);
  for (unsigned other : scopeOf(node)) {
    work *= size(other);
    if (work > options.maxEliminationWork)
      return UINT64_MAX;
  }
  return work;
}

void Eliminator::updateKey(unsigned node) {
  if (key[node] != UINT64_MAX)
    queue.erase({key[node], node});
  key[node] = eliminationWork(node);
  if (key[node] != UINT64_MAX)
    queue.insert({key[node], node});
}

void Eliminator::eliminate(unsigned node) {
  SmallVector<unsigned, 8> scope = scopeOf(node);
  SmallVector<unsigned, 4> ids(liveFactors(node));
  width = std::max<unsigned>(width, scope.size());

  // Each factor's stride for every scope position and for `node`.
  size_t rank = scope.size();
  std::vector<uint64_t> strides(ids.size() * (rank + 1), 0);
  for (auto [f, id] : llvm::enumerate(ids)) {
    const Factor &factor = factors[id];
    uint64_t stride = 1;
    for (int v = factor.vars.size() - 1; v >= 0; --v) {
      unsigned var = factor.vars[v];
      size_t position =
          var == node ? rank
                      : llvm::lower_bound(scope, var) - scope.begin();
      strides[f * (rank + 1) + position] = stride;
      stride *= size(var);
    }
  }
  uint64_t entries = 1;
  for (unsigned other : scope)
    entries *= size(other);

  Record record{node, SmallVector<unsigned, 4>(scope.begin(), scope.end()), {}};
  record.best.resize(entries);
  std::vector<double> merged(entries);
  SmallVector<unsigned, 8> labels(rank, 0);
  // Each factor's offset at `labels`, kept up to date as they advance.
  SmallVector<uint64_t, 4> base(ids.size(), 0);
  for (uint64_t entry = 0; entry < entries; ++entry) {
    double bestCost = kInf;
    unsigned best = 0;
    for (unsigned k = 0; k < size(node); ++k) {
      double cost = unary[node][k];
      for (size_t f = 0; f < ids.size(); ++f)
        cost += factors[ids[f]].table[base[f] + strides[f * (rank + 1) + rank] * k];
      if (cost < bestCost) {
        bestCost = cost;
        best = k;
      }
    }
    merged[entry] = bestCost;
    record.best[entry] = best;
    // Next assignment, the last position fastest.
    for (size_t position = rank; position-- > 0;) {
      for (size_t f = 0; f < ids.size(); ++f)
        base[f] += strides[f * (rank + 1) + position];
      if (++labels[position] < size(scope[position]))
        break;
      for (size_t f = 0; f < ids.size(); ++f)
        base[f] -= strides[f * (rank + 1) + position] * size(scope[position]);
      labels[position] = 0;
    }
  }

  for (unsigned id : ids)
    factors[id].alive = false;
  alive[node] = false;
  if (key[node] != UINT64_MAX)
    queue.erase({key[node], node});
  key[node] = UINT64_MAX;
  if (rank == 1) {
    for (unsigned k = 0; k < entries; ++k)
      unary[scope[0]][k] += merged[k];
  } else if (rank > 1) {
    addFactor(scope, std::move(merged));
  }
  records.push_back(std::move(record));
  for (unsigned other : scope)
    updateKey(other);
}

double Eliminator::factorValue(const Factor &factor,
                               const std::vector<unsigned> &labels) const {
  uint64_t index = 0;
  for (unsigned var : factor.vars)
    index = index * size(var) + labels[var];
  return factor.table[index];
}

void Eliminator::solveCore(Solution &solution) {
  std::vector<unsigned> core;
  for (unsigned node = 0; node < alive.size(); ++node)
    if (alive[node])
      core.push_back(node);
  solution.coreNodes = core.size();
  if (core.empty())
    return;
  std::vector<unsigned> coreFactors;
  for (auto [id, factor] : llvm::enumerate(factors))
    if (factor.alive)
      coreFactors.push_back(id);
  auto coreCost = [&](const std::vector<unsigned> &labels) {
    double total = 0;
    for (unsigned node : core)
      total += unary[node][labels[node]];
    for (unsigned id : coreFactors)
      total += factorValue(factors[id], labels);
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
      unsigned current = labels[node];
      for (unsigned i = 0; i < size(node); ++i) {
        labels[node] = i;
        double cost = unary[node][i];
        for (unsigned id : liveFactors(node))
          cost += factorValue(factors[id], labels);
        if (cost < bestCost - 1e-15) {
          bestCost = cost;
          best = i;
        }
      }
      labels[node] = best;
      if (best != current)
        changed = true;
    }
    if (!changed)
      break;
  }
  for (unsigned node : core)
    choice[node] = labels[node];
  // A lower bound: every term at its own minimum (the eliminated part is
  // folded exactly into the core's terms).
  double bound = 0;
  for (unsigned node : core)
    bound += *std::min_element(unary[node].begin(), unary[node].end());
  for (unsigned id : coreFactors)
    bound += *std::min_element(factors[id].table.begin(),
                               factors[id].table.end());
  solution.lowerBound = bound;
}

Solution Eliminator::run() {
  Solution solution;
  choice.assign(alive.size(), 0);
  // A node with one candidate is decided: condition every factor on it
  // (the table keeps its layout, a unit dimension dropped), so that it
  // never joins its neighbours into one wide factor. Ops that only
  // replicate, and every op on one GPU, go this way.
  for (unsigned node = 0; node < alive.size(); ++node) {
    if (size(node) != 1)
      continue;
    SmallVector<unsigned, 4> ids(liveFactors(node));
    for (unsigned id : ids) {
      Factor &factor = factors[id];
      factor.alive = false;
      SmallVector<unsigned, 4> rest;
      for (unsigned var : factor.vars)
        if (var != node)
          rest.push_back(var);
      if (rest.size() == 1) {
        for (unsigned k = 0; k < size(rest[0]); ++k)
          unary[rest[0]][k] += factor.table[k];
      } else if (rest.size() > 1) {
        addFactor(rest, std::move(factor.table));
      }
    }
    alive[node] = false;
    records.push_back({node, {}, {0}});
  }
  for (unsigned node = 0; node < alive.size(); ++node)
    if (alive[node])
      updateKey(node);
  // Eliminate the cheapest node first (its work: its candidates times its
  // neighbours'); chains, trees and series-parallel parts go at width <= 2,
  // small cliques such as LayerNorm's statistics at width 3.
  while (!queue.empty()) {
    unsigned node = queue.begin()->second;
    eliminate(node);
  }
  solveCore(solution);
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    const Record &record = *it;
    uint64_t index = 0;
    for (unsigned other : record.scope)
      index = index * size(other) + choice[other];
    choice[record.node] = record.best[index];
  }
  solution.choice = choice;
  solution.width = width;
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
