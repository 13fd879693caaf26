import Foundation

/// A dense Float32 tensor with value semantics.
///
/// The public layout is row-major over `shape`; images are NCHW (batch, channels, height, width).
/// Copies share one ``TensorStorage`` until one of them is mutated (copy-on-write), so passing
/// tensors around is cheap and a layer's cached input can never be changed behind its back.
public struct Tensor {
    /// Extent of each dimension, outermost first (NCHW for images).
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// Number of elements (the product of `shape`).
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// A tensor of the given shape filled with `value` (zeros by default).
    public init(zeros shape: [Int]) { self.init(shape: shape, repeating: 0) }

    public init(shape: [Int], repeating value: Float) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(Shape.describe(shape))")
        self.shape = shape
        storage = TensorStorage(repeating: value, count: Shape.count(shape))
    }

    /// A tensor whose elements are left uninitialised, for kernels that overwrite every element
    /// (saves the zero-fill of a large output). Reading an element before writing it is an error.
    public init(unsafeUninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(Shape.describe(shape))")
        self.shape = shape
        storage = TensorStorage(uninitializedCount: Shape.count(shape))
    }

    /// A tensor holding `values` in row-major order. Throws when the count does not match `shape`.
    public init(shape: [Int], values: [Float]) throws(EngineError) {
        guard shape.allSatisfy({ $0 >= 0 }), Shape.count(shape) == values.count else {
            throw .shape(layer: "Tensor(shape:values:)",
                         expected: "\(values.count) elements", got: shape)
        }
        self.shape = shape
        storage = TensorStorage(uninitializedCount: values.count)
        values.withUnsafeBufferPointer { storage.base.initialize(from: $0.baseAddress!, count: values.count) }
    }

    /// A tensor whose elements are produced by `body(flatIndex)`.
    public init(shape: [Int], generator body: (Int) -> Float) {
        self.init(zeros: shape)
        let p = storage.base
        for i in 0..<count { p[i] = body(i) }
    }

    /// Read-only access to the elements, row-major.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    /// Mutable access to the elements. Copies the storage first if it is shared.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    @usableFromInline mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Element at a flat (row-major) index.
    @inlinable public subscript(flat index: Int) -> Float {
        get { storage.base[index] }
        set { makeUnique(); storage.base[index] = newValue }
    }

    /// Element at a multi-dimensional index.
    public subscript(_ index: Int...) -> Float {
        get { storage.base[flatIndex(index)] }
        set { let i = flatIndex(index); makeUnique(); storage.base[i] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Tensor: index rank \(index.count) for shape \(Shape.describe(shape))")
        var flat = 0
        for (i, extent) in zip(index, shape) {
            precondition(i >= 0 && i < extent, "Tensor: index \(index) out of bounds for \(Shape.describe(shape))")
            flat = flat * extent + i
        }
        return flat
    }

    /// The elements as an array, row-major.
    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) throws(EngineError) -> Tensor {
        guard newShape.allSatisfy({ $0 >= 0 }), Shape.count(newShape) == count else {
            throw .shape(layer: "Tensor.reshaped(\(Shape.describe(newShape)))",
                         expected: "\(Shape.count(newShape)) elements", got: shape)
        }
        var t = self
        t.shape = newShape
        return t
    }

    /// True when both tensors share one storage (used by tests of copy-on-write).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: Equatable {
    /// Equal shapes and bit-identical elements.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return true }
        for i in 0..<lhs.count where lhs.storage.base[i].bitPattern != rhs.storage.base[i].bitPattern {
            return false
        }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor\(Shape.describe(shape))[\(head)\(count > 8 ? ", …" : "")]"
    }
}

// MARK: - Elementwise helpers used by layers, optimisers and tests

extension Tensor {
    /// Sets every element to `value` in place.
    public mutating func fill(_ value: Float) {
        withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Parallel.forBlocks(buffer.count) { range in (base + range.lowerBound).update(repeating: value, count: range.count) }
        }
    }

    /// `self += alpha * other` (shapes must have equal counts).
    public mutating func add(_ other: Tensor, scaled alpha: Float = 1) {
        precondition(other.count == count, "Tensor.add: \(Shape.describe(other.shape)) into \(Shape.describe(shape))")
        other.withUnsafeBufferPointer { o in
            withUnsafeMutableBufferPointer { s in
                let sp = s.baseAddress!, op = o.baseAddress!
                Parallel.forBlocks(s.count) { r in
                    let dst = sp + r.lowerBound, src = op + r.lowerBound
                    if alpha == 1 {
                        VectorKernels.add(dst, src, into: dst, count: r.count)
                    } else {
                        VectorKernels.combine(dst, src, into: dst, count: r.count, a: 1, b: alpha, c: 0)
                    }
                }
            }
        }
    }

    /// Sum of all elements, accumulated in Double.
    public func sum() -> Double {
        withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
    }
}
