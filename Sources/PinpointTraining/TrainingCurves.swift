import Foundation
import PinpointData

/// A training log's curves as a picture (`pinpoint plot DIR`): loss per epoch (training and
/// validation) beside validation IoU per epoch (mean IoU and the share of boxes with IoU >= 0.5),
/// each panel with its axes, ticks and legend.
public enum TrainingCurves {
    public struct Series {
        public let name: String
        public let color: (UInt8, UInt8, UInt8)
        public let points: [(x: Double, y: Double)]
        public init(name: String, color: (UInt8, UInt8, UInt8), points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    /// The picture of a history.csv (`TrainingLog`).
    public static func render(history path: String) throws -> RGBImage {
        let rows = try TrainingLog.rows(path)
        guard !rows.isEmpty else { throw TrainingError(reason: "\(path): no epochs to plot") }
        func series(_ column: String, _ name: String, _ color: (UInt8, UInt8, UInt8)) -> Series {
            Series(name: name, color: color, points: rows.compactMap { row in
                guard let x = row["epoch"].flatMap(Double.init), let y = row[column].flatMap(Double.init), y.isFinite else { return nil }
                return (x, y)
            })
        }
        var image = RGBImage(width: 960, height: 400, filling: (255, 255, 255))
        draw(&image, frame: (0, 0, 480, 400), title: "loss",
             [series("train_loss", "train", (31, 119, 180)), series("val_loss", "val", (214, 39, 40))])
        draw(&image, frame: (480, 0, 480, 400), title: "validation IoU",
             [series("val_mean_iou", "mean IoU", (44, 160, 44)), series("val_iou50", "IoU>=0.5", (148, 103, 189))], floorAtZero: true,
             legendBelow: true)
        return image
    }

    /// One panel: axes with ticks and numbers, each series as a line with a dot per point, a
    /// legend in the upper right (lower right for curves that rise), the title above.
    public static func draw(_ image: inout RGBImage, frame: (x: Int, y: Int, width: Int, height: Int), title: String, _ series: [Series],
                            floorAtZero: Bool = false, legendBelow: Bool = false, xLabel: String = "epoch", xTicks: [Double]? = nil) {
        let black: (UInt8, UInt8, UInt8) = (0, 0, 0), grey: (UInt8, UInt8, UInt8) = (225, 225, 225)
        let left = frame.x + 70, right = frame.x + frame.width - 20, top = frame.y + 40, bottom = frame.y + frame.height - 50
        let points = series.flatMap(\.points)
        guard !points.isEmpty else { return }
        let xs = points.map(\.x), ys = points.map(\.y)
        let (x0, x1) = (xs.min()!, xs.max()! > xs.min()! ? xs.max()! : xs.min()! + 1)
        var (y0, y1) = (floorAtZero ? Swift.min(0, ys.min()!) : ys.min()!, ys.max()!)
        if y1 - y0 < 1e-12 { (y0, y1) = (y0 - 0.5 * Swift.max(abs(y0), 1e-3), y1 + 0.5 * Swift.max(abs(y1), 1e-3)) }
        let margin = (y1 - y0) * 0.05
        (y0, y1) = (floorAtZero && y0 == 0 ? 0 : y0 - margin, y1 + margin)
        func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }

        image.drawText(title, x: (left + right - RGBImage.textWidth(title, scale: 2)) / 2, y: frame.y + 12, color: black, scale: 2)
        for i in 0...4 {
            let y = y0 + (y1 - y0) * Double(i) / 4, row = py(y)
            image.drawLine(from: left, row, to: right, row, color: grey)
            let label = String(format: "%.3g", y)
            image.drawText(label, x: left - 8 - RGBImage.textWidth(label), y: row - 3, color: black)
        }
        let step = Swift.max(1, Int((x1 - x0) / 8))
        let ticks = xTicks ?? stride(from: Int(x0.rounded(.up)), through: Int(x1), by: step).map(Double.init)
        for tick in ticks {
            let column = px(tick), label = tick == tick.rounded() ? String(Int(tick)) : String(format: "%.2f", tick)
            image.drawLine(from: column, bottom, to: column, bottom + 4, color: black)
            image.drawText(label, x: column - RGBImage.textWidth(label) / 2, y: bottom + 8, color: black)
        }
        image.drawText(xLabel, x: (left + right - RGBImage.textWidth(xLabel)) / 2, y: bottom + 24, color: black)
        image.drawLine(from: left, top, to: left, bottom, color: black)
        image.drawLine(from: left, bottom, to: right, bottom, color: black)
        for s in series {
            for (a, b) in zip(s.points, s.points.dropFirst()) {
                image.drawLine(from: px(a.x), py(a.y), to: px(b.x), py(b.y), color: s.color, width: 2)
            }
            for p in s.points { image.fillRectangle(px(p.x) - 2, py(p.y) - 2, px(p.x) + 2, py(p.y) + 2, color: s.color) }
        }
        for (i, s) in series.enumerated() {
            let y = (legendBelow ? bottom - 10 - 14 * series.count : top + 8) + 14 * i
            let x = right - 10 - RGBImage.textWidth(s.name) - 26
            image.drawLine(from: x, y + 3, to: x + 18, y + 3, color: s.color, width: 3)
            image.drawText(s.name, x: x + 24, y: y, color: black)
        }
    }
}
