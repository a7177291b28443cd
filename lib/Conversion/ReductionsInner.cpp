//===- ReductionsInner.cpp - parallel loops outside reductions ------------===//
//
// Both backends' loops (buildParallelLoopPasses): a generic op's parallel
// loops become one scf.parallel (the GPU's blocks and threads) only when
// they come first; a leading reduction would be a host loop around it, and
// a sum to one value, with no parallel loop at all, a host loop nest over
// the whole input.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_REDUCTIONSINNER
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// Partial sums a sum to one value is split into, at least (as many
/// leading loops as it takes, all but the last at most).
constexpr int64_t kMinPartials = 1024;

/// Partials the last level of a sum into one value may leave to one
/// thread (a chain of dependent loads, about 0.44 us each on an H200):
/// more are summed once more, in chunks, on the GPU.
constexpr int64_t kMaxScalarChain = 256;

/// A kernel launch and its partials written and read again (about 7 us on
/// an H200: the launch alone took 3.6 us) in elements of a thread's chain
/// of dependent loads (about 0.44 us each there): what the second generic
/// of a split reduction costs beyond its chains.
constexpr int64_t kLaunchElements = 16;

/// Interchanges `generic`'s loops: parallel ones first, in their order,
/// then the others. Returns the generic with its loops in that order.
FailureOr<linalg::GenericOp> putParallelFirst(IRRewriter &rewriter,
                                              linalg::GenericOp generic) {
  SmallVector<unsigned> order;
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  for (auto [index, iterator] : llvm::enumerate(iterators))
    if (iterator == utils::IteratorType::parallel)
      order.push_back(index);
  for (auto [index, iterator] : llvm::enumerate(iterators))
    if (iterator != utils::IteratorType::parallel)
      order.push_back(index);
  if (llvm::all_of(llvm::enumerate(order),
                   [](auto pair) { return pair.index() == pair.value(); }))
    return generic;
  rewriter.setInsertionPoint(generic);
  return linalg::interchangeGenericOp(rewriter, generic, order);
}

/// How a generic's reduction is split: its first `converted` reduction
/// loops (right after the parallel ones) become parallel loops, and the
/// next one, when `chunks` > 1, a parallel loop over `chunks` interleaved
/// chunks around a reduction loop within each: chunk c combines elements
/// c, c + chunks, c + 2 chunks, ... The chunk index is the innermost
/// parallel loop (on the GPU, the fastest-varying thread index), so
/// neighbouring threads read neighbouring elements: a warp's loads of a
/// row's reduction share memory sectors (with contiguous chunks each
/// thread of a warp read a different row: GPT-2's softmax sums ran at 190
/// GB/s on an H200).
struct ReductionSplit {
  unsigned converted = 0;
  int64_t chunks = 1;
};

/// For each input of `generic`, the dimension that loop `loop` indexes
/// alone (-1: none), so that cutting the loop in chunks expands that
/// dimension; failure when the loop appears in an input's indexing in any
/// other form (a convolution window's `h + kh`), in more than one
/// dimension, or in an input that is not a memref.
FailureOr<SmallVector<int64_t>> getChunkedDims(linalg::GenericOp generic,
                                               unsigned loop) {
  SmallVector<int64_t> dims;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    AffineMap map = generic.getMatchingIndexingMap(input);
    int64_t found = -1;
    for (auto [position, result] : llvm::enumerate(map.getResults())) {
      if (!result.isFunctionOfDim(loop))
        continue;
      auto dim = dyn_cast<AffineDimExpr>(result);
      if (!dim || found >= 0 || !isa<MemRefType>(input->get().getType()))
        return failure();
      found = position;
    }
    dims.push_back(found);
  }
  return dims;
}

