/// Naive GEMM from the definition: c = alpha * op(a) * op(b) + beta * c, row-major,
/// with the same argument meaning as `ck_sgemm`. Accumulates in Double.
public func referenceGemm(
    c: inout [Float], ldc: Int,
    a: [Float], lda: Int, transA: Bool,
    b: [Float], ldb: Int, transB: Bool,
    m: Int, n: Int, k: Int, alpha: Float, beta: Float
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let aip = transA ? a[p * lda + i] : a[i * lda + p]
                let bpj = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(aip) * Double(bpj)
            }
            let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            c[i * ldc + j] = Float(Double(alpha) * sum + old)
        }
    }
}
