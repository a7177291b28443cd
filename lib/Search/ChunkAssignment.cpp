//===- ChunkAssignment.cpp - which pipeline chunk each op runs in ---------===//

#include "autopar/Search/ChunkAssignment.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Search/Pipeline.h"
#include "autopar/Search/ShardingSpace.h"

#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::autopar;

DenseMap<Operation *, int64_t>
mlir::autopar::assignChunks(Block &block,
                            function_ref<bool(Operation *)> isBackward) {
  DenseMap<Operation *, int64_t> chunkOf;
  // Backward work: what `isBackward` says is, and whatever reads it.
  DenseSet<Operation *> backward;
  auto producerOf = [&](Value value) -> Operation * {
    Operation *def = value.getDefiningOp();
    return def ? block.findAncestorOpInBlock(*def) : nullptr;
  };
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>())
      continue;
    SetVector<Value> inputs(op.getOperands().begin(), op.getOperands().end());
    getUsedValuesDefinedAbove(op.getRegions(), inputs);
    bool isBackwardWork = isBackward(&op);
    SmallVector<int64_t> inputChunks;
    for (Value input : inputs) {
      Operation *def = producerOf(input);
      if (!def)
        continue;
      isBackwardWork |= backward.contains(def);
      auto it = chunkOf.find(def);
      inputChunks.push_back(it == chunkOf.end() ? -1 : it->second);
    }
    if (isBackwardWork)
      backward.insert(&op);
    if (isMadeFromScalar(&op))
      continue;
    int64_t chosen = -1;
    if (auto stage =
            op.getAttrOfType<IntegerAttr>(AutoparDialect::kStageAttrName))
      chosen = stage.getInt();
    else
      chosen = chooseChunk(inputChunks, isBackwardWork);
    if (chosen >= 0)
      chunkOf[&op] = chosen;
  }
  return chunkOf;
}
