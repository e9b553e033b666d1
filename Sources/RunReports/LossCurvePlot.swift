// LossCurvePlot.swift — RUN_DIR/loss_curve.png: the training loss against the
// iteration as a simple line plot (ImageIO PNG): light grid (10 x 10), the
// per-iteration loss in light blue and its moving average (window ~2 % of the
// iterations) in dark blue; y from 0 to the largest loss. No text: the
// numbers are in train_log.jsonl.

import ImageIO

public enum LossCurvePlot {
    public static func render(_ points: [(iteration: Int, loss: Double)], width: Int = 800, height: Int = 400) -> Image8 {
        var image = Image8(width: width, height: height, channels: 3, filledWith: 255)
        let left = 40, right = width - 20, top = 20, bottom = height - 30
        func set(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = (y * width + x) * 3
            image.pixels[i] = rgb.0; image.pixels[i + 1] = rgb.1; image.pixels[i + 2] = rgb.2
        }
        func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            var x = x0, y = y0
            let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
            var err = dx + dy
            while true {
                set(x, y, rgb)
                if x == x1 && y == y1 { break }
                let e2 = 2 * err
                if e2 >= dy { err += dy; x += sx }
                if e2 <= dx { err += dx; y += sy }
            }
        }
        for k in 0 ... 10 {
            let x = left + (right - left) * k / 10, y = top + (bottom - top) * k / 10
            line(x, top, x, bottom, (225, 225, 225))
            line(left, y, right, y, (225, 225, 225))
        }
        line(left, bottom, right, bottom, (0, 0, 0))
        line(left, top, left, bottom, (0, 0, 0))
        let finite = points.filter { $0.loss.isFinite }
        guard let first = finite.first, let last = finite.last else { return image }
        let maxLoss = max(finite.map(\.loss).max()!, 1e-9)
        let span = max(last.iteration - first.iteration, 1)
        func px(_ it: Int) -> Int { left + (right - left) * (it - first.iteration) / span }
        func py(_ loss: Double) -> Int { bottom - Int(Double(bottom - top) * min(max(loss / maxLoss, 0), 1)) }
        for (a, b) in zip(finite, finite.dropFirst()) {
            line(px(a.iteration), py(a.loss), px(b.iteration), py(b.loss), (150, 190, 240))
        }
        let window = max(1, finite.count / 50)
        var smoothed: [(Int, Double)] = []
        var sum = 0.0
        for (i, p) in finite.enumerated() {
            sum += p.loss
            if i >= window { sum -= finite[i - window].loss }
            smoothed.append((p.iteration, sum / Double(min(i + 1, window))))
        }
        for (a, b) in zip(smoothed, smoothed.dropFirst()) {
            line(px(a.0), py(a.1), px(b.0), py(b.1), (20, 60, 160))
            line(px(a.0), py(a.1) + 1, px(b.0), py(b.1) + 1, (20, 60, 160))
        }
        return image
    }
}
