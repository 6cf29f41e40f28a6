// A fixture for scripts/test-doc-comments.sh: each public declaration marked BAD has no doc
// comment, and the check must name every one of them (and nothing else).

/// A documented type.
public struct Holder {
    /// A documented property.
    public var value: Int

    public func undocumentedMethod() -> Int { value }  // BAD

    /// A documented initializer.
    public init(value: Int) { self.value = value }
}

public func undocumentedFunction() {}  // BAD

/// A documented enum.
public enum Choice {
    /// A documented case.
    case first
    case undocumentedCase  // BAD
}

/// A documented protocol.
public protocol Requirement {
    var undocumentedRequirement: Int { get }  // BAD
}

/// A documented conformance.
extension Holder: Requirement {
    public var undocumentedRequirement: Int { value }  // BAD: the protocol's comment does not count
}

extension Holder {
    public static func undocumentedStatic() {}  // BAD
}

// A plain comment is not a doc comment.
public let undocumentedGlobal = 1  // BAD
