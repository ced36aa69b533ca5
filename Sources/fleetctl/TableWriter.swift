/// Lays out rows the way fleet's Go `tabwriter` does (min width 0, tab width 8, padding 1, tabs
/// as padding), so scripts written against fleet's output keep working byte for byte.
///
/// Every cell but the last in a row is padded with tabs to its column's width: the widest cell
/// plus one, rounded up to a multiple of 8.
struct TableWriter {
    static let tabWidth = 8

    static func render(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated().dropLast() {
                widths[i] = max(widths[i], cell.count + 1)
            }
        }
        var out = ""
        for row in rows {
            for (i, cell) in row.enumerated() {
                out += cell
                if i < row.count - 1 {
                    let width = (widths[i] + tabWidth - 1) / tabWidth * tabWidth
                    let padding = width - cell.count
                    out += String(repeating: "\t", count: (padding + tabWidth - 1) / tabWidth)
                }
            }
            out += "\n"
        }
        return out
    }
}
