//===- Solver.cpp - minimum-cost labelling of a cost graph ----------------===//

#include "autopar/Search/Solver.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

using namespace mlir;
using namespace mlir::autopar;

static constexpr double kInf = std::numeric_limits<double>::infinity();

unsigned CostGraph::addNode(std::vector<double> costs) {
  assert(!costs.empty() && "a node needs a candidate");
  edgeAnalysis.reset();
  unary.push_back(std::move(costs));
  return unary.size() - 1;
}

void CostGraph::addEdge(unsigned from, unsigned to, std::vector<double> costs) {
  assert(from != to && "no self edges");
  assert(costs.size() == unary[from].size() * unary[to].size());
  edgeAnalysis.reset();
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

/// Cost terms over ascending nodes, with their tables.
using Terms =
    std::vector<std::pair<SmallVector<unsigned, 4>, std::vector<double>>>;

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
  /// A problem of `unary` costs and `factors` (each over ascending nodes).
  Eliminator(std::vector<std::vector<double>> unary, Terms terms,
             const SolverOptions &options);

  /// Eliminates every node, solves the core, and labels every node.
  Solution run();

  /// Eliminates every node but those `keep` marks, as long as the work
  /// allows; true when only kept nodes are left.
  bool eliminateAllBut(const std::vector<bool> &keep);
  /// The remaining cost at `labels` (over the nodes left alive).
  double remainingCost(const std::vector<unsigned> &labels) const;
  /// Labels the eliminated nodes from those left alive (set in `labels`).
  void backSubstitute(std::vector<unsigned> &labels) const;
  unsigned getWidth() const { return width; }

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
  /// Nodes never eliminated (eliminateAllBut).
  std::vector<bool> kept;
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

/// The graph's edges as factors over ascending node pairs.
static Terms getPairTerms(const CostGraph &graph) {
  Terms terms;
  for (const CostGraph::Edge &edge : graph.getEdges()) {
    unsigned a = std::min(edge.from, edge.to), b = std::max(edge.from, edge.to);
    unsigned fromSize = graph.getNumCandidates(edge.from);
    unsigned toSize = graph.getNumCandidates(edge.to);
    unsigned bSize = graph.getNumCandidates(b);
    std::vector<double> table(edge.costs.size());
    for (unsigned i = 0; i < fromSize; ++i)
      for (unsigned j = 0; j < toSize; ++j) {
        unsigned index = edge.from == a ? i * bSize + j : j * bSize + i;
        table[index] = edge.costs[i * toSize + j];
      }
    terms.push_back({{a, b}, std::move(table)});
  }
  return terms;
}

Eliminator::Eliminator(std::vector<std::vector<double>> unaryCosts, Terms terms,
                       const SolverOptions &options)
    : options(options), unary(std::move(unaryCosts)), alive(unary.size(), true),
      kept(unary.size(), false), nodeFactors(unary.size()),
      key(unary.size(), UINT64_MAX) {
  for (auto &[vars, table] : terms)
    addFactor(vars, std::move(table));
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
  if (kept[node])
    return UINT64_MAX;
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

bool Eliminator::eliminateAllBut(const std::vector<bool> &keep) {
  kept = keep;
  // A node with one candidate is decided: condition every factor on it
  // (the table keeps its layout, a unit dimension dropped), so that it
  // never joins its neighbours into one wide factor. Ops that only
  // replicate, and every op on one GPU, go this way.
  for (unsigned node = 0; node < alive.size(); ++node) {
    if (size(node) != 1 || kept[node])
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
  for (unsigned node = 0; node < alive.size(); ++node)
    if (alive[node] && !kept[node])
      return false;
  return true;
}

double Eliminator::remainingCost(const std::vector<unsigned> &labels) const {
  double total = 0;
  for (unsigned node = 0; node < alive.size(); ++node)
    if (alive[node])
      total += unary[node][labels[node]];
  for (const Factor &factor : factors)
    if (factor.alive)
      total += factorValue(factor, labels);
  return total;
}

void Eliminator::backSubstitute(std::vector<unsigned> &labels) const {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    const Record &record = *it;
    uint64_t index = 0;
    for (unsigned other : record.scope)
      index = index * size(other) + labels[other];
    labels[record.node] = record.best[index];
  }
}

Solution Eliminator::run() {
  Solution solution;
  choice.assign(alive.size(), 0);
  eliminateAllBut(std::vector<bool>(alive.size(), false));
  solveCore(solution);
  backSubstitute(choice);
  solution.choice = choice;
  solution.width = width;
  return solution;
}

namespace mlir::autopar::detail {
/// What the solver derives from a graph's edges alone, made once per graph
/// (CostGraph::getEdgeAnalysis) and reused by every solve, whose unary
/// costs change: the edges as terms (parallel ones summed), and, when the
/// declared repetition holds for the edges, the copies' structure.
struct EdgeAnalysis {
  /// Every edge as a term over its ascending pair, the second node's
  /// candidate varying fastest; parallel edges summed in the order added.
  Terms pairs;
  /// Whether the edges bear the repetition out (the unary costs are
  /// checked per solve).
  bool repeated = false;
  /// Terms of one copy, relative to it: inside it, and from it to the
  /// next (the first node in the copy, the second in the next).
  Terms inside, across;
  /// The copy's nodes the next copy reads, ascending.
  SmallVector<unsigned, 4> interface;
  /// The chain's nodes: per node of the graph, its node in the chain or
  /// -1 (inside a middle copy); and the chain's terms other than the
  /// copies' transfer tables.
  std::vector<int64_t> chainNode;
  unsigned chainSize = 0;
  Terms chainTerms;
};
} // namespace mlir::autopar::detail

using mlir::autopar::detail::EdgeAnalysis;

/// Checks the declared repetition against the edges and records the
/// copies' structure in `analysis` (left not repeated when it fails).
static void analyzeRepetition(const CostGraph &graph, EdgeAnalysis &analysis) {
  const Repetition &claim = *graph.getRepetition();
  unsigned n = graph.getNumNodes(), start = claim.start, length = claim.length,
           count = claim.count;
  if (count < 3 || length == 0 ||
      static_cast<uint64_t>(start) + static_cast<uint64_t>(length) * count > n)
    return;
  unsigned end = start + length * count;
  // The copy of a node: -1 before the first, `count` after the last.
  auto copyOf = [&](unsigned node) -> int64_t {
    if (node < start)
      return -1;
    if (node >= end)
      return count;
    return (node - start) / length;
  };
  auto base = [&](int64_t copy) {
    return start + static_cast<unsigned>(copy) * length;
  };
  for (unsigned copy = 1; copy < count; ++copy)
    for (unsigned i = 0; i < length; ++i)
      if (graph.getNumCandidates(base(copy) + i) !=
          graph.getNumCandidates(start + i))
        return;

  // Every pair inside a copy, and from a copy to the next, as in the first.
  using RelativePairs =
      std::map<std::pair<unsigned, unsigned>, const std::vector<double> *>;
  RelativePairs inside, across;
  std::vector<size_t> insideCount(count, 0), acrossCount(count, 0);
  for (const auto &[vars, table] : analysis.pairs) {
    unsigned a = vars[0], b = vars[1];
    int64_t copyA = copyOf(a), copyB = copyOf(b);
    bool inA = copyA >= 0 && copyA < count, inB = copyB >= 0 && copyB < count;
    if (!inA && !inB)
      continue;
    if (!inA) { // From before the first copy: into the first only.
      if (copyB != 0)
        return;
      continue;
    }
    if (!inB) { // To after the last copy: from the last only.
      if (copyA != count - 1)
        return;
      continue;
    }
    if (copyB > copyA + 1)
      return;
    bool within = copyA == copyB;
    RelativePairs &relative = within ? inside : across;
    ++(within ? insideCount : acrossCount)[copyA];
    std::pair<unsigned, unsigned> position = {a - base(copyA), b - base(copyB)};
    if (copyA == 0) {
      relative[position] = &table;
      continue;
    }
    auto it = relative.find(position);
    if (it == relative.end() || *it->second != table)
      return;
  }
  for (unsigned copy = 1; copy < count; ++copy)
    if (insideCount[copy] != insideCount[0] ||
        (copy + 1 < count && acrossCount[copy] != acrossCount[0]))
      return;

  for (const auto &[position, table] : inside)
    analysis.inside.push_back({{position.first, position.second}, *table});
  for (const auto &[position, table] : across) {
    analysis.across.push_back({{position.first, position.second}, *table});
    analysis.interface.push_back(position.first);
  }
  SmallVector<unsigned, 4> &interface = analysis.interface;
  llvm::sort(interface);
  interface.erase(std::unique(interface.begin(), interface.end()),
                  interface.end());

  // The chain: every node but the middle copies', and the middle copies'
  // interfaces (their costs all in the transfer tables).
  auto middle = [&](int64_t c) { return c >= 1 && c + 1 < count; };
  analysis.chainNode.assign(n, -1);
  unsigned size = 0;
  for (unsigned node = 0; node < n; ++node) {
    int64_t c = copyOf(node);
    if (!middle(c) || llvm::is_contained(interface, node - base(c)))
      analysis.chainNode[node] = size++;
  }
  analysis.chainSize = size;
  for (const auto &[vars, table] : analysis.pairs) {
    int64_t copyA = copyOf(vars[0]), copyB = copyOf(vars[1]);
    // Pairs into a middle copy are in its transfer table.
    if (middle(copyB) || (middle(copyA) && copyB != count - 1))
      continue;
    analysis.chainTerms.push_back(
        {{static_cast<unsigned>(analysis.chainNode[vars[0]]),
          static_cast<unsigned>(analysis.chainNode[vars[1]])},
         table});
  }
  analysis.repeated = true;
}

const EdgeAnalysis &CostGraph::getEdgeAnalysis() const {
  if (edgeAnalysis)
    return *edgeAnalysis;
  auto analysis = std::make_shared<EdgeAnalysis>();
  std::map<std::pair<unsigned, unsigned>, size_t> index;
  for (auto &[vars, table] : getPairTerms(*this)) {
    auto [it, inserted] =
        index.try_emplace({vars[0], vars[1]}, analysis->pairs.size());
    if (inserted) {
      analysis->pairs.push_back({vars, std::move(table)});
      continue;
    }
    std::vector<double> &sum = analysis->pairs[it->second].second;
    for (size_t k = 0; k < table.size(); ++k)
      sum[k] += table[k];
  }
  llvm::sort(analysis->pairs, [](const auto &a, const auto &b) {
    return std::make_pair(a.first[0], a.first[1]) <
           std::make_pair(b.first[0], b.first[1]);
  });
  if (repetition)
    analyzeRepetition(*this, *analysis);
  edgeAnalysis = std::move(analysis);
  return *edgeAnalysis;
}

/// Solves a graph whose declared repetition holds (std::nullopt when it
/// does not, or when one copy cannot be eliminated down to its interface):
/// copy 1's inside is eliminated once, keeping its interface (the nodes of
/// which the next copy reads) and a stand-in for the previous copy's; the
/// remaining table T(previous interface, interface) is what any middle
/// copy adds. The chain of first copy, interfaces of the middle copies
/// joined by T, last copy and the rest is then solved as usual, and each
/// middle copy labelled from its two interfaces.
static std::optional<Solution> solveRepeated(const CostGraph &graph,
                                             const EdgeAnalysis &analysis,
                                             const SolverOptions &options) {
  const Repetition &claim = *graph.getRepetition();
  unsigned n = graph.getNumNodes(), start = claim.start, length = claim.length,
           count = claim.count;
  auto base = [&](unsigned copy) { return start + copy * length; };
  const std::vector<std::vector<double>> &unary = graph.getUnary();
  for (unsigned copy = 1; copy < count; ++copy)
    for (unsigned i = 0; i < length; ++i)
      if (unary[base(copy) + i] != unary[start + i])
        return std::nullopt;
  const SmallVector<unsigned, 4> &interface = analysis.interface;
  // Copies that read nothing of the one before are independent: the
  // general elimination takes them one at a time (the chain would join
  // them by factors over no variable).
  if (interface.empty())
    return std::nullopt;
  uint64_t labellings = 1;
  for (unsigned i : interface) {
    labellings *= unary[start + i].size();
    if (labellings * labellings > options.maxEliminationWork)
      return std::nullopt;
  }
  unsigned q = interface.size();
  auto interfaceIndex = [&](unsigned i) {
    return static_cast<unsigned>(llvm::lower_bound(interface, i) -
                                 interface.begin());
  };

  // One copy: a stand-in for the previous copy's interface (nodes 0..q-1,
  // no cost of their own), then the copy's nodes.
  std::vector<std::vector<double>> copyUnary;
  for (unsigned i : interface)
    copyUnary.push_back(std::vector<double>(unary[start + i].size(), 0.0));
  for (unsigned i = 0; i < length; ++i)
    copyUnary.push_back(unary[start + i]);
  Terms copyTerms;
  for (const auto &[vars, table] : analysis.inside)
    copyTerms.push_back({{q + vars[0], q + vars[1]}, table});
  for (const auto &[vars, table] : analysis.across)
    copyTerms.push_back({{interfaceIndex(vars[0]), q + vars[1]}, table});
  Eliminator copy(std::move(copyUnary), std::move(copyTerms), options);
  std::vector<bool> keep(q + length, false);
  for (unsigned k = 0; k < q; ++k)
    keep[k] = keep[q + interface[k]] = true;
  if (!copy.eliminateAllBut(keep))
    return std::nullopt;
  // T over (previous interface, interface), the last node fastest.
  std::vector<double> transfer(labellings * labellings);
  {
    std::vector<unsigned> labels(q + length, 0);
    SmallVector<unsigned, 8> vars;
    for (unsigned k = 0; k < q; ++k)
      vars.push_back(k);
    for (unsigned k = 0; k < q; ++k)
      vars.push_back(q + interface[k]);
    for (uint64_t entry = 0; entry < transfer.size(); ++entry) {
      uint64_t rest = entry;
      for (size_t v = vars.size(); v-- > 0;) {
        unsigned candidates = unary[start + interface[v % q]].size();
        labels[vars[v]] = rest % candidates;
        rest /= candidates;
      }
      transfer[entry] = copy.remainingCost(labels);
    }
  }

  // The chain: the middle copies' interfaces have no cost of their own.
  const std::vector<int64_t> &chainNode = analysis.chainNode;
  std::vector<std::vector<double>> chainUnary(analysis.chainSize);
  for (unsigned node = 0; node < n; ++node) {
    if (chainNode[node] < 0)
      continue;
    bool middle = node >= base(1) && node < base(count - 1);
    chainUnary[chainNode[node]] =
        middle ? std::vector<double>(unary[node].size(), 0.0) : unary[node];
  }
  Terms chainTerms = analysis.chainTerms;
  for (unsigned c = 1; c + 1 < count; ++c) {
    SmallVector<unsigned, 4> vars;
    for (unsigned i : interface)
      vars.push_back(chainNode[base(c - 1) + i]);
    for (unsigned i : interface)
      vars.push_back(chainNode[base(c) + i]);
    chainTerms.push_back({vars, transfer});
  }
  Eliminator chain(std::move(chainUnary), std::move(chainTerms), options);
  Solution solution = chain.run();

  std::vector<unsigned> choice(n, 0);
  for (unsigned node = 0; node < n; ++node)
    if (chainNode[node] >= 0)
      choice[node] = solution.choice[chainNode[node]];
  for (unsigned c = 1; c + 1 < count; ++c) {
    std::vector<unsigned> labels(q + length, 0);
    for (unsigned k = 0; k < q; ++k) {
      labels[k] = choice[base(c - 1) + interface[k]];
      labels[q + interface[k]] = choice[base(c) + interface[k]];
    }
    copy.backSubstitute(labels);
    for (unsigned i = 0; i < length; ++i)
      choice[base(c) + i] = labels[q + i];
  }
  solution.choice = std::move(choice);
  solution.width = std::max(solution.width, copy.getWidth());
  solution.reusedCopies = count - 2;
  return solution;
}

Solution mlir::autopar::solve(const CostGraph &graph,
                              const SolverOptions &options) {
  if (graph.getNumNodes() == 0)
    return {};
  Solution solution;
  const EdgeAnalysis &analysis = graph.getEdgeAnalysis();
  std::optional<Solution> repeated;
  if (analysis.repeated)
    repeated = solveRepeated(graph, analysis, options);
  if (repeated) {
    solution = std::move(*repeated);
  } else {
    Eliminator eliminator(graph.getUnary(), analysis.pairs, options);
    solution = eliminator.run();
  }
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
