import Foundation
import NN

/// Training curves as a standalone SVG: loss (left) and accuracy or another metric (right) per epoch, for
/// the training data and, when there is one, the validation set; axes, ticks, grid and a
/// legend, no script and no external resources, so any browser shows it.
struct TrainingPlot {
    let history: [EpochMetrics]
    let title: String
    /// The right panel's figure, by `EpochMetrics.value(named:)`: "accuracy", "r2", ...
    var metric = "accuracy"

    /// One line of a panel.
    private struct Series {
        let name: String
        let color: String
        let dashed: Bool
        let points: [(x: Double, y: Double)]
    }

    private static let width = 960.0, height = 420.0
    private static let margin = (left: 70.0, right: 24.0, top: 62.0, bottom: 56.0)
    private static let trainColor = "#1f77b4", validationColor = "#d62728"

    func svg() -> String {
        let w = TrainingPlot.width, h = TrainingPlot.height
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" \
            font-family="Helvetica, Arial, sans-serif" font-size="13">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(w / 2)" y="26" text-anchor="middle" font-size="16" font-weight="bold">\(escape(title))</text>

            """
        func series(_ name: String, _ color: String, dashed: Bool, _ value: (EpochMetrics) -> Double?) -> Series? {
            let points = history.compactMap { m in value(m).map { (x: Double(m.epoch), y: $0) } }
            return points.isEmpty ? nil : Series(name: name, color: color, dashed: dashed, points: points)
        }
        let loss = [series("training", TrainingPlot.trainColor, dashed: false) { $0.trainLoss },
                    series("validation", TrainingPlot.validationColor, dashed: true) { $0.validationLoss }].compactMap { $0 }
        let metric = self.metric
        let scores = [series("training", TrainingPlot.trainColor, dashed: false) { $0.value(named: metric) },
                      series("validation", TrainingPlot.validationColor, dashed: true) { $0.value(named: "val_" + metric) }]
            .compactMap { $0 }
        // Scores (accuracy, F1, R²) end at 1; errors (mse, mae) fall to 0 like the loss.
        let isScore = LearningTask.isMaximized(metric)
        out += panel(x: 0, label: "loss", series: loss, floorAtZero: true, capAtOne: false, legendAtTop: true)
        out += panel(x: w / 2, label: metric, series: scores, floorAtZero: !isScore, capAtOne: isScore, legendAtTop: !isScore)
        out += "</svg>\n"
        return out
    }

    /// A panel in the half of the picture starting at `x`.
    private func panel(x left: Double, label: String, series: [Series], floorAtZero: Bool, capAtOne: Bool,
                       legendAtTop: Bool) -> String {
        let m = TrainingPlot.margin
        let x0 = left + m.left, x1 = left + TrainingPlot.width / 2 - m.right
        let y0 = TrainingPlot.height - m.bottom, y1 = m.top  // y0 is the bottom edge
        let values = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        var low = values.min() ?? 0, high = values.max() ?? 1
        if floorAtZero { low = min(low, 0) }
        let yScale = NiceScale(low: low, high: high, cap: capAtOne ? 1 : nil)
        let lastEpoch = max(history.map(\.epoch).max() ?? 1, 1)
        let xLow = lastEpoch == 1 ? 0.0 : 1.0, xHigh = Double(max(lastEpoch, 2))
        func px(_ v: Double) -> Double { x0 + (v - xLow) / (xHigh - xLow) * (x1 - x0) }
        func py(_ v: Double) -> Double { y0 - (v - yScale.low) / (yScale.high - yScale.low) * (y0 - y1) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var s = "<g>\n"
        // Grid and y ticks.
        for tick in yScale.ticks {
            s += "<line x1=\"\(f(x0))\" y1=\"\(f(py(tick)))\" x2=\"\(f(x1))\" y2=\"\(f(py(tick)))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(f(x0 - 8))\" y=\"\(f(py(tick) + 4))\" text-anchor=\"end\">\(yScale.label(tick))</text>\n"
        }
        // x ticks: whole epochs, at most about ten.
        let every = max(1, Int((Double(lastEpoch) / 10).rounded(.up)))
        for epoch in stride(from: Int(xLow), through: Int(xHigh), by: every) where epoch >= 1 || lastEpoch == 1 {
            let x = px(Double(epoch))
            s += "<line x1=\"\(f(x))\" y1=\"\(f(y0))\" x2=\"\(f(x))\" y2=\"\(f(y0 + 5))\" stroke=\"black\"/>\n"
            s += "<text x=\"\(f(x))\" y=\"\(f(y0 + 20))\" text-anchor=\"middle\">\(epoch)</text>\n"
        }
        // Axes and their names.
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x1))\" y2=\"\(f(y0))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y1))\" stroke=\"black\"/>\n"
        s += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(y0 + 42))\" text-anchor=\"middle\">epoch</text>\n"
        s += "<text transform=\"translate(\(f(left + 18)) \(f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(label)</text>\n"
        // Lines with a dot per epoch (a one-epoch run is a single dot).
        for line in series {
            let points = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
            for p in line.points {
                s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(line.color)\"/>\n"
            }
        }
        // Legend in the corner the curves leave free (loss falls, accuracy rises).
        let legendHeight = Double(series.count) * 20 + 8
        let lx = x1 - 120, ly = legendAtTop ? y1 + 8 : y0 - 8 - legendHeight
        s += "<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"112\" height=\"\(f(legendHeight))\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n"
        for (i, line) in series.enumerated() {
            let y = ly + 18 + Double(i) * 20
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            s += "<line x1=\"\(f(lx + 8))\" y1=\"\(f(y - 4))\" x2=\"\(f(lx + 36))\" y2=\"\(f(y - 4))\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
            s += "<text x=\"\(f(lx + 42))\" y=\"\(f(y))\">\(line.name)</text>\n"
        }
        s += "</g>\n"
        return s
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// An axis range rounded out to steps of 1, 2 or 5 times a power of ten, about five ticks.
struct NiceScale {
    let low: Double, high: Double, step: Double

    init(low: Double, high: Double, cap: Double? = nil) {
        var (a, b) = (low, high)
        if !(b - a > 1e-9) { (a, b) = (a - 0.05 * max(abs(a), 1), b + 0.05 * max(abs(b), 1)) }
        let rough = (b - a) / 5
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let fraction = rough / magnitude
        let step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
        var top = (b / step).rounded(.up) * step
        if let cap, b <= cap, top > cap { top = cap }
        (self.low, self.high, self.step) = ((a / step).rounded(.down) * step, top, step)
    }

    /// The tick values from low to high.
    var ticks: [Double] {
        let count = Int(((high - low) / step).rounded())
        return (0...max(count, 0)).map { low + Double($0) * step }
    }

    /// A tick value with as many decimals as the step needs.
    func label(_ value: Double) -> String {
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", abs(value) < step / 1000 ? 0 : value)
    }
}
