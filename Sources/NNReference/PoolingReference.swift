// Naive pooling from the definitions, with PyTorch's semantics (ceil_mode=False):
// windows start at o * stride - pad; padding never wins a max; an average either
// counts padding as zeros (divide by kh*kw) or divides by the in-bounds count.

/// Geometry of 2-D pooling: x is (n, c, h, w), y is (n, c, outH, outW); mirrors
/// `ck_pool2d_params`.
public struct Pool2DGeometry: Sendable, Equatable, CustomStringConvertible {
    public var n: Int, c: Int, h: Int, w: Int
    public var kh: Int, kw: Int
    public var strideH: Int, strideW: Int
    public var padH: Int, padW: Int

    /// A checked geometry; padding is at most half the window, as PyTorch requires, so
    /// every window holds at least one input element.
    public init(n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int,
                strideH: Int, strideW: Int, padH: Int = 0, padW: Int = 0) {
        precondition(n >= 0 && c >= 0 && h >= 1 && w >= 1, "pooling input (\(n),\(c),\(h),\(w))")
        precondition(kh >= 1 && kw >= 1 && strideH >= 1 && strideW >= 1,
                     "pooling window \(kh)x\(kw) stride \(strideH)x\(strideW)")
        precondition(padH >= 0 && padW >= 0 && padH <= kh / 2 && padW <= kw / 2,
                     "pooling pad \(padH)x\(padW) must be at most half of the window \(kh)x\(kw)")
        precondition(h + 2 * padH >= kh && w + 2 * padW >= kw,
                     "pooling window \(kh)x\(kw) larger than padded input \(h)x\(w) pad \(padH)x\(padW)")
        self.n = n; self.c = c; self.h = h; self.w = w
        self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
    }

    /// Output height: (h + 2 * padH - kh) / strideH + 1.
    public var outH: Int { (h + 2 * padH - kh) / strideH + 1 }
    /// Output width: (w + 2 * padW - kw) / strideW + 1.
    public var outW: Int { (w + 2 * padW - kw) / strideW + 1 }
    /// Number of elements of x.
    public var inputCount: Int { n * c * h * w }
    /// Number of elements of y.
    public var outputCount: Int { n * c * outH * outW }
    /// Shape of x as an array, for failure messages.
    public var inputShape: [Int] { [n, c, h, w] }
    /// Shape of y as an array, for failure messages.
    public var outputShape: [Int] { [n, c, outH, outW] }

    public var description: String {
        "x(\(n),\(c),\(h),\(w)) k\(kh)x\(kw) s\(strideH)x\(strideW) p\(padH)x\(padW)"
    }

    /// The in-bounds input rows and columns of output (oy, ox)'s window.
    public func window(oy: Int, ox: Int) -> (rows: Range<Int>, cols: Range<Int>) {
        let hs = oy * strideH - padH, ws = ox * strideW - padW
        return (max(hs, 0)..<min(hs + kh, h), max(ws, 0)..<min(ws + kw, w))
    }
}

/// Max pooling forward: y is the max over each window, argmax the winner's row * w + col
/// within its (h, w) plane. Ties go to the first in row-major order; NaN wins.
public func referenceMaxPool2DForward(x: [Float], geometry g: Pool2DGeometry) -> (y: [Float], argmax: [Int32]) {
    precondition(x.count == g.inputCount, "max pool x has \(x.count) elements, \(g) needs \(g.inputCount)")
    var y = [Float](repeating: 0, count: g.outputCount)
    var argmax = [Int32](repeating: 0, count: g.outputCount)
    for plane in 0..<(g.n * g.c) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                let (rows, cols) = g.window(oy: oy, ox: ox)
                var best = -Float.infinity
                var bestIndex = rows.lowerBound * g.w + cols.lowerBound
                for iy in rows {
                    for ix in cols {
                        let v = x[plane * g.h * g.w + iy * g.w + ix]
                        if v > best || v.isNaN {
                            best = v
                            bestIndex = iy * g.w + ix
                        }
                    }
                }
                let o = (plane * g.outH + oy) * g.outW + ox
                y[o] = best
                argmax[o] = Int32(bestIndex)
            }
        }
    }
    return (y, argmax)
}

