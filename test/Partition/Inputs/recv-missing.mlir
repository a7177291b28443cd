// Stage 0 never sends what stage 1 waits for (send-recv.mlir's timeout).
autopar.mesh @mesh <stages = 2>
func.func @main() {
  %c = autopar.device_coord on @mesh axes [stages] : index
  %c0 = arith.constant 0 : index
  %later = arith.cmpi ne, %c, %c0 : index
  scf.if %later {
    %r = autopar.recv from 0 on @mesh axes [stages] tag 3 : tensor<4xf32>
    %e = tensor.extract %r[%c0] : tensor<4xf32>
    vector.print %e : f32
  }
  return
}
