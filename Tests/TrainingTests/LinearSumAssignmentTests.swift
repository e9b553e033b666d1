// LinearSumAssignmentTests.swift — LinearSumAssignment against
// scipy.optimize.linear_sum_assignment on the matrices of lsa_cases.json
// (scripts/make_mask2former_loss_fixtures.py): random reals, tie-heavy small
// integers and constants, wide and tall. The assignment must be scipy's exactly,
// ties included.

import Testing
import TestSupport
import Training

struct LinearSumAssignmentTests {
    struct Case: Decodable {
        let rows: Int
        let columns: Int
        let cost: [Double]
        let row_ind: [Int]
        let col_ind: [Int]
    }

    @Test func matchesScipyIncludingTies() throws {
        let cases = try fixtures.decode([Case].self, from: "lsa_cases.json")
        #expect(cases.count > 200)
        var tall = 0, wide = 0
        for (n, c) in cases.enumerated() {
            let result = try LinearSumAssignment.solve(c.cost, rows: c.rows, columns: c.columns)
            #expect(result.rows == c.row_ind && result.columns == c.col_ind,
                    "case \(n) (\(c.rows)x\(c.columns)): \(result) vs scipy \(c.row_ind) \(c.col_ind)")
            if c.rows > c.columns { tall += 1 } else if c.rows < c.columns { wide += 1 }
        }
        #expect(tall > 20 && wide > 20)
    }

    @Test func constantMatrixGivesTheIdentity() throws {
        let result = try LinearSumAssignment.solve([Double](repeating: 1, count: 12), rows: 3, columns: 4)
        #expect(result.rows == [0, 1, 2] && result.columns == [0, 1, 2])
    }

    @Test func emptyMatrices() throws {
        #expect(try LinearSumAssignment.solve([], rows: 0, columns: 3).rows.isEmpty)
        #expect(try LinearSumAssignment.solve([], rows: 4, columns: 0).columns.isEmpty)
    }

    @Test func nonFiniteCostsAreTypedErrors() {
        for bad in [Double.nan, .infinity, -.infinity] {
            var cost = [Double](repeating: 0.5, count: 6)
            cost[4] = bad
            #expect(throws: TrainingError.self) { try LinearSumAssignment.solve(cost, rows: 2, columns: 3) }
            #expect(throws: TrainingError.self) { try LinearSumAssignment.solve(cost, rows: 3, columns: 2) }
        }
    }
}