/// `type` with dimension `dim` expanded to (the rest, `chunks`): element
/// k at (k / chunks, k % chunks), chunk k % chunks; and the reassociation
/// that does it.
FailureOr<MemRefType> expandDim(MemRefType type, int64_t dim, int64_t chunks,
                                SmallVectorImpl<ReassociationIndices> &groups) {
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    ReassociationIndices group = {static_cast<int64_t>(shape.size())};
    if (d == dim) {
      shape.push_back(type.getDimSize(d) / chunks);
      shape.push_back(chunks);
      group.push_back(shape.size() - 1);
    } else {
      shape.push_back(type.getDimSize(d));
    }
    groups.push_back(group);
  }
  return memref::ExpandShapeOp::computeExpandedType(type, shape, groups);
}

/// The parallel loop of `generic` (parallel loops first) that indexes the
/// innermost dimension of its largest input, when that dimension is
/// contiguous: the loop whose neighbouring iterations read neighbouring
/// elements (a bias gradient's column). None when a reduction loop indexes
/// it (a row's sum: the split's interleaved chunks read it instead).
std::optional<unsigned> getContiguousParallelLoop(linalg::GenericOp generic) {
  std::optional<unsigned> loop = getContiguousLoop(generic);
  if (!loop || *loop >= generic.getNumParallelLoops())
    return std::nullopt;
  return loop;
}

