// Malformed autopar ops: a located diagnostic each, never a crash.
// RUN: autopar-opt %s -split-input-file -verify-diagnostics

autopar.mesh @m <nodes = 2, gpus = 4>
func.func @f(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{sharding has 1 dimension entries but the value 'tensor<8x16xf32>' has rank 2}}
  %0 = autopar.shard %x : tensor<8x16xf32> to #autopar.sharding<@m, [[gpus]]>
  return %0 : tensor<8x16xf32>
}

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
func.func @f(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{mesh @m has no axis 'gpu'}}
  %0 = autopar.shard %x : tensor<8x16xf32> to #autopar.sharding<@m, [[gpu], []]>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @f(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{no mesh named @m (declare it with autopar.mesh)}}
  %0 = autopar.shard %x : tensor<8x16xf32> to #autopar.sharding<@m, [[gpus], []]>
  return %0 : tensor<8x16xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f() -> index {
  // expected-error @+1 {{'autopar.device_coord' op needs at least one mesh axis}}
  %0 = autopar.device_coord on @m axes [] : index
  return %0 : index
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f() -> index {
  // expected-error @+1 {{'autopar.device_coord' op refers to axis 'nodes' that mesh @m does not have}}
  %0 = autopar.device_coord on @m axes [nodes] : index
  return %0 : index
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>, %y: memref<8xf32>) {
  // expected-error @+1 {{'autopar.all_reduce' op takes no 'into' buffer when its input is a tensor}}
  autopar.all_reduce %x into %y on @m axes [gpus] reduction = sum : tensor<8xf32> -> memref<8xf32>
  return
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: memref<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.all_reduce' op needs an 'into' buffer when its input is a memref}}
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : memref<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf16> {
  // expected-error @+1 {{'autopar.all_reduce' op result element type 'f16' differs from the input element type 'f32'}}
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<8xf32> -> tensor<8xf16>
  return %0 : tensor<8xf16>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8x1xf32> {
  // expected-error @+1 {{'autopar.all_gather' op result rank 2 differs from the input rank 1}}
  %0 = autopar.all_gather %x on @m axes [gpus] gather_dim = 0 : tensor<8xf32> -> tensor<8x1xf32>
  return %0 : tensor<8x1xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.all_reduce' op needs at least one mesh axis}}
  %0 = autopar.all_reduce %x on @m axes [] reduction = sum : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.all_reduce' op lists mesh axis 'gpus' twice}}
  %0 = autopar.all_reduce %x on @m axes [gpus, gpus] reduction = sum : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.all_reduce' op refers to axis 'nodes' that mesh @m does not have}}
  %0 = autopar.all_reduce %x on @m axes [nodes] reduction = sum : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{no mesh named @m (declare it with autopar.mesh)}}
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+2 {{expected one of [sum, prod, min, max] for how partial results combine, got: avg}}
  // expected-error @+1 {{invalid value for property reduction}}
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = avg : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'autopar.all_reduce' op result dimension 0 is 4 but this collective keeps the shape, which gives 8 (input 'tensor<8xf32>', result 'tensor<4xf32>')}}
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<8xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
func.func @f(%x: tensor<8x3xf32>) -> tensor<32x3xf32> {
  // expected-error @+1 {{'autopar.all_gather' op result dimension 0 is 32 but gathering over 8 devices gives 64}}
  %0 = autopar.all_gather %x on @m axes [nodes, gpus] gather_dim = 0 : tensor<8x3xf32> -> tensor<32x3xf32>
  return %0 : tensor<32x3xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8x3xf32>) -> tensor<8x3xf32> {
  // expected-error @+1 {{'autopar.all_gather' op gather_dim 2 is out of range for rank 2}}
  %0 = autopar.all_gather %x on @m axes [gpus] gather_dim = 2 : tensor<8x3xf32> -> tensor<8x3xf32>
  return %0 : tensor<8x3xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8x3xf32>) -> tensor<8x3xf32> {
  // expected-error @+1 {{'autopar.all_gather' op attribute 'gather_dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = autopar.all_gather %x on @m axes [gpus] gather_dim = -1 : tensor<8x3xf32> -> tensor<8x3xf32>
  return %0 : tensor<8x3xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<6x3xf32>) -> tensor<1x3xf32> {
  // expected-error @+1 {{'autopar.reduce_scatter' op input dimension 0 of size 6 does not divide evenly among 4 devices}}
  %0 = autopar.reduce_scatter %x on @m axes [gpus] scatter_dim = 0 reduction = sum : tensor<6x3xf32> -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8x3xf32>) -> tensor<8x3xf32> {
  // expected-error @+1 {{'autopar.reduce_scatter' op result dimension 0 is 8 but scattering over 4 devices gives 2}}
  %0 = autopar.reduce_scatter %x on @m axes [gpus] scatter_dim = 0 reduction = sum : tensor<8x3xf32> -> tensor<8x3xf32>
  return %0 : tensor<8x3xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8x3xf32>) -> tensor<32x1xf32> {
  // expected-error @+1 {{'autopar.all_to_all' op input dimension 1 of size 3 does not divide evenly among 4 devices}}
  %0 = autopar.all_to_all %x on @m axes [gpus] split_dim = 1 concat_dim = 0 : tensor<8x3xf32> -> tensor<32x1xf32>
  return %0 : tensor<32x1xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.all_to_all' op result dimension 0 is 8 but an all-to-all over 4 devices gives 32}}
  %0 = autopar.all_to_all %x on @m axes [gpus] split_dim = 1 concat_dim = 0 : tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.all_to_all' op concat_dim 5 is out of range for rank 2}}
  %0 = autopar.all_to_all %x on @m axes [gpus] split_dim = 1 concat_dim = 5 : tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.broadcast' op root has 1 coordinates but the op has 2 axes}}
  %0 = autopar.broadcast %x on @m axes [nodes, gpus] root = [0] : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.broadcast' op root coordinate 4 on axis 'gpus' is outside [0, 4)}}
  %0 = autopar.broadcast %x on @m axes [gpus] root = [4] : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.permute' op device 4 is outside the group of 4 devices}}
  %0 = autopar.permute %x on @m axes [gpus] pairs = [3 -> 4] : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.permute' op device 0 sends more than once}}
  %0 = autopar.permute %x on @m axes [gpus] pairs = [0 -> 1, 0 -> 2] : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.permute' op device 2 receives more than once}}
  %0 = autopar.permute %x on @m axes [gpus] pairs = [0 -> 2, 1 -> 2] : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{expected '->'}}
  %0 = autopar.permute %x on @m axes [gpus] pairs = [0, 1] : tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: memref<8xf32>, %y: memref<16xf32>) {
  // expected-error @+1 {{'autopar.all_gather' op result dimension 0 is 16 but gathering over 4 devices gives 32}}
  autopar.all_gather %x into %y on @m axes [gpus] gather_dim = 0 : memref<8xf32> -> memref<16xf32>
  return
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{'autopar.all_reduce' op operand #0 must be ranked tensor or memref}}
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<*xf32> -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// expected-error @+1 {{expected valid '@'-identifier for symbol name}}
autopar.mesh m <gpus = 4>

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: memref<8xf32>) {
  // expected-error @+1 {{a collective on buffers needs an 'into' operand for its result 'memref<8xf32>'}}
  autopar.all_reduce %x on @m axes [gpus] reduction = sum : memref<8xf32> -> memref<8xf32>
  return
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%x: memref<8xf32>, %y: memref<8xf32>) {
  // expected-error @+1 {{the 'into' operand of a collective must be a memref, got 'tensor<8xf32>'}}
  autopar.all_reduce %x into %y on @m axes [gpus] reduction = sum : memref<8xf32> -> tensor<8xf32>
  return
}

// -----

func.func @f(%u: tensor<4x8x16xf32>, %i: tensor<4x8xf32>, %d: tensor<50x16xf32>) -> tensor<50x16xf32> {
  // expected-error @+1 {{indices must be integers or indices, not 'f32'}}
  %r = autopar.scatter_add %u at %i into %d : tensor<4x8x16xf32>, tensor<4x8xf32> into tensor<50x16xf32>
  return %r : tensor<50x16xf32>
}

// -----

func.func @f(%u: tensor<4x8x16xf32>, %i: tensor<4x8xi64>, %d: tensor<50x16xf64>) -> tensor<50x16xf64> {
  // expected-error @+1 {{updates of 'f32' cannot be added to a tensor of 'f64'}}
  %r = autopar.scatter_add %u at %i into %d : tensor<4x8x16xf32>, tensor<4x8xi64> into tensor<50x16xf64>
  return %r : tensor<50x16xf64>
}

// -----

func.func @f(%u: tensor<4x16xf32>, %i: tensor<4x8xi64>, %d: tensor<50x16xf32>) -> tensor<50x16xf32> {
  // expected-error @+1 {{updates 'tensor<4x16xf32>' must have the shape of the indices followed by a row of the destination: 'tensor<4x8x16xf32>'}}
  %r = autopar.scatter_add %u at %i into %d : tensor<4x16xf32>, tensor<4x8xi64> into tensor<50x16xf32>
  return %r : tensor<50x16xf32>
}

// -----

autopar.mesh @m <stages = 2, gpus = 4>
func.func @f(%x: tensor<8xf32>) {
  // expected-error @+1 {{'autopar.send' op peer 2 is outside the group of 2 devices along ["stages"]}}
  autopar.send %x to 2 on @m axes [stages] tag 0 : tensor<8xf32>
  return
}

// -----

autopar.mesh @m <stages = 2>
func.func @f() -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.recv' op refers to axis 'gpus' that mesh @m does not have}}
  %0 = autopar.recv from 0 on @m axes [gpus] tag 0 : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <stages = 2>
func.func @f(%x: tensor<?xf32>) {
  // expected-error @+1 {{'autopar.send' op needs a static shape, got 'tensor<?xf32>'}}
  autopar.send %x to 1 on @m axes [stages] tag 0 : tensor<?xf32>
  return
}

// -----

autopar.mesh @m <stages = 2>
func.func @f(%x: tensor<8xf32>) {
  // expected-error @+1 {{'autopar.send' op attribute 'tag' failed to satisfy constraint}}
  autopar.send %x to 1 on @m axes [stages] tag -1 : tensor<8xf32>
  return
}

// -----

autopar.mesh @m <stages = 2>
func.func @f(%b: memref<8xf32>) {
  // expected-error @+1 {{a recv into a buffer needs an 'into' operand, got 'memref<8xf32>'}}
  autopar.recv from 0 on @m axes [stages] tag 0 : memref<8xf32>
  return
}

// -----

func.func @attention_ranks(%q: tensor<2x3x8x4xf32>, %k: tensor<6x4x8xf32>, %v: tensor<6x8x4xf32>) -> tensor<2x3x8x4xf32> {
  %o = tensor.empty() : tensor<2x3x8x4xf32>
  %l = tensor.empty() : tensor<2x3x8xf32>
  // expected-error @+1 {{'autopar.attention' op query, key and value must have one rank of at least 3 ([batch..., rows, columns]), got 'tensor<6x4x8xf32>'}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x3x8x4xf32>, tensor<6x4x8xf32>, tensor<6x8x4xf32>) outs(%o, %l : tensor<2x3x8x4xf32>, tensor<2x3x8xf32>) scale 1.0 -> tensor<2x3x8x4xf32>, tensor<2x3x8xf32>
  return %r : tensor<2x3x8x4xf32>
}

// -----

func.func @attention_heads(%q: tensor<2x3x8x4xf32>, %k: tensor<2x2x4x8xf32>, %v: tensor<2x3x8x4xf32>) -> tensor<2x3x8x4xf32> {
  %o = tensor.empty() : tensor<2x3x8x4xf32>
  %l = tensor.empty() : tensor<2x3x8xf32>
  // expected-error @+1 {{'autopar.attention' op batch sizes differ: 3 and 2}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x3x8x4xf32>, tensor<2x2x4x8xf32>, tensor<2x3x8x4xf32>) outs(%o, %l : tensor<2x3x8x4xf32>, tensor<2x3x8xf32>) scale 1.0 -> tensor<2x3x8x4xf32>, tensor<2x3x8xf32>
  return %r : tensor<2x3x8x4xf32>
}

// -----

func.func @attention_lse_rank(%q: tensor<2x3x8x4xf32>, %k: tensor<2x3x4x8xf32>, %v: tensor<2x3x8x4xf32>) -> tensor<2x3x8x4xf32> {
  %o = tensor.empty() : tensor<2x3x8x4xf32>
  %l = tensor.empty() : tensor<6x8xf32>
  // expected-error @+1 {{'autopar.attention' op lse must be rank 3 ([batch..., query rows]), got 'tensor<6x8xf32>'}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x3x8x4xf32>, tensor<2x3x4x8xf32>, tensor<2x3x8x4xf32>) outs(%o, %l : tensor<2x3x8x4xf32>, tensor<6x8xf32>) scale 1.0 -> tensor<2x3x8x4xf32>, tensor<6x8xf32>
  return %r : tensor<2x3x8x4xf32>
}

// -----

func.func @attention_depth(%q: tensor<2x8x4xf32>, %k: tensor<2x3x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  // expected-error @+1 {{'autopar.attention' op query and key depth sizes differ: 4 and 3}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x3x8xf32>, tensor<2x8x4xf32>) outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 1.0 -> tensor<2x8x4xf32>, tensor<2x8xf32>
  return %r : tensor<2x8x4xf32>
}

// -----

func.func @attention_mask_type(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  // expected-error @+1 {{'autopar.attention' op mask must yield one i1}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 1.0 masked -1.0e4 mask {
  ^bb0(%b: index, %i: index, %j: index):
    autopar.yield %j : index
  } -> tensor<2x8x4xf32>, tensor<2x8xf32>
  return %r : tensor<2x8x4xf32>
}

