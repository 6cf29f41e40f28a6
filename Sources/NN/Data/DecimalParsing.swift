import Foundation

// Decimal text -> Float for the CSV reader, equal to `strtof` on every input it accepts.
//
// Accepted syntax (nothing else): optional spaces or tabs, an optional sign, digits with
// an optional '.' (at least one digit overall), an optional exponent `e`/`E` [sign] digits,
// optional spaces or tabs. Hexadecimal floats, "nan", "inf" and values that overflow Float
// are rejected (nil): in a training table they are missing or broken values, not numbers.
//
// Fast path (Clinger's): the significant digits m fit in 53 bits, so Double(m) is exact.
// - m * 10^e with the product below 2^53 is exact in Double: one rounding, to Float.
// - m / 10^e for 1 <= e <= 8: the Double quotient is rounded once, then to Float. That
//   double rounding is harmless: a Float midpoint q = k*2^j (k odd, 25 bits) and x = m/10^e
//   differ, unless equal, by at least 2^j/10^e (m*2^-j - k*10^e is a nonzero integer),
//   which exceeds half a Double ulp at q, 2^(j-29), exactly when 10^e < 2^29. So the Double
//   quotient never lands on a midpoint x does not sit on, and Float(quotient) = round(x).
// Anything else (more than 19 digits, larger exponents) goes to `strtof`.

/// Powers of ten exact in Double (10^22 is the largest).
private let exactPowersOfTen: [Double] = (0...22).map { e in
    var p = 1.0
    for _ in 0..<e { p *= 10 }
    return p
}

/// `(2^53 - 1) / 10^e`: the largest m whose product with 10^e is still exact in Double.
private let exactProductLimits: [UInt64] = (0...22).map { e in
    var p: UInt64 = 1
    for _ in 0..<e { p = p.multipliedReportingOverflow(by: 10).overflow ? UInt64.max : p * 10 }
    return ((1 << 53) - 1) / p
}

/// A parser that holds its tables in local buffers so the hot loop indexes no globals.
struct DecimalParser {
    private let powers: [Double] = exactPowersOfTen
    private let limits: [UInt64] = exactProductLimits

    /// The Float that `strtof` gives for the bytes `[start, start+count)`, or nil if they are
    /// not a finite decimal number in the syntax above.
    @inline(__always)
    func parse(_ start: UnsafePointer<UInt8>, _ count: Int) -> Float? {
        var i = 0
        var end = count
        while i < end && (start[i] == 0x20 || start[i] == 0x09) { i += 1 }
        while end > i && (start[end - 1] == 0x20 || start[end - 1] == 0x09) { end -= 1 }
        if i == end { return nil }
        let first = i
        var negative = false
        if start[i] == UInt8(ascii: "-") { negative = true; i += 1 } else if start[i] == UInt8(ascii: "+") { i += 1 }

        var mantissa: UInt64 = 0
        var significantDigits = 0   // digits after the leading zeros
        var exponent = 0            // decimal exponent applied to mantissa
        var digits = 0              // every digit seen, leading zeros included
        while i < end, start[i] &- 0x30 < 10 {
            let d = UInt64(start[i] &- 0x30)
            if mantissa != 0 || d != 0 { significantDigits += 1 }
            mantissa = mantissa &* 10 &+ d
            digits += 1
            i += 1
        }
        if i < end && start[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, start[i] &- 0x30 < 10 {
                let d = UInt64(start[i] &- 0x30)
                if mantissa != 0 || d != 0 { significantDigits += 1 }
                mantissa = mantissa &* 10 &+ d
                exponent -= 1
                digits += 1
                i += 1
            }
        }
        if digits == 0 { return nil }
        if i < end && (start[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            var exponentNegative = false
            if i < end && start[i] == UInt8(ascii: "-") { exponentNegative = true; i += 1 }
            else if i < end && start[i] == UInt8(ascii: "+") { i += 1 }
            var written = 0
            var sawDigit = false
            while i < end, start[i] &- 0x30 < 10 {
                // Capped: beyond this the value is 0 or out of range whatever the digits.
                if written < 100_000 { written = written * 10 + Int(start[i] &- 0x30) }
                sawDigit = true
                i += 1
            }
            if !sawDigit { return nil }
            exponent += exponentNegative ? -written : written
        }
        if i != end { return nil }

        if significantDigits <= 19 {
            if mantissa == 0 { return negative ? -0.0 : 0.0 }
            if exponent >= 0 {
                if exponent <= 22 && mantissa <= limits[exponent] {
                    let value = Float(Double(mantissa) * powers[exponent])
                    if value.isFinite { return negative ? -value : value }
                    return nil
                }
            } else if exponent >= -8 && mantissa < (1 << 53) {
                let value = Float(Double(mantissa) / powers[-exponent])
                return negative ? -value : value
            }
        }
        return slowParse(start + first, end - first)
    }

    /// `strtof` on a NUL-terminated copy of text already checked against the syntax above.
    private func slowParse(_ start: UnsafePointer<UInt8>, _ count: Int) -> Float? {
        let value: Float = withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
            for k in 0..<count { buffer[k] = CChar(bitPattern: start[k]) }
            buffer[count] = 0
            return strtof(buffer.baseAddress!, nil)
        }
        return value.isFinite ? value : nil
    }
}

/// The Float the CSV reader reads from `text` (equal to `strtof`), or nil if `text` is not a
/// finite decimal number: no hex, no "nan"/"inf", nothing out of Float's range.
public func parseDecimalFloat(_ text: String) -> Float? {
    var bytes = Array(text.utf8)
    let parser = DecimalParser()
    return bytes.withUnsafeMutableBufferPointer { b in
        // An empty buffer may have no base address; an empty string is not a number anyway.
        guard let base = b.baseAddress else { return nil }
        return parser.parse(base, b.count)
    }
}