/// Splits `generic` (parallel loops first, static ranges, every output a
/// combiner over the reductions): the first generic combines each part of
/// the reduction into partial results in buffers of their own (one per
/// output: the output's shape, then one dimension per loop made parallel),
/// started at the combiner's neutral element; a second generic per output
/// combines the partials into it. Each partial combines its elements in the
/// original order; the whole is combined in a different order (sums round
/// differently). Where a parallel loop reads the largest input's contiguous
/// dimension (getContiguousParallelLoop), it becomes the first generic's
/// innermost parallel loop (the fastest thread index) and the partials'
/// last dimension, so that neighbouring threads read, write and, in the
/// second generic, combine neighbouring elements. Returns the second
/// generics.
SmallVector<linalg::GenericOp> applySplit(IRRewriter &rewriter,
                                          linalg::GenericOp generic,
                                          ReductionSplit split) {
  MLIRContext *context = generic.getContext();
  Location loc = generic.getLoc();
  SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
  unsigned loops = ranges.size();
  unsigned parallel = generic.getNumParallelLoops();
  // The loop split in chunks, if any, and the new loops: chunk index
  // (parallel) then index within the chunk (reduction); the element is
  // within x chunks + chunk.
  unsigned splitLoop = parallel + split.converted;
  bool chunked = split.chunks > 1;
  unsigned newLoops = loops + (chunked ? 1 : 0);
  SmallVector<AffineExpr> replacement;
  for (unsigned d = 0; d < loops; ++d) {
    if (chunked && d == splitLoop) {
      replacement.push_back(getAffineDimExpr(d + 1, context) * split.chunks +
                            getAffineDimExpr(d, context));
      continue;
    }
    replacement.push_back(
        getAffineDimExpr(chunked && d > splitLoop ? d + 1 : d, context));
  }
  unsigned parallelAfter = splitLoop + (chunked ? 1 : 0);
  std::optional<unsigned> inner = getContiguousParallelLoop(generic);
  if (parallelAfter == parallel)
    inner.reset();
  // With `inner`, a partial's dimensions (or its map's results): the
  // output's `rank` first turned last.
  auto outputLast = [&](auto &list, unsigned rank) {
    if (inner)
      std::rotate(list.begin(), list.begin() + rank, list.end());
  };
  SmallVector<AffineExpr> extra;
  for (unsigned d = parallel; d < parallelAfter; ++d)
    extra.push_back(getAffineDimExpr(d, context));
  SmallVector<int64_t> extraSizes(ranges.begin() + parallel,
                                  ranges.begin() + splitLoop);
  if (chunked)
    extraSizes.push_back(split.chunks);

  rewriter.setInsertionPoint(generic);
  SmallVector<AffineMap> maps;
  for (AffineMap map : generic.getIndexingMapsArray())
    maps.push_back(map.replaceDimsAndSymbols(replacement, {}, newLoops, 0));
  // The inputs the chunked loop indexes: that dimension expanded to
  // (elements per chunk, chunks), indexed by the two new loops.
  SmallVector<Value> inputs(generic.getDpsInputs());
  if (chunked) {
    SmallVector<int64_t> dims = *getChunkedDims(generic, splitLoop);
    for (auto [i, dim] : llvm::enumerate(dims)) {
      if (dim < 0)
        continue;
      SmallVector<ReassociationIndices> groups;
      FailureOr<MemRefType> expanded = expandDim(
          cast<MemRefType>(inputs[i].getType()), dim, split.chunks, groups);
      inputs[i] = memref::ExpandShapeOp::create(rewriter, loc, *expanded,
                                                inputs[i], groups);
      SmallVector<AffineExpr> results;
      for (auto [position, result] :
           llvm::enumerate(generic.getIndexingMapsArray()[i].getResults())) {
        if (static_cast<int64_t>(position) == dim) {
          results.push_back(getAffineDimExpr(splitLoop + 1, context));
          results.push_back(getAffineDimExpr(splitLoop, context));
        } else {
          results.push_back(maps[i].getResult(position));
        }
      }
      maps[i] = AffineMap::get(newLoops, 0, results, context);
    }
  }
  SmallVector<Value> partials;
  SmallVector<Operation *> combiners;
  for (unsigned i = 0, e = generic.getNumDpsInits(); i < e; ++i) {
    OpOperand *init = generic.getDpsInitOperand(i);
    auto outType = cast<MemRefType>(init->get().getType());
    SmallVector<int64_t> shape(outType.getShape());
    shape.append(extraSizes);
    outputLast(shape, outType.getRank());
    Value partial = memref::AllocOp::create(
        rewriter, loc, MemRefType::get(shape, outType.getElementType()));
    Operation *combiner = getCombiner(generic, i);
    Value neutral =
        getNeutral(rewriter, loc, combiner, outType.getElementType());
    linalg::FillOp::create(rewriter, loc, ValueRange{neutral},
                           ValueRange{partial});
    AffineMap &map = maps[generic.getNumDpsInputs() + i];
    SmallVector<AffineExpr> results(map.getResults());
    results.append(extra);
    outputLast(results, outType.getRank());
    map = AffineMap::get(newLoops, 0, results, context);
    partials.push_back(partial);
    combiners.push_back(combiner);
  }
  SmallVector<utils::IteratorType> iterators(newLoops,
                                             utils::IteratorType::reduction);
  std::fill_n(iterators.begin(), parallelAfter, utils::IteratorType::parallel);
  auto parts = linalg::GenericOp::create(rewriter, loc, TypeRange{}, inputs,
                                         partials, maps, iterators);
  rewriter.cloneRegionBefore(generic.getRegion(), parts.getRegion(),
                             parts.getRegion().end());
  // Index ops (a causal mask's): loops after the chunked one moved up by
  // one; the chunked loop's index is index within the chunk x chunks +
  // chunk.
  if (chunked) {
    SmallVector<linalg::IndexOp> indices;
    parts.getBody()->walk(
        [&](linalg::IndexOp index) { indices.push_back(index); });
    for (linalg::IndexOp index : indices) {
      uint64_t dim = index.getDim();
      if (dim < splitLoop)
        continue;
      if (dim > splitLoop) {
        rewriter.modifyOpInPlace(index, [&] { index.setDim(dim + 1); });
        continue;
      }
      rewriter.setInsertionPoint(index);
      Location at = index.getLoc();
      Value chunk = linalg::IndexOp::create(rewriter, at, splitLoop);
      Value within = linalg::IndexOp::create(rewriter, at, splitLoop + 1);
      Value chunks = arith::ConstantIndexOp::create(rewriter, at, split.chunks);
      Value scaled = arith::MulIOp::create(rewriter, at, within, chunks);
      rewriter.replaceOp(index,
                         arith::AddIOp::create(rewriter, at, scaled, chunk));
    }
  }
  // The contiguous parallel loop innermost.
  if (inner) {
    SmallVector<unsigned> order;
    for (unsigned d = 0; d < newLoops; ++d)
      if (d != *inner)
        order.push_back(d);
    order.insert(order.begin() + parallelAfter - 1, *inner);
    FailureOr<linalg::GenericOp> interchanged =
        linalg::interchangeGenericOp(rewriter, parts, order);
    if (succeeded(interchanged))
      parts = *interchanged;
  }
  rewriter.setInsertionPointAfter(parts);
  // The partials combined into each output.
  SmallVector<linalg::GenericOp> totals;
  for (auto [i, partial] : llvm::enumerate(partials)) {
    Value out = generic.getDpsInitOperand(i)->get();
    unsigned rank = cast<MemRefType>(out.getType()).getRank();
    unsigned dims = rank + extraSizes.size();
    SmallVector<AffineExpr> outDims;
    for (unsigned d = 0; d < rank; ++d)
      outDims.push_back(getAffineDimExpr(d, context));
    SmallVector<AffineExpr> partialDims;
    for (unsigned d = 0; d < dims; ++d)
      partialDims.push_back(getAffineDimExpr(d, context));
    outputLast(partialDims, rank);
    SmallVector<AffineMap> totalMaps = {
        AffineMap::get(dims, 0, partialDims, context),
        AffineMap::get(dims, 0, outDims, context)};
    SmallVector<utils::IteratorType> totalIterators(
        dims, utils::IteratorType::reduction);
    std::fill_n(totalIterators.begin(), rank, utils::IteratorType::parallel);
    Operation *combiner = combiners[i];
    totals.push_back(linalg::GenericOp::create(
        rewriter, loc, TypeRange{}, ValueRange{partial}, ValueRange{out},
        totalMaps, totalIterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          OperationState state(l, combiner->getName());
          state.addOperands({args[1], args[0]});
          state.addTypes(args[0].getType());
          state.addAttributes(combiner->getAttrs());
          linalg::YieldOp::create(b, l, b.create(state)->getResult(0));
        }));
  }
  for (Value partial : partials)
    memref::DeallocOp::create(rewriter, loc, partial);
  rewriter.eraseOp(generic);
  return totals;
}

