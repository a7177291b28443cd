//===- AutoparOps.td - autopar operations -----------------*- tablegen -*-===//

#ifndef AUTOPAR_DIALECT_AUTOPAROPS_TD
#define AUTOPAR_DIALECT_AUTOPAROPS_TD

include "autopar/Dialect/AutoparBase.td"
include "autopar/Dialect/AutoparAttrs.td"
include "autopar/Dialect/AutoparInterfaces.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/Dialect/Linalg/IR/LinalgInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Autopar_Op<string mnemonic, list<Trait> traits = []>
    : Op<Autopar_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Mesh, sharding constraint, device coordinate
//===----------------------------------------------------------------------===//

def Autopar_MeshOp : Autopar_Op<"mesh", [Symbol]> {
  let summary = "declares a device mesh";
  let description = [{
    Declares a mesh of devices that shardings, strategies and collectives
    refer to by symbol.

    ```mlir
    autopar.mesh @mesh <nodes = 2, gpus = 8>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Autopar_MeshAttr:$mesh);
  let assemblyFormat = "$sym_name $mesh attr-dict";
}

def Autopar_ShardOp : Autopar_Op<"shard", [
    Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "constrains the sharding of a value (a user's pin)";
  let description = [{
    Returns its operand unchanged and states that the value must have the
    given sharding. The search respects it; partitioning inserts the
    collectives needed to produce it.

    ```mlir
    %1 = autopar.shard %0 : tensor<64x128xf32> to #autopar.sharding<@mesh, [[gpus], []]>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, Autopar_ShardingAttr:$sharding);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat =
      "$input `:` type($result) `to` qualified($sharding) attr-dict";
}

def Autopar_DeviceCoordOp : Autopar_Op<"device_coord", [
    Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the coordinate of the executing device along mesh axes";
  let description = [{
    The executing device's coordinate along the given mesh axes, linearized
    row-major when there are several (the last axis varies fastest): a value
    in `[0, product of the axes' sizes)`.

    ```mlir
    %i = autopar.device_coord on @mesh axes [gpus] : index
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$mesh, StrArrayAttr:$axes);
  let results = (outs Index:$result);
  let assemblyFormat =
      "`on` $mesh `axes` custom<AxisList>($axes) attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Scatter-add
//===----------------------------------------------------------------------===//

def Autopar_ScatterAddOp : Autopar_Op<"scatter_add", [
    Pure, DestinationStyleOpInterface, AllTypesMatch<["dest", "result"]>]> {
  let summary = "adds rows of updates into the rows of a tensor that indices name";
  let description = [{
    For every position `n` of `indices` (integers or indices), adds
    `updates[n, r...]` to row `indices[n]` of `dest`: `dest[indices[n],
    r...]`. `updates` has the shape of `indices` followed by the trailing
    dimensions of `dest`; positions that name the same row add up, in
    position order. Out-of-range indices are undefined behaviour, as a
    `tensor.extract` with them is.

    The gradient of an embedding lookup: `autopar-training` builds it for a
    table read with a data-dependent row (`tensor.extract` inside a
    `linalg.generic`), in O(positions x row) work, where a reduction over
    the whole table would take O(rows x positions x row).

    ```mlir
    %g = autopar.scatter_add %updates at %ids into %zeros
        : tensor<4x8x16xf32>, tensor<4x8xi64> into tensor<50x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$updates, AnyRankedTensor:$indices,
                       AnyRankedTensor:$dest);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $updates `at` $indices `into` $dest attr-dict `:` type($updates) `,`
    type($indices) `into` type($dest)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getDestMutable();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Autopar_AttentionOp : Autopar_Op<"attention", [
    Pure, DestinationStyleOpInterface, Autopar_AttentionOpInterface,
    DeclareOpInterfaceMethods<AggregatedOpInterface, ["decomposeOperation"]>]> {
  let summary = "scaled dot-product attention with an index mask";
  let description = [{
    For each batch `b` (batch and heads flattened) and query row `i`:

        S[b, i, j]  = scale * sum_d query[b, i, d] * key[b, d, j]
        S'[b, i, j] = mask(b, i, j) ? masked : S[b, i, j]
        P[b, i, :]  = softmax(S'[b, i, :])
        result[b, i, e] = sum_j P[b, i, j] * value[b, j, e]
        lse[b, i]   = max_j S'[b, i, j] + log(sum_j exp(S' - max))

    `key` is the scores' right operand ([B, D, J], keys transposed), as the
    `linalg.batch_matmul` it stands for takes it. `mask` is an optional
    region of the three loop indices yielding `i1` (true: the score is
    replaced by `masked`, typically -inf); without it nothing is masked.
    With `additive` the masked value is added to the score instead
    (S' = S + masked: PyTorch's additive masks, through which the gradient
    passes, so that a row masked everywhere gets the uniform probabilities'
    gradient as PyTorch gives it; elsewhere the same values).
    The scale is applied only when it is not 1. A mask given as data (a
    padding mask, batch x keys) is read through `mask_inputs`: the region
    takes each as a further argument and reads it with `tensor.extract` at
    indices it computes from (b, i, j). The inputs are whole on every
    device (the region sees global indices) and get no gradient.

    `autopar-fuse-attention` forms it from the linalg chain it stands for
    (scores, scale and mask, softmax, context) so that the training step
    keeps `lse` (B x I) for the backward instead of the probabilities
    (B x I x J): the backward recomputes P = exp(S' - lse). Lowering
    decomposes it (`linalg::AggregatedOpInterface`) into exactly that chain.

    ```mlir
    %o, %lse = autopar.attention
        ins(%q, %kt, %v : tensor<12x64x64xf32>, tensor<12x64x64xf32>,
                          tensor<12x64x64xf32>)
        outs(%oi, %li : tensor<12x64x64xf32>, tensor<12x64xf32>)
        scale 1.250000e-01 masked 0xFFF0000000000000 mask {
      ^bb0(%b: index, %i: index, %j: index):
        %c = arith.cmpi ugt, %j, %i : index
        autopar.yield %c : i1
      } -> tensor<12x64x64xf32>, tensor<12x64xf32>
    ```

    A padding mask of 2 sequences (12 heads each) read as data:

    ```mlir
    %o, %lse = autopar.attention
        ins(%q, %kt, %v : tensor<24x64x64xf32>, tensor<24x64x64xf32>,
                          tensor<24x64x64xf32>)
        outs(%oi, %li : tensor<24x64x64xf32>, tensor<24x64xf32>)
        scale 1.250000e-01 masked -3.40282347E+38
        reading(%pad : tensor<2x64xi64>) mask {
      ^bb0(%b: index, %i: index, %j: index, %m: tensor<2x64xi64>):
        %c12 = arith.constant 12 : index
        %c0 = arith.constant 0 : i64
        %seq = arith.divui %b, %c12 : index
        %keep = tensor.extract %m[%seq, %j] : tensor<2x64xi64>
        %c = arith.cmpi eq, %keep, %c0 : i64
        autopar.yield %c : i1
      } -> tensor<24x64x64xf32>, tensor<24x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                       AnyRankedTensor:$value, AnyRankedTensor:$output,
                       AnyRankedTensor:$lse_init, F64Attr:$scale,
                       OptionalAttr<F64Attr>:$masked, UnitAttr:$additive,
                       Variadic<AnyRankedTensor>:$mask_inputs);
  let results = (outs AnyRankedTensor:$result, AnyRankedTensor:$lse);
  let regions = (region AnyRegion:$mask);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
    type($value) `)` `outs` `(` $output `,` $lse_init `:` type($output) `,`
    type($lse_init) `)` `scale` $scale (`masked` $masked^)? (`additive` $additive^)?
    (`reading` `(` $mask_inputs^ `:` type($mask_inputs) `)`)?
    (`mask` $mask^)? attr-dict `->` type($result) `,` type($lse)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(getOperation(), 3, 2);
    }
  }];
}

def Autopar_AttentionGradOp : Autopar_Op<"attention_grad", [
    Pure, DestinationStyleOpInterface, Autopar_AttentionOpInterface,
    DeclareOpInterfaceMethods<AggregatedOpInterface, ["decomposeOperation"]>]> {
  let summary = "the gradients of an autopar.attention";
  let description = [{
    Given an `autopar.attention`'s operands, scale and mask, its `output`
    O and `lse`, and their adjoints `output_grad` dO and `lse_grad` dlse,
    the adjoints of query, key and value, as FlashAttention's backward
    computes them from nothing larger than the inputs:

        P  = exp(S' - lse)                   (S' as the attention's; 1/J in
                                             a row masked everywhere by a
                                             large C, lse < C / 2)
        dV[b, j, e] = sum_i P[b, i, j] dO[b, i, e]
        dP[b, i, j] = sum_e dO[b, i, e] value[b, j, e]
        r[b, i]     = sum_e dO[b, i, e] O[b, i, e] - dlse[b, i]
        dS[b, i, j] = mask(b, i, j) && !additive ? 0 : scale * P (dP - r)
        dQ[b, i, d] = sum_j dS[b, i, j] key[b, d, j]
        dK[b, d, j] = sum_i query[b, i, d] dS[b, i, j]

    Reverse mode emits it for every attention; lowering decomposes it
    (`linalg::AggregatedOpInterface`) into that chain of linalg ops. Every
    operand and result has the batch `b` first and each batch is
    independent; split by query rows, dK and dV are partial sums.
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                       AnyRankedTensor:$value, AnyRankedTensor:$output,
                       AnyRankedTensor:$lse, AnyRankedTensor:$output_grad,
                       AnyRankedTensor:$lse_grad,
                       AnyRankedTensor:$query_grad_init,
                       AnyRankedTensor:$key_grad_init,
                       AnyRankedTensor:$value_grad_init, F64Attr:$scale,
                       OptionalAttr<F64Attr>:$masked, UnitAttr:$additive,
                       Variadic<AnyRankedTensor>:$mask_inputs);
  let results = (outs AnyRankedTensor:$query_grad, AnyRankedTensor:$key_grad,
                      AnyRankedTensor:$value_grad);
  let regions = (region AnyRegion:$mask);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `,` $output `,` $lse `,`
    $output_grad `,` $lse_grad `:` type($query) `,` type($key) `,`
    type($value) `,` type($output) `,` type($lse) `,` type($output_grad) `,`
    type($lse_grad) `)` `outs` `(` $query_grad_init `,` $key_grad_init `,`
    $value_grad_init `:` type($query_grad_init) `,` type($key_grad_init) `,`
    type($value_grad_init) `)` `scale` $scale (`masked` $masked^)? (`additive` $additive^)?
    (`reading` `(` $mask_inputs^ `:` type($mask_inputs) `)`)?
    (`mask` $mask^)? attr-dict `->` type($query_grad) `,` type($key_grad) `,`
    type($value_grad)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(getOperation(), 7, 3);
    }
    /// The decomposition's dQ, dK and dV (decomposeOperation); with
    /// `keysInAccumulator`, dK and dV are left in the accumulator type
    /// (getAttentionAccumulatorType) instead of rounded to the keys' and
    /// values', for a caller that sums them over blocks of query rows.
    ::llvm::SmallVector<::mlir::Value> buildGradients(
        ::mlir::OpBuilder &b, bool keysInAccumulator);
  }];
}

def Autopar_YieldOp : Autopar_Op<"yield", [
    Pure, Terminator, ParentOneOf<["AttentionOp", "AttentionGradOp"]>]> {
  let summary = "yields the mask of an autopar.attention or attention_grad";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

def AnyRankedTensorOrMemRef : AnyTypeOf<[AnyRankedTensor, AnyMemRef],
                                        "ranked tensor or memref">;

class Autopar_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : Autopar_Op<mnemonic, !listconcat(traits, [
        DeclareOpInterfaceMethods<Autopar_CollectiveOpInterface>,
        DeclareOpInterfaceMethods<SymbolUserOpInterface>,
        DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
        DeclareOpInterfaceMethods<BufferizableOpInterface, [
          "bufferizesToAllocation", "bufferizesToMemoryRead",
          "bufferizesToMemoryWrite", "getAliasingValues", "getBufferType",
          "bufferize"]>])> {
  // Tensor form: `%r = op %input ... : tensor<..> -> tensor<..>`.
  // Buffer form: `op %input into %output ... : memref<..> -> memref<..>`.
  dag commonArgs = (ins AnyRankedTensorOrMemRef:$input,
                        Optional<AnyMemRef>:$output,
                        FlatSymbolRefAttr:$mesh, StrArrayAttr:$axes);
  let results = (outs Optional<AnyRankedTensor>:$result);
  // The interfaces every collective shares are implemented once, in
  // AutoparOps.cpp and AutoparBufferization.cpp, over CollectiveOpInterface.
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verifySymbolUses(
        ::mlir::SymbolTableCollection &symbolTables) {
      return ::mlir::autopar::detail::verifyCollectiveSymbolUses(
          *this, symbolTables);
    }
    void $cppClass::getEffects(
        ::llvm::SmallVectorImpl<::mlir::SideEffects::EffectInstance<
            ::mlir::MemoryEffects::Effect>> &effects) {
      ::mlir::autopar::detail::getCollectiveEffects(*this, effects);
    }
    bool $cppClass::bufferizesToAllocation(::mlir::Value value) {
      return !::mlir::autopar::detail::collectiveWritesInPlace(*this);
    }
    bool $cppClass::bufferizesToMemoryRead(::mlir::OpOperand &operand,
        const ::mlir::bufferization::AnalysisState &state) {
      return true;
    }
    bool $cppClass::bufferizesToMemoryWrite(::mlir::OpOperand &operand,
        const ::mlir::bufferization::AnalysisState &state) {
      return ::mlir::autopar::detail::collectiveWritesInPlace(*this);
    }
    ::mlir::bufferization::AliasingValueList $cppClass::getAliasingValues(
        ::mlir::OpOperand &operand,
        const ::mlir::bufferization::AnalysisState &state) {
      if (!::mlir::autopar::detail::collectiveWritesInPlace(*this))
        return {};
      return {{getOperation()->getResult(0),
               ::mlir::bufferization::BufferRelation::Equivalent}};
    }
    ::mlir::FailureOr<::mlir::bufferization::BufferLikeType>
    $cppClass::getBufferType(::mlir::Value value,
        const ::mlir::bufferization::BufferizationOptions &options,
        const ::mlir::bufferization::BufferizationState &state,
        ::llvm::SmallVector<::mlir::Value> &invocationStack) {
      return ::mlir::autopar::detail::getCollectiveBufferType(*this, value);
    }
    ::llvm::LogicalResult $cppClass::bufferize(::mlir::RewriterBase &rewriter,
        const ::mlir::bufferization::BufferizationOptions &options,
        ::mlir::bufferization::BufferizationState &state) {
      return ::mlir::autopar::detail::bufferizeCollective(
          *this, rewriter, options, state);
    }
  }];
}

defvar CollectiveHead = "$input (`into` $output^)? `on` $mesh `axes` custom<AxisList>($axes)";
defvar CollectiveTail = "attr-dict `:` type($input) `->` custom<CollectiveResultType>(ref($output), type($output), type($result))";

def Autopar_AllReduceOp : Autopar_CollectiveOp<"all_reduce"> {
  let summary = "combines a value over the devices of a group";
  let description = [{
    Every device of each group (the devices that differ only in their
    coordinates along `axes`) gets the combination (`reduction`) of the
    group's inputs. Operand and result have the same shape; the element
    type is the same.

    ```mlir
    %g = autopar.all_reduce %dw on @mesh axes [gpus] reduction = sum
        : tensor<4096x9216xf32> -> tensor<4096x9216xf32>
    ```
  }];
  let arguments = !con(commonArgs, (ins EnumProp<Autopar_ReductionKind>:$reduction));
  let assemblyFormat = !strconcat(CollectiveHead,
      " `reduction` `=` $reduction ", CollectiveTail);
}

def Autopar_AllGatherOp : Autopar_CollectiveOp<"all_gather"> {
  let summary = "concatenates the group's values along a dimension";
  let description = [{
    The result is the concatenation, along `gather_dim`, of the inputs of
    the group's devices in the order of their linearized coordinate: that
    dimension grows by the product of the sizes of `axes`.

    ```mlir
    %full = autopar.all_gather %x on @mesh axes [gpus] gather_dim = 0
        : tensor<32x1000xf32> -> tensor<128x1000xf32>
    ```
  }];
  let arguments = !con(commonArgs, (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$gather_dim));
  let assemblyFormat = !strconcat(CollectiveHead,
      " `gather_dim` `=` $gather_dim ", CollectiveTail);
  // Gathering the device's own block of a value gives the value back.
  let hasCanonicalizer = 1;
}

def Autopar_ReduceScatterOp : Autopar_CollectiveOp<"reduce_scatter"> {
  let summary = "combines the group's values and leaves each device a slice";
  let description = [{
    Like `all_reduce`, but device `i` of the group keeps only slice `i` of
    the combined value along `scatter_dim`, which shrinks by the product of
    the sizes of `axes` (it must divide the dimension evenly).

    ```mlir
    %s = autopar.reduce_scatter %x on @mesh axes [gpus] scatter_dim = 0 reduction = sum
        : tensor<128x64xf32> -> tensor<32x64xf32>
    ```
  }];
  let arguments = !con(commonArgs, (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$scatter_dim,
                                       EnumProp<Autopar_ReductionKind>:$reduction));
  let assemblyFormat = !strconcat(CollectiveHead,
      " `scatter_dim` `=` $scatter_dim `reduction` `=` $reduction ", CollectiveTail);
}

def Autopar_AllToAllOp : Autopar_CollectiveOp<"all_to_all"> {
  let summary = "moves a split from one dimension to another";
  let description = [{
    Each device splits its input into as many slices along `split_dim` as
    the group has devices, sends slice `j` to device `j`, and concatenates
    what it receives along `concat_dim`. `split_dim` shrinks and
    `concat_dim` grows by the group size.

    ```mlir
    %y = autopar.all_to_all %x on @mesh axes [gpus] split_dim = 1 concat_dim = 0
        : tensor<16x64xf32> -> tensor<64x16xf32>
    ```
  }];
  let arguments = !con(commonArgs, (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$split_dim,
                                       ConfinedAttr<I64Attr, [IntNonNegative]>:$concat_dim));
  let assemblyFormat = !strconcat(CollectiveHead,
      " `split_dim` `=` $split_dim `concat_dim` `=` $concat_dim ", CollectiveTail);
}

def Autopar_BroadcastOp : Autopar_CollectiveOp<"broadcast"> {
  let summary = "copies the value of one device of the group to all others";
  let description = [{
    `root` gives the source device's coordinate along each of `axes`.

    ```mlir
    %w = autopar.broadcast %w0 on @mesh axes [gpus] root = [0]
        : tensor<64x64xf32> -> tensor<64x64xf32>
    ```
  }];
  let arguments = !con(commonArgs, (ins DenseI64ArrayAttr:$root));
  let assemblyFormat = !strconcat(CollectiveHead,
      " `root` `=` $root ", CollectiveTail);
}

def Autopar_PermuteOp : Autopar_CollectiveOp<"permute"> {
  let summary = "point-to-point sends within a group (pipeline send/recv)";
  let description = [{
    Each `source -> target` pair (linearized coordinates within the group)
    sends the source device's value to the target device. A device that is
    no target gets zeros. Sources and targets are each unique. This is the
    SPMD form of send/recv between pipeline stages.

    ```mlir
    %a = autopar.permute %x on @mesh axes [stages] pairs = [0 -> 1, 1 -> 2, 2 -> 3]
        : tensor<8x512xf32> -> tensor<8x512xf32>
    ```
  }];
  let arguments = !con(commonArgs, (ins DenseI64ArrayAttr:$pairs));
  let assemblyFormat = !strconcat(CollectiveHead,
      " `pairs` `=` custom<Pairs>($pairs) ", CollectiveTail);
}

//===----------------------------------------------------------------------===//
// Point-to-point transfers between pipeline stages
//===----------------------------------------------------------------------===//

def Autopar_SendOp : Autopar_Op<"send", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface, [
      "bufferizesToMemoryRead", "bufferizesToMemoryWrite",
      "getAliasingValues", "bufferize"]>]> {
  let summary = "sends a value to one device of the executing device's group";
  let description = [{
    Sends `input` to the device whose coordinate along `axes` is `peer`
    (linearized row-major, as `device_coord` counts) and whose other
    coordinates are the executing device's. The matching `recv` on the peer
    names this device and the same `tag`; transfers between two devices are
    received in the order they are sent. The send does not wait for the
    receive: its value is copied out first, so the program goes on (a
    pipeline stage sends an activation forward and then waits for a gradient
    from the same peer without a deadlock).

    Unlike a collective, only the two devices take part: per-stage programs
    (autopar-partition of a pipeline) run the send on the stage that makes
    the value and the `recv` on the stage that uses it.

    ```mlir
    autopar.send %act to 1 on @mesh axes [stages] tag 4 : tensor<8x512xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensorOrMemRef:$input, FlatSymbolRefAttr:$mesh,
                       StrArrayAttr:$axes,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$peer,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$tag);
  let assemblyFormat = [{
    $input `to` $peer `on` $mesh `axes` custom<AxisList>($axes) `tag` $tag
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def Autopar_RecvOp : Autopar_Op<"recv", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface, [
      "bufferizesToAllocation", "getBufferType", "bufferize"]>]> {
  let summary = "receives a value a `send` on another device sent";
  let description = [{
    Waits for the value that the device at coordinate `peer` along `axes`
    (the executing device's other coordinates) sent with `tag`. Tensor form:
    the result has the sent value's type; buffer form: it is written into
    `output`.

    ```mlir
    %act = autopar.recv from 0 on @mesh axes [stages] tag 4 : tensor<8x512xbf16>
    autopar.recv from 0 on @mesh axes [stages] tag 4 into %buf : memref<8x512xbf16>
    ```
  }];
  let arguments = (ins Optional<AnyMemRef>:$output, FlatSymbolRefAttr:$mesh,
                       StrArrayAttr:$axes,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$peer,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$tag);
  let results = (outs Optional<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    `from` $peer `on` $mesh `axes` custom<AxisList>($axes) `tag` $tag
    (`into` $output^)? attr-dict `:` custom<RecvType>(ref($output), type($output), type($result))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Library calls
//===----------------------------------------------------------------------===//

def Autopar_LibraryCallOp : Autopar_Op<"library_call", [
    AttrSizedOperandSegments, DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface, [
      "bufferizesToMemoryRead", "bufferizesToMemoryWrite",
      "getAliasingValues", "bufferize"]>]> {
  let summary = "a runtime library function computing its outputs from its "
                "inputs";
  let description = [{
    Calls the runtime function `callee` with the addresses of `inputs`
    (read) and `outputs` (written, as a whole) and then `values` (integer
    and float constants, in their types), once buffers are final: a
    lowering that targets a library (autopar-attention-to-cudnn) states
    the call on tensors, before bufferization, so that the buffers'
    lifetimes and the frees follow its operands like any op's; after
    bufferization (buffer form: no results) autopar-lower-library-calls
    makes it the `func.call`. Every operand is a contiguous row-major
    buffer once bufferized (an input that is a strided view is copied
    first). `scalars` are integers or indices known only at run time (a
    device's first query row), passed after the values as i64. With
    `stream_ordered` the callee does its work in the CUDA runtime's stream
    order (`autopar.stream_ordered`).

    ```mlir
    %o, %lse = autopar.library_call "autopar_cuda_attention"
        ins(%q, %k, %v : tensor<2x16x32xbf16>, tensor<2x16x32xbf16>,
                         tensor<2x16x32xbf16>)
        outs(%oi, %li : tensor<2x16x2x16xbf16>, tensor<4x16xf32>)
        values [512, 32, 16, 1.250000e-01 : f64, 1 : i32]
        scalars(%first_row : index)
        stream_ordered -> tensor<2x16x2x16xbf16>, tensor<4x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$callee,
                       Variadic<AnyRankedTensorOrMemRef>:$inputs,
                       Variadic<AnyRankedTensorOrMemRef>:$outputs,
                       ArrayAttr:$values,
                       Variadic<AnySignlessIntegerOrIndex>:$scalars,
                       UnitAttr:$stream_ordered);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $callee `ins` `(` $inputs `:` type($inputs) `)`
    `outs` `(` $outputs `:` type($outputs) `)` `values` $values
    (`scalars` `(` $scalars^ `:` type($scalars) `)`)?
    (`stream_ordered` $stream_ordered^)? attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getOutputsMutable();
    }
  }];
}

#endif // AUTOPAR_DIALECT_AUTOPAROPS_TD
