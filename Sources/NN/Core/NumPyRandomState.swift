/// NumPy's legacy `numpy.random.RandomState(seed)`: a 32-bit Mersenne Twister (MT19937) and
/// its `shuffle`, draw for draw. It exists so that cross-validation deals exactly the folds of
/// scikit-learn's `KFold` and `StratifiedKFold` with `shuffle=True, random_state=seed`, and a
/// score compares fold by fold with a scikit-learn or PyTorch run of the same seed. Training
/// itself draws from `RandomGenerator`.
public struct NumPyRandomState: Sendable {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `RandomState(seed)`: MT19937's `init_genrand`, as NumPy seeds from an integer.
    public init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    /// The next 32 random bits (MT19937's `genrand_int32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// A uniform integer in 0...max (max < 2^32), as NumPy's `random_interval`: the bits
    /// above max's highest set bit masked off, out-of-range draws rejected.
    public mutating func interval(_ max: UInt32) -> UInt32 {
        guard max > 0 else { return 0 }
        var mask = max
        mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16
        while true {
            let value = nextUInt32() & mask
            if value <= max { return value }
        }
    }

    /// `RandomState.shuffle` of a one-dimensional array: Fisher-Yates from the end.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, Int(interval(UInt32(i))))
        }
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
            mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }
}
