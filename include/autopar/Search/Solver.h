//===- Solver.h - minimum-cost labelling of a cost graph --------*- C++ -*-===//
//
// The combinatorial core of the search, free of MLIR: every node picks one
// of its candidates; a node costs its candidate's unary cost, an edge the
// entry of its matrix for the two candidates. The solver minimises the sum.
//
// Method (docs/search.md): variable elimination (dynamic programming), which
// generalises OptCNN's node and edge elimination: the cheapest node is
// minimised out, its terms becoming one term over its neighbours. A node
// with one neighbour folds into it, one with two becomes an edge (OptCNN),
// one with three becomes a three-node term, and so on while the work stays
// under `maxEliminationWork`; so it is exact on trees, chains,
// series-parallel graphs and any graph of small treewidth (a Transformer
// block's LayerNorm makes a 4-clique). What remains (the "core") is solved
// exhaustively when it has at most `exhaustiveLimit` labellings, else by
// iterated conditional modes from a greedy start; the result then carries a
// lower bound so the gap to the optimum is known.
//
// Repeated blocks (a Transformer's layers): a graph may declare that runs of
// its nodes are copies of one another (CostGraph::setRepetition). The
// solver checks the claim on the costs themselves, eliminates one copy's
// inside once, keeping the values one copy hands the next (its interface),
// and solves the chain of copies on that interface alone; each copy's
// labels are then read back from the one elimination. Exact whenever the
// plain elimination would be, and the work of one copy instead of all.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_SOLVER_H
#define AUTOPAR_SEARCH_SOLVER_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/ErrorHandling.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace mlir::autopar {

/// A claim that nodes [start + k * length, start + (k + 1) * length), for
/// k < count, are copies of one another: same candidates and unary costs
/// node for node, the same edges inside each copy, the same edges from one
/// copy to the next, and no other edge reaching a copy but from the nodes
/// before the first (into the first) and after the last (from the last).
struct Repetition {
  unsigned start = 0, length = 0, count = 0;
};

namespace detail {
struct EdgeAnalysis;
} // namespace detail

class CostGraph {
public:
  /// Adds a node with one unary cost per candidate; returns its index.
  unsigned addNode(std::vector<double> costs);
  /// Adds an edge; `costs` is row-major: costs[i * |to| + j] for candidate i
  /// of `from` and j of `to`. Parallel edges add up.
  void addEdge(unsigned from, unsigned to, std::vector<double> costs);

  /// Multiplies every edge cost by `factor`.
  void scaleEdges(double factor) {
    edgeAnalysis.reset();
    for (Edge &edge : edges)
      for (double &cost : edge.costs)
        cost *= factor;
  }
  /// Replaces the unary costs of `node` (same number of candidates).
  void setUnary(unsigned node, std::vector<double> costs) {
    unary[node] = std::move(costs);
  }
  /// The unary costs of `node`, to overwrite in place (same number).
  std::vector<double> &getUnary(unsigned node) { return unary[node]; }

  unsigned getNumNodes() const { return unary.size(); }
  unsigned getNumCandidates(unsigned node) const { return unary[node].size(); }
  /// The total cost of a labelling.
  double evaluate(const std::vector<unsigned> &choice) const;

  struct Edge {
    unsigned from, to;
    std::vector<double> costs;
  };
  const std::vector<std::vector<double>> &getUnary() const { return unary; }
  const std::vector<Edge> &getEdges() const { return edges; }

  /// Declares repeated copies (a hint: `solve` checks it and ignores it
  /// when the costs say otherwise).
  void setRepetition(Repetition claim) {
    edgeAnalysis.reset();
    repetition = claim;
  }
  const std::optional<Repetition> &getRepetition() const { return repetition; }

  /// What the solver derives from the edges (Solver.cpp), made on first
  /// use and kept until an edge or the repetition changes: every solve of
  /// the graph under new unary costs reuses it.
  const detail::EdgeAnalysis &getEdgeAnalysis() const;

private:
  std::vector<std::vector<double>> unary;
  std::vector<Edge> edges;
  std::optional<Repetition> repetition;
  mutable std::shared_ptr<const detail::EdgeAnalysis> edgeAnalysis;
};

struct SolverOptions {
  /// The most work (candidates of a node times those of its neighbours) one
  /// elimination step may do; nodes over it stay in the core.
  uint64_t maxEliminationWork = 1u << 22;
  /// Largest core solved by enumeration.
  uint64_t exhaustiveLimit = 1u << 20;
  /// Sweeps of iterated conditional modes on a larger core.
  unsigned maxSweeps = 100;
};

/// How a solution was found.
enum class SolverMethod {
  /// Node and edge elimination left nothing (chains, trees,
  /// series-parallel graphs): exact.
  Elimination,
  /// Elimination, then enumeration of the remaining core: exact.
  CoreEnumeration,
  /// Elimination, then iterated conditional modes on a core too large to
  /// enumerate: a local optimum with a lower bound.
  LocalSearch,
  /// Every labelling of the whole graph (`solveExhaustive`): exact.
  Exhaustive,
};

/// A short name of `method` for reports ("elimination", ...).
StringRef stringifySolverMethod(SolverMethod method);

struct Solution {
  std::vector<unsigned> choice;
  SolverMethod method = SolverMethod::Elimination;
  double cost = 0;
  /// Whether `cost` is the optimum.
  bool exact = true;
  /// A lower bound on the optimum (equal to `cost` when exact).
  double lowerBound = 0;
  /// Nodes left after elimination (0 when elimination solved it all).
  unsigned coreNodes = 0;
  /// The most neighbours an eliminated node had (2 for series-parallel
  /// graphs; an upper bound on the treewidth of the eliminated part).
  unsigned width = 0;
  /// Copies of a repeated block solved through one copy's elimination (0
  /// when the graph declares none or the costs do not bear it out).
  unsigned reusedCopies = 0;
};

/// Minimises the graph's cost. Deterministic: ties go to the lower index.
Solution solve(const CostGraph &graph, const SolverOptions &options = {});

/// Enumerates every labelling (for tests and tiny graphs).
Solution solveExhaustive(const CostGraph &graph);

/// The number of labellings of `graph`, saturating at UINT64_MAX.
uint64_t countLabellings(const CostGraph &graph);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_SOLVER_H
