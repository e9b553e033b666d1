// SVGChart.swift — the inline SVG charts of report.html: per-class IoU bars,
// the mIoU trend over recorded runs, the training loss curve. Plain SVG text
// (no scripts, no fonts to fetch), sized in CSS pixels, every mark with a
// <title> tooltip and data-* attributes so tests and scripts can read values.

import CTCore
import Datasets
import Foundation

enum SVGChart {
    /// Horizontal bars, one per class: IoU in percent (nil: "n/a", no bar).
    static func classBars(dataset: String, names: [String], values: [Double?]) -> String {
        let rowHeight = 18, labelWidth = 120, barWidth = 400, valueWidth = 56
        let width = labelWidth + barWidth + valueWidth, height = rowHeight * names.count + 24
        var svg = #"<svg class="chart class-iou" data-dataset="\#(html(dataset))" xmlns="http://www.w3.org/2000/svg" "#
            + #"width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" role="img" "#
            + #"aria-label="per-class IoU of \#(html(dataset))">"#
        // grid at 0, 25, 50, 75, 100
        for tick in stride(from: 0, through: 100, by: 25) {
            let x = labelWidth + barWidth * tick / 100
            svg += #"<line x1="\#(x)" y1="0" x2="\#(x)" y2="\#(rowHeight * names.count)" class="grid"/>"#
            svg += #"<text x="\#(x)" y="\#(rowHeight * names.count + 16)" class="tick" text-anchor="middle">\#(tick)</text>"#
        }
        for (i, name) in names.enumerated() {
            let y = i * rowHeight
            let value = i < values.count ? values[i] : nil
            svg += #"<text x="\#(labelWidth - 6)" y="\#(y + 13)" class="label" text-anchor="end">\#(html(name))</text>"#
            if let value {
                let w = max(0, min(1, value / 100)) * Double(barWidth)
                svg += #"<rect class="bar" data-class="\#(html(name))" data-value="\#(value)" x="\#(labelWidth)" y="\#(y + 3)" "#
                    + #"width="\#(fmt(w))" height="\#(rowHeight - 6)" fill="\#(color(i, of: names.count))">"#
                    + #"<title>\#(html(name)): \#(percent(value))</title></rect>"#
            }
            svg += #"<text x="\#(labelWidth + barWidth + 6)" y="\#(y + 13)" class="value">\#(percent(value))</text>"#
        }
        return svg + "</svg>"
    }

    /// One line per dataset over the runs (x: run order, y: mIoU percent).
    static func trend(runs: [(id: String, values: [String: Double])], series: [String]) -> String {
        let width = 640, height = 260, left = 48, right = 150, top = 12, bottom = 36
        let plotW = width - left - right, plotH = height - top - bottom
        let all = runs.flatMap { $0.values.values }
        var low = (all.min() ?? 0) - 2, high = (all.max() ?? 100) + 2
        low = max(0, (low / 5).rounded(.down) * 5)
        high = min(100, (high / 5).rounded(.up) * 5)
        if high - low < 5 { (low, high) = (max(0, low - 5), min(100, high + 5)) }
        func x(_ i: Int) -> Double { Double(left) + (runs.count <= 1 ? Double(plotW) / 2 : Double(plotW) * Double(i) / Double(runs.count - 1)) }
        func y(_ v: Double) -> Double { Double(top) + Double(plotH) * (1 - (v - low) / (high - low)) }
        var svg = #"<svg class="chart trend" xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" "#
            + #"viewBox="0 0 \#(width) \#(height)" role="img" aria-label="mIoU over recorded runs">"#
        let step = (high - low) > 40 ? 20.0 : (high - low) > 15 ? 5.0 : 2.0
        var tick = (low / step).rounded(.up) * step
        while tick <= high + 1e-9 {
            svg += #"<line x1="\#(left)" y1="\#(fmt(y(tick)))" x2="\#(left + plotW)" y2="\#(fmt(y(tick)))" class="grid"/>"#
            svg += #"<text x="\#(left - 6)" y="\#(fmt(y(tick) + 4))" class="tick" text-anchor="end">\#(fmt(tick))</text>"#
            tick += step
        }
        svg += #"<text x="\#(left + plotW / 2)" y="\#(height - 6)" class="tick" text-anchor="middle">recorded runs, oldest to newest (\#(runs.count))</text>"#
        for (s, name) in series.enumerated() {
            let colour = palette[s % palette.count]
            let points = runs.enumerated().compactMap { i, run in run.values[name].map { (i, $0, run.id) } }
            if points.count > 1 {
                svg += #"<polyline class="line" data-dataset="\#(html(name))" fill="none" stroke="\#(colour)" stroke-width="2" points=""#
                    + points.map { "\(fmt(x($0.0))),\(fmt(y($0.1)))" }.joined(separator: " ") + #""/>"#
            }
            for (i, v, id) in points {
                svg += #"<circle class="point" data-dataset="\#(html(name))" data-run="\#(html(id))" data-value="\#(v)" "#
                    + #"cx="\#(fmt(x(i)))" cy="\#(fmt(y(v)))" r="3.5" fill="\#(colour)"><title>\#(html(id)) \#(html(name)): \#(percent(v))</title></circle>"#
            }
            let ly = top + 14 * s + 8
            svg += #"<rect x="\#(left + plotW + 12)" y="\#(ly - 8)" width="10" height="10" fill="\#(colour)"/>"#
            svg += #"<text x="\#(left + plotW + 26)" y="\#(ly + 1)" class="label">\#(html(name))</text>"#
        }
        return svg + "</svg>"
    }

