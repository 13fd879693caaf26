/// The naive direct convolution, kept as the reference the fast kernels are tested against.
/// Straight loops over every index with Double accumulation; slow and obviously correct.
public enum ReferenceConvolution {
    @inline(__always)
    static func inputIndex(_ g: Conv2dGeometry, _ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        ((n * g.inChannels + c) * g.height + y) * g.width + x
    }

    /// Y[n, co, oy, ox] = b[co] + Σ_{ci in group, ki, kj} W[co, ci, ki, kj] · X[n, ci, oy·s − p + ki, ox·s − p + kj]
    public static func forward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        var o = 0
        for n in 0..<g.batch {
            for co in 0..<g.outChannels {
                let grp = co / g.outPerGroup
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var acc = Double(bias?[co] ?? 0)
                        for ci in 0..<g.inPerGroup {
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let y = oy * g.strideH - g.padH + ki, x = ox * g.strideW - g.padW + kj
                                    guard y >= 0, y < g.height, x >= 0, x < g.width else { continue }
                                    let wv = weight[((co * g.inPerGroup + ci) * g.kernelH + ki) * g.kernelW + kj]
                                    acc += Double(wv) * Double(input[inputIndex(g, n, grp * g.inPerGroup + ci, y, x)])
                                }
                            }
                        }
                        output[o] = Float(acc)
                        o += 1
                    }
                }
            }
        }
    }

    /// dX (overwritten), dW and db (overwritten) from dY by the same direct loops.
    public static func backward(_ g: Conv2dGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                                gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>) {
        let nIn = g.batch * g.inChannels * g.inPlane
        let nW = g.outChannels * g.patchSize
        var dx = [Double](repeating: 0, count: nIn)
        var dw = [Double](repeating: 0, count: nW)
        var db = [Double](repeating: 0, count: g.outChannels)
        var o = 0
        for n in 0..<g.batch {
            for co in 0..<g.outChannels {
                let grp = co / g.outPerGroup
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        let d = Double(gradOutput[o]); o += 1
                        db[co] += d
                        for ci in 0..<g.inPerGroup {
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let y = oy * g.strideH - g.padH + ki, x = ox * g.strideW - g.padW + kj
                                    guard y >= 0, y < g.height, x >= 0, x < g.width else { continue }
                                    let wi = ((co * g.inPerGroup + ci) * g.kernelH + ki) * g.kernelW + kj
                                    let xi = inputIndex(g, n, grp * g.inPerGroup + ci, y, x)
                                    dw[wi] += d * Double(input[xi])
                                    dx[xi] += d * Double(weight[wi])
                                }
                            }
                        }
                    }
                }
            }
        }
        for i in 0..<nIn { gradInput[i] = Float(dx[i]) }
        for i in 0..<nW { gradWeight[i] = Float(dw[i]) }
        for i in 0..<g.outChannels { gradBias[i] = Float(db[i]) }
    }
}
