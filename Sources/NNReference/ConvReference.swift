/// The geometry of a 2-D convolution, with the same meaning as `ck_conv2d_params`:
/// x is (n, c, h, w), the filter is (oc, c, kh, kw), y is (n, oc, outH, outW).
public struct ReferenceConv2DGeometry: Sendable, Equatable, CustomStringConvertible {
    public var n, c, h, w: Int
    public var oc: Int
    public var kh, kw: Int
    public var strideH, strideW: Int
    public var padH, padW: Int
    public var dilationH, dilationW: Int

    /// A geometry; stride and dilation default to 1 and padding to 0.
    public init(n: Int, c: Int, h: Int, w: Int, oc: Int, kh: Int, kw: Int,
                strideH: Int = 1, strideW: Int = 1, padH: Int = 0, padW: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1) {
        precondition(n >= 1 && c >= 1 && h >= 1 && w >= 1 && oc >= 1 && kh >= 1 && kw >= 1,
                     "conv2d sizes must be positive: n\(n) c\(c) h\(h) w\(w) oc\(oc) k\(kh)x\(kw)")
        precondition(strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1
                     && padH >= 0 && padW >= 0,
                     "conv2d strides and dilations must be >= 1 and pads >= 0")
        self.n = n; self.c = c; self.h = h; self.w = w; self.oc = oc; self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW; self.padH = padH; self.padW = padW
        self.dilationH = dilationH; self.dilationW = dilationW
    }

    /// Output rows: the positions where the dilated kernel fits in the padded input.
    public var outH: Int {
        let span = h + 2 * padH - dilationH * (kh - 1) - 1
        return span < 0 ? 0 : span / strideH + 1
    }
    /// Output columns, as `outH`.
    public var outW: Int {
        let span = w + 2 * padW - dilationW * (kw - 1) - 1
        return span < 0 ? 0 : span / strideW + 1
    }

    /// Element counts of x, of the filter, of y, and of one image's columns.
    public var inputCount: Int { n * c * h * w }
    public var filterCount: Int { oc * c * kh * kw }
    public var outputCount: Int { n * oc * outH * outW }
    public var columnCount: Int { c * kh * kw * outH * outW }

    public var description: String {
        "n\(n) c\(c) \(h)x\(w) -> oc\(oc) k\(kh)x\(kw) s\(strideH),\(strideW) "
            + "p\(padH),\(padW) d\(dilationH),\(dilationW) out \(outH)x\(outW)"
    }

    /// The input row and column that output (oy, ox) reads at kernel offset (ki, kj);
    /// they may fall in the padding (outside 0..<h, 0..<w).
    func inputPosition(oy: Int, ox: Int, ki: Int, kj: Int) -> (iy: Int, ix: Int) {
        (oy * strideH - padH + ki * dilationH, ox * strideW - padW + kj * dilationW)
    }

    func isInside(_ iy: Int, _ ix: Int) -> Bool { iy >= 0 && iy < h && ix >= 0 && ix < w }
}

/// im2col of every image: x (n, c, h, w) to n blocks of (c*kh*kw, outH*outW), where row
/// (ci*kh + ki)*kw + kj holds the input each output position sees at that kernel offset
/// (zero in the padding). Block i is what `ck_im2col` produces for image i.
public func referenceIm2col(_ x: [Float], _ g: ReferenceConv2DGeometry) -> [Float] {
    precondition(x.count == g.inputCount, "im2col: x has \(x.count) elements, \(g) needs \(g.inputCount)")
    let (oh, ow) = (g.outH, g.outW)
    var col = [Float](repeating: 0, count: g.n * g.columnCount)
    for n in 0..<g.n {
        for ci in 0..<g.c {
            for ki in 0..<g.kh {
                for kj in 0..<g.kw {
                    let row = (ci * g.kh + ki) * g.kw + kj
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let (iy, ix) = g.inputPosition(oy: oy, ox: ox, ki: ki, kj: kj)
                            guard g.isInside(iy, ix) else { continue }
                            col[n * g.columnCount + row * oh * ow + oy * ow + ox] =
                                x[((n * g.c + ci) * g.h + iy) * g.w + ix]
                        }
                    }
                }
            }
        }
    }
    return col
}

/// col2im, the adjoint of `referenceIm2col`: n blocks of (c*kh*kw, outH*outW) summed back
/// into a fresh (n, c, h, w) array; entries that came from the padding are dropped.
public func referenceCol2im(_ col: [Float], _ g: ReferenceConv2DGeometry) -> [Float] {
    precondition(col.count == g.n * g.columnCount,
                 "col2im: col has \(col.count) elements, \(g) needs \(g.n * g.columnCount)")
    let (oh, ow) = (g.outH, g.outW)
    var x = [Double](repeating: 0, count: g.inputCount)
    for n in 0..<g.n {
        for ci in 0..<g.c {
            for ki in 0..<g.kh {
                for kj in 0..<g.kw {
                    let row = (ci * g.kh + ki) * g.kw + kj
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let (iy, ix) = g.inputPosition(oy: oy, ox: ox, ki: ki, kj: kj)
                            guard g.isInside(iy, ix) else { continue }
                            x[((n * g.c + ci) * g.h + iy) * g.w + ix] +=
                                Double(col[n * g.columnCount + row * oh * ow + oy * ow + ox])
                        }
                    }
                }
            }
        }
    }
    return x.map { Float($0) }
}