    /// The training loss against iteration (at most 1,000 points drawn).
    static func loss(_ points: [LossPoint]) -> String {
        let width = 640, height = 240, left = 56, right = 16, top = 12, bottom = 36
        let plotW = width - left - right, plotH = height - top - bottom
        let stride = max(1, points.count / 1000)
        let shown = points.enumerated().filter { $0.offset % stride == 0 || $0.offset == points.count - 1 }.map(\.element)
        let x0 = Double(points.first?.iteration ?? 0), x1 = Double(max((points.last?.iteration ?? 1), (points.first?.iteration ?? 0) + 1))
        let low = min(0, points.map(\.loss).min() ?? 0), high = max((points.map(\.loss).max() ?? 1), low + 1e-9)
        func x(_ v: Double) -> Double { Double(left) + Double(plotW) * (v - x0) / (x1 - x0) }
        func y(_ v: Double) -> Double { Double(top) + Double(plotH) * (1 - (v - low) / (high - low)) }
        var svg = #"<svg class="chart loss" data-points="\#(points.count)" xmlns="http://www.w3.org/2000/svg" width="\#(width)" "#
            + #"height="\#(height)" viewBox="0 0 \#(width) \#(height)" role="img" aria-label="training loss">"#
        for k in 0 ... 4 {
            let v = low + (high - low) * Double(k) / 4
            svg += #"<line x1="\#(left)" y1="\#(fmt(y(v)))" x2="\#(left + plotW)" y2="\#(fmt(y(v)))" class="grid"/>"#
            svg += #"<text x="\#(left - 6)" y="\#(fmt(y(v) + 4))" class="tick" text-anchor="end">\#(String(format: "%.3g", v))</text>"#
        }
        svg += #"<text x="\#(left)" y="\#(height - 6)" class="tick">\#(Int(x0))</text>"#
        svg += #"<text x="\#(left + plotW)" y="\#(height - 6)" class="tick" text-anchor="end">\#(Int(x1))</text>"#
        svg += #"<text x="\#(left + plotW / 2)" y="\#(height - 6)" class="tick" text-anchor="middle">iteration</text>"#
        svg += ##"<polyline class="line" fill="none" stroke="#1f77b4" stroke-width="1.5" points=""##
            + shown.map { "\(fmt(x(Double($0.iteration)))),\(fmt(y($0.loss)))" }.joined(separator: " ") + #""/>"#
        return svg + "</svg>"
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// Cityscapes colours for the 19 classes, the palette otherwise.
    static func color(_ i: Int, of count: Int) -> String {
        if count == LabelTables.trainClassColors.count {
            let c = LabelTables.trainClassColors[i]
            return String(format: "#%02x%02x%02x", c.0, c.1, c.2)
        }
        return palette[i % palette.count]
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    static func fmt(_ v: Int) -> String { String(v) }
    static func percent(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }

    /// Escapes text for HTML/SVG content and attribute values.
    static func html(_ text: String) -> String { TextEscaping.html(text) }
}
