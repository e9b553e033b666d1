// LinearSumAssignment.swift — the rectangular linear sum assignment problem,
// solved as scipy.optimize.linear_sum_assignment solves it (Crouse's shortest
// augmenting path, scipy's rectangular_lsap.cpp), step for step, so that ties
// are broken the same way:
//
// - a tall matrix (more rows than columns) is transposed first and the result
//   given back sorted by the original row;
// - the columns still to scan are kept in one array filled in reverse order
//   (a constant matrix gives the identity), and a scanned column is replaced by
//   the last remaining one;
// - among columns of equal reduced cost the later-scanned one wins only when it
//   is free (a new sink), else the first of lowest cost is kept.
//
// Memory: one transposed copy of the cost matrix (tall matrices only) and
// arrays of the row and column counts; nothing else.

/// The optimal one-to-one assignment of rows to columns with the least total cost.
public enum LinearSumAssignment {
    /// Solves the problem for `cost` (`rows` x `columns`, row-major). Returns the matched
    /// row and column indices, min(rows, columns) pairs, sorted by row (scipy's
    /// `row_ind, col_ind`). A NaN or infinite entry is a `TrainingError` naming it.
    public static func solve(cost: UnsafePointer<Double>, rows: Int, columns: Int) throws(TrainingError)
        -> (rows: [Int], columns: [Int]) {
        precondition(rows >= 0 && columns >= 0, "LinearSumAssignment: negative size \(rows)x\(columns)")
        for i in 0 ..< rows * columns where !cost[i].isFinite {
            throw TrainingError("assignment cost matrix (\(rows)x\(columns)): entry (\(i / columns), \(i % columns)) is \(cost[i]); every cost must be finite")
        }
        if rows == 0 || columns == 0 { return ([], []) }
        if columns < rows {
            // Tall: solve the transpose (columns x rows), then sort the pairs by original row.
            var transposed = [Double](repeating: 0, count: rows * columns)
            for i in 0 ..< rows {
                for j in 0 ..< columns { transposed[j * rows + i] = cost[i * columns + j] }
            }
            let col4row = transposed.withUnsafeBufferPointer { solveWide($0.baseAddress!, rows: columns, columns: rows) }
            // col4row[t] = original row matched to original column t (distinct values).
            let order = (0 ..< columns).sorted { col4row[$0] < col4row[$1] }
            return (order.map { col4row[$0] }, order)
        }
        return (Array(0 ..< rows), solveWide(cost, rows: rows, columns: columns))
    }

    /// The `[Double]` form of `solve(cost:rows:columns:)`.
    public static func solve(_ cost: [Double], rows: Int, columns: Int) throws(TrainingError) -> (rows: [Int], columns: [Int]) {
        precondition(cost.count == rows * columns, "LinearSumAssignment: \(cost.count) costs for \(rows)x\(columns)")
        if cost.isEmpty { return ([], []) }
        return try cost.withUnsafeBufferPointer { (buffer) throws(TrainingError) in
            try solve(cost: buffer.baseAddress!, rows: rows, columns: columns)
        }
    }

    /// rows <= columns, every entry finite: the column of each row.
    private static func solveWide(_ cost: UnsafePointer<Double>, rows nr: Int, columns nc: Int) -> [Int] {
        var u = [Double](repeating: 0, count: nr)
        var v = [Double](repeating: 0, count: nc)
        var shortest = [Double](repeating: 0, count: nc)
        var path = [Int](repeating: -1, count: nc)
        var col4row = [Int](repeating: -1, count: nr)
        var row4col = [Int](repeating: -1, count: nc)
        var sr = [Bool](repeating: false, count: nr)
        var sc = [Bool](repeating: false, count: nc)
        var remaining = [Int](repeating: 0, count: nc)

        for curRow in 0 ..< nr {
            // Shortest augmenting path from curRow.
            var minVal = 0.0
            var numRemaining = nc
            for it in 0 ..< nc { remaining[it] = nc - it - 1 }
            for k in 0 ..< nr { sr[k] = false }
            for k in 0 ..< nc { sc[k] = false; shortest[k] = .infinity }
            var sink = -1
            var i = curRow
            while sink == -1 {
                var index = -1
                var lowest = Double.infinity
                sr[i] = true
                for it in 0 ..< numRemaining {
                    let j = remaining[it]
                    let r = minVal + cost[i * nc + j] - u[i] - v[j]
                    if r < shortest[j] {
                        path[j] = i
                        shortest[j] = r
                    }
                    if shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == -1) {
                        lowest = shortest[j]
                        index = it
                    }
                }
                // Finite costs always leave a finite lowest (scipy's infeasible case cannot occur).
                minVal = lowest
                let j = remaining[index]
                if row4col[j] == -1 { sink = j } else { i = row4col[j] }
                sc[j] = true
                numRemaining -= 1
                remaining[index] = remaining[numRemaining]
            }

            // Dual variables.
            u[curRow] += minVal
            for k in 0 ..< nr where sr[k] && k != curRow {
                u[k] += minVal - shortest[col4row[k]]
            }
            for j in 0 ..< nc where sc[j] {
                v[j] -= minVal - shortest[j]
            }

            // Augment along the path.
            var j = sink
            while true {
                let k = path[j]
                row4col[j] = k
                swap(&col4row[k], &j)
                if k == curRow { break }
            }
        }
        return col4row
    }
}
