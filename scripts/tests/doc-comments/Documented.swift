// A fixture for scripts/test-doc-comments.sh: every public declaration has a doc comment,
// so the check must pass on this file alone.

/// A documented type.
public struct Documented {
    /// A documented property.
    public var value: Int
    /// A documented initializer.
    public init(value: Int) { self.value = value }
    /// A documented method.
    public func doubled() -> Int { value * 2 }
    // Not public: needs no doc comment.
    func helper() {}
}

/// A documented enum.
public enum Choice {
    /// A documented case.
    case first
}