/// Convolution from its definition: y[n][o][oy][ox] = bias[o] + sum over ci, ki, kj of
/// filter[o][ci][ki][kj] * x[n][ci][iy][ix] (in-bounds taps only), accumulated in Double.
/// `bias` is (oc) or nil.
public func referenceConv2DForward(
    x: [Float], filter: [Float], bias: [Float]?, _ g: ReferenceConv2DGeometry
) -> [Float] {
    precondition(x.count == g.inputCount, "conv2d forward: x has \(x.count) elements, \(g) needs \(g.inputCount)")
    precondition(filter.count == g.filterCount,
                 "conv2d forward: filter has \(filter.count) elements, \(g) needs \(g.filterCount)")
    precondition(bias == nil || bias!.count == g.oc, "conv2d forward: bias must have \(g.oc) elements")
    let (oh, ow) = (g.outH, g.outW)
    var y = [Float](repeating: 0, count: g.outputCount)
    for n in 0..<g.n {
        for o in 0..<g.oc {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum = Double(bias?[o] ?? 0)
                    for ci in 0..<g.c {
                        for ki in 0..<g.kh {
                            for kj in 0..<g.kw {
                                let (iy, ix) = g.inputPosition(oy: oy, ox: ox, ki: ki, kj: kj)
                                guard g.isInside(iy, ix) else { continue }
                                sum += Double(filter[((o * g.c + ci) * g.kh + ki) * g.kw + kj])
                                    * Double(x[((n * g.c + ci) * g.h + iy) * g.w + ix])
                            }
                        }
                    }
                    y[((n * g.oc + o) * oh + oy) * ow + ox] = Float(sum)
                }
            }
        }
    }
    return y
}

/// Gradient of the convolution with respect to x (a fresh (n, c, h, w) array): every
/// in-bounds tap x[n][ci][iy][ix] that fed y[n][o][oy][ox] receives filter[o][ci][ki][kj]
/// * dy[n][o][oy][ox]. Accumulated in Double.
public func referenceConv2DBackwardData(
    dy: [Float], filter: [Float], _ g: ReferenceConv2DGeometry
) -> [Float] {
    precondition(dy.count == g.outputCount, "conv2d backward-data: dy has \(dy.count) elements, \(g) needs \(g.outputCount)")
    precondition(filter.count == g.filterCount,
                 "conv2d backward-data: filter has \(filter.count) elements, \(g) needs \(g.filterCount)")
    let (oh, ow) = (g.outH, g.outW)
    var dx = [Double](repeating: 0, count: g.inputCount)
    for n in 0..<g.n {
        for o in 0..<g.oc {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let d = Double(dy[((n * g.oc + o) * oh + oy) * ow + ox])
                    for ci in 0..<g.c {
                        for ki in 0..<g.kh {
                            for kj in 0..<g.kw {
                                let (iy, ix) = g.inputPosition(oy: oy, ox: ox, ki: ki, kj: kj)
                                guard g.isInside(iy, ix) else { continue }
                                dx[((n * g.c + ci) * g.h + iy) * g.w + ix] +=
                                    Double(filter[((o * g.c + ci) * g.kh + ki) * g.kw + kj]) * d
                            }
                        }
                    }
                }
            }
        }
    }
    return dx.map { Float($0) }
}

/// Gradients of the convolution with respect to the filter (oc, c, kh, kw) and the bias
/// (oc): dfilter[o][ci][ki][kj] = sum over n, oy, ox of dy[n][o][oy][ox] * x[n][ci][iy][ix]
/// (in-bounds taps), dbias[o] = sum of dy[n][o][...]. Fresh arrays, accumulated in Double.
public func referenceConv2DBackwardFilter(
    dy: [Float], x: [Float], _ g: ReferenceConv2DGeometry
) -> (dfilter: [Float], dbias: [Float]) {
    precondition(dy.count == g.outputCount, "conv2d backward-filter: dy has \(dy.count) elements, \(g) needs \(g.outputCount)")
    precondition(x.count == g.inputCount, "conv2d backward-filter: x has \(x.count) elements, \(g) needs \(g.inputCount)")
    let (oh, ow) = (g.outH, g.outW)
    var dfilter = [Float](repeating: 0, count: g.filterCount)
    var dbias = [Float](repeating: 0, count: g.oc)
    for o in 0..<g.oc {
        for ci in 0..<g.c {
            for ki in 0..<g.kh {
                for kj in 0..<g.kw {
                    var sum = 0.0
                    for n in 0..<g.n {
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                let (iy, ix) = g.inputPosition(oy: oy, ox: ox, ki: ki, kj: kj)
                                guard g.isInside(iy, ix) else { continue }
                                sum += Double(dy[((n * g.oc + o) * oh + oy) * ow + ox])
                                    * Double(x[((n * g.c + ci) * g.h + iy) * g.w + ix])
                            }
                        }
                    }
                    dfilter[((o * g.c + ci) * g.kh + ki) * g.kw + kj] = Float(sum)
                }
            }
        }
        var biasSum = 0.0
        for n in 0..<g.n {
            for s in 0..<(oh * ow) { biasSum += Double(dy[(n * g.oc + o) * oh * ow + s]) }
        }
        dbias[o] = Float(biasSum)
    }
    return (dfilter, dbias)
}