// -----

func.func @attention_masked_without_mask(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  // expected-error @+1 {{'autopar.attention' op has a masked value but no mask}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 1.0 masked -1.0e4 -> tensor<2x8x4xf32>, tensor<2x8xf32>
  return %r : tensor<2x8x4xf32>
}

// -----

func.func @attention_mask_input_type(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>, %pad: tensor<1x8xi64>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  // expected-error @+1 {{'autopar.attention' op mask block must take three indices (batch, query row, key row) and then each mask input, of its type}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 1.0 masked -1.0e4 reading(%pad : tensor<1x8xi64>) mask {
  ^bb0(%b: index, %i: index, %j: index, %m: tensor<1x8xi32>):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<2x8x4xf32>, tensor<2x8xf32>
  return %r : tensor<2x8x4xf32>
}

// -----

func.func @attention_additive_without_mask(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  // expected-error @+1 {{'autopar.attention' op has an additive mask but no mask}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 1.0 additive -> tensor<2x8x4xf32>, tensor<2x8xf32>
  return %r : tensor<2x8x4xf32>
}

// -----

func.func @attention_grad_adjoint_type(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>, %o: tensor<2x8x4xf32>, %l: tensor<2x8xf32>, %do: tensor<2x8x4xf32>, %dl: tensor<2x4xf32>) -> tensor<2x4x8xf32> {
  %eq = tensor.empty() : tensor<2x8x4xf32>
  %ek = tensor.empty() : tensor<2x4x8xf32>
  %ev = tensor.empty() : tensor<2x8x4xf32>
  // expected-error @+1 {{'autopar.attention_grad' op the adjoints must have the types of output and lse}}
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>, tensor<2x8x4xf32>, tensor<2x4xf32>) outs(%eq, %ek, %ev : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) scale 1.0 -> tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>
  return %dk : tensor<2x4x8xf32>
}

