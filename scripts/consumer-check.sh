#!/usr/bin/env bash
# Proves that a user can add swift-nn by URL and version and `import NN`:
# clones this repository (committed state) to a temporary directory, tags it 0.0.1,
# and builds and runs a throwaway consumer package that depends on it through a
# file:// URL with `.package(url:, from: "0.0.1")`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone -q "$root" "$work/swift-nn"
git -C "$work/swift-nn" -c user.name=check -c user.email=check@localhost tag -a 0.0.1 -m "consumer check"

mkdir -p "$work/consumer/Sources/consumer"
cat > "$work/consumer/Package.swift" <<SWIFT
// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [
        .package(url: "file://$work/swift-nn", from: "0.0.1"),
    ],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "NN", package: "swift-nn")]),
    ]
)
SWIFT
cat > "$work/consumer/Sources/consumer/main.swift" <<'SWIFT'
import NN

let layer = Dense(inputSize: 3, outputSize: 2)
let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]).requiringGradient()
let loss = crossEntropy(logits: layer(x), labels: [0, 1])
loss.backward()
print("consumer OK: loss \(loss.scalar), weight gradient \(layer.weight.gradient.shape)")
SWIFT
cd "$work/consumer"
swift build -c release 2>&1 | grep -E "error|warning: unsafe|Compiling|Build" | tail -20
"$(swift build -c release --show-bin-path)/consumer"