/// Whether loop `loop` of `generic` can be cut into `chunks` chunks: it
/// indexes its inputs alone, in dimensions that can be expanded.
bool canChunk(linalg::GenericOp generic, unsigned loop, int64_t chunks) {
  FailureOr<SmallVector<int64_t>> dims = getChunkedDims(generic, loop);
  if (failed(dims))
    return false;
  for (auto [input, dim] : llvm::zip(generic.getDpsInputs(), *dims)) {
    SmallVector<ReassociationIndices> groups;
    if (dim >= 0 && failed(expandDim(cast<MemRefType>(input.getType()), dim,
                                     chunks, groups)))
      return false;
  }
  return true;
}

/// Whether `generic` can be split: on buffers, static ranges, parallel
/// loops first, every output indexed by parallel loops only
/// and combined by getCombiner with a neutral element.
bool canSplit(linalg::GenericOp generic) {
  if (!generic.hasPureBufferSemantics() ||
      generic.getNumReductionLoops() == 0 || generic.getNumDpsInits() == 0)
    return false;
  if (llvm::any_of(generic.getStaticLoopRanges(), ShapedType::isDynamic))
    return false;
  unsigned parallel = generic.getNumParallelLoops();
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  for (unsigned d = 0; d < iterators.size(); ++d)
    if ((d < parallel) != (iterators[d] == utils::IteratorType::parallel))
      return false;
  for (unsigned i = 0, e = generic.getNumDpsInits(); i < e; ++i) {
    OpOperand *init = generic.getDpsInitOperand(i);
    if (!isa<MemRefType>(init->get().getType()))
      return false;
    for (unsigned d = parallel; d < iterators.size(); ++d)
      if (generic.getMatchingIndexingMap(init).isFunctionOfDim(d))
        return false;
    Operation *combiner = getCombiner(generic, i);
    if (!combiner ||
        (!isa<arith::AddFOp>(combiner) && !arith::getNeutralElement(combiner)))
      return false;
  }
  return true;
}

