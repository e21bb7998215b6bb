/// Lines and text on RGB images, for pictures a person reads: training curves, labelled grids.
extension RGBImage {
    /// A line from (x0, y0) to (x1, y1), `width` pixels thick (Bresenham, clipped to the image).
    public mutating func drawLine(from x0: Int, _ y0: Int, to x1: Int, _ y1: Int, color: (UInt8, UInt8, UInt8), width lineWidth: Int = 1) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        let half = (lineWidth - 1) / 2
        while true {
            fillRectangle(x - half, y - half, x - half + lineWidth - 1, y - half + lineWidth - 1, color: color)
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// The pixels from (x0, y0) to (x1, y1) inclusive, clipped to the image.
    public mutating func fillRectangle(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, color: (UInt8, UInt8, UInt8)) {
        let left = Swift.max(x0, 0), right = Swift.min(x1, width - 1), top = Swift.max(y0, 0), bottom = Swift.min(y1, height - 1)
        guard left <= right, top <= bottom else { return }
        for row in top...bottom {
            for column in left...right {
                let i = (row * width + column) * 3
                pixels[i] = color.0; pixels[i + 1] = color.1; pixels[i + 2] = color.2
            }
        }
    }

    /// `text` in a 5x7 pixel font scaled by `scale`, its top-left corner at (x, y). Characters the
    /// font lacks are drawn as a box.
    public mutating func drawText(_ text: String, x: Int, y: Int, color: (UInt8, UInt8, UInt8), scale: Int = 1) {
        var left = x
        for character in text {
            let glyph = Font5x7.glyphs[character] ?? Font5x7.missing
            for (row, bits) in glyph.enumerated() {
                for column in 0..<5 where bits & (0b10000 >> column) != 0 {
                    fillRectangle(left + column * scale, y + row * scale, left + column * scale + scale - 1, y + row * scale + scale - 1, color: color)
                }
            }
            left += 6 * scale
        }
    }

    /// The width `drawText` takes for `text`.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int { text.count * 6 * scale - scale }

    /// `image` copied in with its top-left corner at (x, y), clipped to this image.
    public mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        for row in Swift.max(0, -y)..<Swift.min(image.height, height - y) {
            let columns = Swift.max(0, -x)..<Swift.min(image.width, width - x)
            guard !columns.isEmpty else { return }
            let source = (row * image.width + columns.lowerBound) * 3, target = ((y + row) * width + x + columns.lowerBound) * 3
            pixels[target..<target + columns.count * 3] = image.pixels[source..<source + columns.count * 3]
        }
    }

    /// Pictures of one size in rows of `columns` on white, each with its caption under it.
    public static func grid(_ cells: [(image: RGBImage, caption: String)], columns: Int) -> RGBImage {
        let width = cells.first?.image.width ?? 64, height = cells.first?.image.height ?? 64
        let rows = (cells.count + columns - 1) / columns
        var grid = RGBImage(width: columns * (width + 8) + 8, height: Swift.max(rows, 1) * (height + 24) + 8, filling: (255, 255, 255))
        for (index, cell) in cells.enumerated() {
            let x = 8 + (index % columns) * (width + 8), y = 8 + (index / columns) * (height + 24)
            grid.paste(cell.image, x: x, y: y)
            grid.drawText(cell.caption, x: x, y: y + height + 6, color: (0, 0, 0))
        }
        return grid
    }
}

/// A 5x7 pixel font: each glyph is 7 rows, the 5 low bits of each row its pixels, left first.
enum Font5x7 {
    static let missing: [UInt8] = [0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111]
    static let glyphs: [Character: [UInt8]] = [
        " ": [0, 0, 0, 0, 0, 0, 0],
        "0": [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],
        "1": [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        "2": [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
        "3": [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],
        "4": [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],
        "5": [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],
        "6": [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],
        "7": [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],
        "8": [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],
        "9": [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],
        ".": [0, 0, 0, 0, 0, 0b01100, 0b01100],
        ",": [0, 0, 0, 0, 0b01100, 0b00100, 0b01000],
        "-": [0, 0, 0, 0b11111, 0, 0, 0],
        "+": [0, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0],
        "=": [0, 0, 0b11111, 0, 0b11111, 0, 0],
        ">": [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000],
        "<": [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010],
        "%": [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011],
        "_": [0, 0, 0, 0, 0, 0, 0b11111],
        ":": [0, 0b01100, 0b01100, 0, 0b01100, 0b01100, 0],
        "/": [0, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0],
        "(": [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010],
        ")": [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000],
        "a": [0, 0, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111],
        "b": [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110],
        "c": [0, 0, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110],
        "d": [0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111],
        "e": [0, 0, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110],
        "f": [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000],
        "g": [0, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        "h": [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001],
        "i": [0b00100, 0, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110],
        "j": [0b00010, 0, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100],
        "k": [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010],
        "l": [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        "m": [0, 0, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001],
        "n": [0, 0, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001],
        "o": [0, 0, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110],
        "p": [0, 0, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000],
        "q": [0, 0, 0b01101, 0b10011, 0b01111, 0b00001, 0b00001],
        "r": [0, 0, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000],
        "s": [0, 0, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110],
        "t": [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110],
        "u": [0, 0, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101],
        "v": [0, 0, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100],
        "w": [0, 0, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010],
        "x": [0, 0, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001],
        "y": [0, 0, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        "z": [0, 0, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111],
        "I": [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        "O": [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
        "U": [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
    ]
}