// -----

func.func @attention_grad_key_rows(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x6x4xf32>, %o: tensor<2x8x4xf32>, %l: tensor<2x8xf32>, %do: tensor<2x8x4xf32>, %dl: tensor<2x8xf32>) -> tensor<2x4x8xf32> {
  %eq = tensor.empty() : tensor<2x8x4xf32>
  %ek = tensor.empty() : tensor<2x4x8xf32>
  %ev = tensor.empty() : tensor<2x6x4xf32>
  // expected-error @+1 {{'autopar.attention_grad' op key and value row sizes differ: 8 and 6}}
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x6x4xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>) outs(%eq, %ek, %ev : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x6x4xf32>) scale 1.0 -> tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x6x4xf32>
  return %dk : tensor<2x4x8xf32>
}

// -----

func.func @library_call_mixed(%t: tensor<4xf32>, %m: memref<4xf32>) {
  // expected-error @+1 {{takes tensors or buffers, not both}}
  autopar.library_call "f" ins(%t : tensor<4xf32>) outs(%m : memref<4xf32>) values []
  return
}

// -----

func.func @library_call_result(%t: tensor<4xf32>, %o: tensor<4xf32>) {
  // expected-error @+1 {{needs a result of each output's type}}
  autopar.library_call "f" ins(%t : tensor<4xf32>) outs(%o : tensor<4xf32>) values []
  return
}

// -----

func.func @library_call_value(%m: memref<4xf32>, %o: memref<4xf32>) {
  // expected-error @+1 {{values must be integers or floats, not "x"}}
  autopar.library_call "f" ins(%m : memref<4xf32>) outs(%o : memref<4xf32>) values ["x"]
  return
}

// -----

func.func @library_call_scalar(%m: memref<4xf32>, %o: memref<4xf32>, %n: i128) {
  // expected-error @+1 {{scalars are passed as i64, not 'i128'}}
  autopar.library_call "f" ins(%m : memref<4xf32>) outs(%o : memref<4xf32>) values [] scalars(%n : i128)
  return
}