/// A sum into one float (no parallel loop, one rank-0 output, `out + x`):
/// as many leading loops as make kMinPartials partials, all but the last
/// at most. On the GPU the first generic is a kernel and the host combines
/// the partials only; on the CPU the same loops run in sequence. With
/// `threads` (the GPU's), the next loop is also cut into as many chunks
/// as fit in that many threads, each combining `minChunk` elements or
/// more: a GPT-2 loss's 8192 partials each summed 50257 elements in a
/// chain (21 ms on an H200), now 237568 partials of 1733.
std::optional<ReductionSplit> chooseScalarSplit(linalg::GenericOp generic,
                                                int64_t threads,
                                                int64_t minChunk) {
  if (!isSumIntoOneFloat(generic) || !canSplit(generic))
    return std::nullopt;
  SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
  ReductionSplit split;
  int64_t partials = 1;
  while (split.converted + 1 < ranges.size() && partials < kMinPartials)
    partials *= ranges[split.converted++];
  if (threads > 0 && split.converted < ranges.size()) {
    unsigned loop = split.converted;
    int64_t chain = 1;
    for (unsigned d = loop; d < ranges.size(); ++d)
      chain *= ranges[d];
    for (int64_t chunks = std::min(ranges[loop] - 1, threads / partials);
         chunks >= 2; --chunks) {
      if (ranges[loop] % chunks != 0 || chain / chunks < minChunk ||
          !canChunk(generic, loop, chunks))
        continue;
      split.chunks = chunks;
      partials *= chunks;
      break;
    }
  }
  if (partials < 2)
    return std::nullopt;
  return split;
}

/// A reduction whose GPU threads (one per parallel iteration) each combine
/// a long chain of elements, one dependent load after another: a conv bias
/// gradient, 64 channels each summing batch x height x width elements,
/// took 171 ms on an H200 (about 0.44 us per element). Its time is taken
/// as the chain's length times the waves of `threads` resident threads
/// that the parallel iterations need; the split's as the first generic's
/// (more parallel iterations, shorter chains) plus the second's (one
/// thread per output, a chain of its partials). Reduction loops, outermost
/// first, become parallel whole, and the next one is cut into chunks (a
/// divisor of its range), in the way that costs least; chosen when that
/// halves the time or better, with each partial still combining
/// `minChunk` elements or more.
std::optional<ReductionSplit> chooseSplit(linalg::GenericOp generic,
                                          int64_t threads, int64_t minChunk) {
  if (threads <= 0 || generic.getNumParallelLoops() == 0 || !canSplit(generic))
    return std::nullopt;
  SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
  unsigned parallel = generic.getNumParallelLoops();
  int64_t outputs = 1, reduced = 1;
  for (unsigned d = 0; d < ranges.size(); ++d)
    (d < parallel ? outputs : reduced) *= ranges[d];
  auto waves = [&](int64_t iterations) {
    return (iterations + threads - 1) / threads;
  };
  // (The second generic's launch, a few microseconds, counts as
  // kLaunchElements elements of a chain.)
  auto cost = [&](int64_t partials, int64_t chain) {
    return waves(outputs * partials) * chain +
           (partials > 1 ? waves(outputs) * partials + kLaunchElements : 0);
  };
  int64_t unsplit = cost(1, reduced);
  std::optional<ReductionSplit> best;
  int64_t bestCost = unsplit;
  // Loops made parallel whole so far, and what that leaves.
  unsigned converted = 0;
  int64_t partials = 1, chain = reduced;
  for (unsigned d = parallel; d < ranges.size(); ++d) {
    int64_t range = ranges[d];
    // Loop d cut into chunks (all divisors; a whole loop is `range` chunks
    // of one, taken below as a parallel loop).
    for (int64_t chunks = 2; chunks < range; ++chunks) {
      if (range % chunks != 0 || chain / chunks < minChunk)
        continue;
      int64_t value = cost(partials * chunks, chain / chunks);
      if (value >= bestCost || !canChunk(generic, d, chunks))
        continue;
      bestCost = value;
      best = ReductionSplit{converted, chunks};
    }
    // Loop d parallel as a whole.
    if (chain / range < minChunk)
      break;
    partials *= range;
    chain /= range;
    ++converted;
    if (int64_t value = cost(partials, chain); value < bestCost) {
      bestCost = value;
      best = ReductionSplit{converted, 1};
    }
  }
  if (!best || bestCost * 2 > unsplit)
    return std::nullopt;
  return best;
}

