// The second half of a causal attention's query rows (8 of 16 over all 16
// keys), as a device holds them when the rows are split over 2: its mask
// is key j > i + 8, the offset computed outside the mask (here a
// constant; the device's coordinate times its rows when partitioned).
func.func @forward(%q: tensor<4x8x16xbf16>, %kt: tensor<4x16x16xbf16>, %v: tensor<4x16x16xbf16>) -> tensor<4x8x16xbf16> {
  %first = arith.constant 8 : index
  %oi = tensor.empty() : tensor<4x8x16xbf16>
  %li = tensor.empty() : tensor<4x8xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %first : index
    %c = arith.cmpi ugt, %j, %row : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  return %o : tensor<4x8x16xbf16>
}