/// Max pooling backward: the gradient of x, each dy routed to its window's winner.
public func referenceMaxPool2DBackward(dy: [Float], argmax: [Int32], geometry g: Pool2DGeometry) -> [Float] {
    precondition(dy.count == g.outputCount && argmax.count == g.outputCount,
                 "max pool backward dy \(dy.count), argmax \(argmax.count), \(g) needs \(g.outputCount)")
    var dx = [Double](repeating: 0, count: g.inputCount)
    let ohw = g.outH * g.outW
    for plane in 0..<(g.n * g.c) {
        for o in 0..<ohw {
            dx[plane * g.h * g.w + Int(argmax[plane * ohw + o])] += Double(dy[plane * ohw + o])
        }
    }
    return dx.map { Float($0) }
}

/// Average pooling forward: y is the window sum divided by kh*kw if `countIncludePad`
/// (padding counts as zeros, PyTorch's default), else by the window's in-bounds count.
public func referenceAvgPool2DForward(x: [Float], geometry g: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
    precondition(x.count == g.inputCount, "avg pool x has \(x.count) elements, \(g) needs \(g.inputCount)")
    var y = [Float](repeating: 0, count: g.outputCount)
    for plane in 0..<(g.n * g.c) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                let (rows, cols) = g.window(oy: oy, ox: ox)
                var sum = 0.0
                for iy in rows {
                    for ix in cols { sum += Double(x[plane * g.h * g.w + iy * g.w + ix]) }
                }
                let divisor = countIncludePad ? g.kh * g.kw : rows.count * cols.count
                y[(plane * g.outH + oy) * g.outW + ox] = Float(sum / Double(divisor))
            }
        }
    }
    return y
}

/// Average pooling backward: the gradient of x, each dy spread evenly (same divisor as the
/// forward) over its window's in-bounds elements.
public func referenceAvgPool2DBackward(dy: [Float], geometry g: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
    precondition(dy.count == g.outputCount, "avg pool dy has \(dy.count) elements, \(g) needs \(g.outputCount)")
    var dx = [Double](repeating: 0, count: g.inputCount)
    for plane in 0..<(g.n * g.c) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                let (rows, cols) = g.window(oy: oy, ox: ox)
                let divisor = countIncludePad ? g.kh * g.kw : rows.count * cols.count
                let share = Double(dy[(plane * g.outH + oy) * g.outW + ox]) / Double(divisor)
                for iy in rows {
                    for ix in cols { dx[plane * g.h * g.w + iy * g.w + ix] += share }
                }
            }
        }
    }
    return dx.map { Float($0) }
}

/// Global average pooling forward: y (n, c) is the mean of x (n, c, hw) over hw.
public func referenceGlobalAvgPoolForward(x: [Float], n: Int, c: Int, hw: Int) -> [Float] {
    precondition(hw >= 1 && x.count == n * c * hw, "global avg pool x has \(x.count) elements, (\(n),\(c),\(hw))")
    return (0..<(n * c)).map { plane in
        var sum = 0.0
        for k in 0..<hw { sum += Double(x[plane * hw + k]) }
        return Float(sum / Double(hw))
    }
}

/// Global average pooling backward: the gradient of x (n, c, hw) is dy (n, c) / hw.
public func referenceGlobalAvgPoolBackward(dy: [Float], n: Int, c: Int, hw: Int) -> [Float] {
    precondition(hw >= 1 && dy.count == n * c, "global avg pool dy has \(dy.count) elements, (\(n),\(c))")
    var dx = [Float](repeating: 0, count: n * c * hw)
    for plane in 0..<(n * c) {
        for k in 0..<hw { dx[plane * hw + k] = Float(Double(dy[plane]) / Double(hw)) }
    }
    return dx
}