/// The remark of option `report`: "threads T chain C", and with a split
/// "split T1 x C1 then T2 x C2" (the two generics' threads and chains).
void reportChains(linalg::GenericOp generic,
                  std::optional<ReductionSplit> split) {
  if (generic.getNumReductionLoops() == 0)
    return;
  SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return;
  unsigned parallel = generic.getNumParallelLoops();
  int64_t outputs = 1, chain = 1;
  for (unsigned d = 0; d < ranges.size(); ++d)
    (d < parallel ? outputs : chain) *= ranges[d];
  InFlightDiagnostic remark = generic.emitRemark()
                              << "reduction: threads " << outputs << " chain "
                              << chain;
  if (!split)
    return;
  int64_t partials = split->chunks;
  for (unsigned d = parallel; d < parallel + split->converted; ++d)
    partials *= ranges[d];
  remark << "; split " << outputs * partials << " x " << chain / partials
         << " then " << outputs << " x " << partials;
}

struct ReductionsInnerPass
    : public mlir::autopar::impl::ReductionsInnerBase<ReductionsInnerPass> {
  using ReductionsInnerBase::ReductionsInnerBase;
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk(
        [&](linalg::GenericOp generic) { generics.push_back(generic); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp generic : generics) {
      if (generic.getNumParallelLoops() == 0) {
        std::optional<ReductionSplit> split =
            chooseScalarSplit(generic, gpuThreads, minChunk);
        if (!split)
          continue;
        // Chunked, its partials are many (a GPU's threads' worth): they
        // are summed the same way once more, without chunks, so that the
        // host adds a few thousand.
        SmallVector<linalg::GenericOp> totals =
            applySplit(rewriter, generic, *split);
        if (split->chunks > 1 && totals.size() == 1)
          if (std::optional<ReductionSplit> again =
                  chooseScalarSplit(totals.front(), /*threads=*/0, minChunk))
            totals = applySplit(rewriter, totals.front(), *again);
        // On the GPU the last level is one thread's chain: while it is
        // longer than kMaxScalarChain, its partials are summed once more
        // in chunks (GPT-2's loss: 8192 -> 512 of 16 -> 32 of 16).
        for (unsigned level = 0;
             gpuThreads > 0 && totals.size() == 1 && level < 4; ++level) {
          SmallVector<int64_t> ranges = totals.front().getStaticLoopRanges();
          if (llvm::any_of(ranges, ShapedType::isDynamic) ||
              computeProduct(ranges) <= kMaxScalarChain)
            break;
          std::optional<ReductionSplit> again =
              chooseScalarSplit(totals.front(), gpuThreads, minChunk);
          if (!again)
            break;
          totals = applySplit(rewriter, totals.front(), *again);
        }
        continue;
      }
      FailureOr<linalg::GenericOp> interchanged =
          putParallelFirst(rewriter, generic);
      if (failed(interchanged)) {
        generic.emitError() << "autopar-reductions-inner: cannot interchange "
                               "the loops";
        return signalPassFailure();
      }
      std::optional<ReductionSplit> split =
          chooseSplit(*interchanged, gpuThreads, minChunk);
      if (report)
        reportChains(*interchanged, split);
      if (split)
        applySplit(rewriter, *interchanged, *split);
    }
  }
};
} // namespace
