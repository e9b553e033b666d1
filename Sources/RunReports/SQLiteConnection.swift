// SQLiteConnection.swift — the small part of the SQLite C API the results
// history uses: open with a busy timeout, run statements with bound values,
// read rows, and write transactions that take the write lock up front
// (BEGIN IMMEDIATE) so concurrent writers queue instead of failing mid-way.
//
// One connection belongs to one thread; several processes and threads each
// open their own (SQLite serialises them through file locks and, in WAL mode,
// the shared-memory index).

import CSQLite
import Foundation

/// A history database problem: the file, the statement or step, SQLite's message.
public struct HistoryError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    /// SQLite's (extended) result code, when the error came from SQLite.
    public let sqliteCode: Int32?
    public init(path: String, reason: String, sqliteCode: Int32? = nil) {
        self.path = path
        self.reason = reason
        self.sqliteCode = sqliteCode
    }
    /// The database was locked by another connection beyond the busy timeout.
    public var isBusy: Bool { sqliteCode.map { $0 & 0xff == SQLITE_BUSY || $0 & 0xff == SQLITE_LOCKED } ?? false }
    public var description: String { "\(path): \(reason)" }
}

/// A value bound to a statement parameter or read from a column.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?

    /// SQLite's "copy the bytes now" destructor marker.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    /// Opens (creating when `create`) the database; waits up to `busyTimeout` seconds for locks.
    init(path: String, create: Bool, busyTimeout: Double = 60) throws(HistoryError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw HistoryError(path: path, reason: "cannot open the history database: \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, Int32(min(busyTimeout * 1000, Double(Int32.max))))
    }

    deinit { sqlite3_close_v2(handle) }

    private func failure(_ what: String, _ rc: Int32) -> HistoryError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return HistoryError(path: path, reason: "\(what): \(message) (SQLite code \(rc))", sqliteCode: rc)
    }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws(HistoryError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(error)
            throw HistoryError(path: path, reason: "\(sql.prefix(60))...: \(message) (SQLite code \(rc))", sqliteCode: rc)
        }
    }

    /// Runs one statement with bound parameters and returns every row.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws(HistoryError) -> [[SQLValue]] {
        var statement: OpaquePointer?
        let prepared = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard prepared == SQLITE_OK, let statement else { throw failure("cannot prepare \(sql.prefix(60))", prepared) }
        defer { sqlite3_finalize(statement) }
        for (i, value) in parameters.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .real(let v): rc = sqlite3_bind_double(statement, index, v)
            case .text(let v): rc = sqlite3_bind_text(statement, index, v, -1, Self.transient)
            }
            guard rc == SQLITE_OK else { throw failure("cannot bind parameter \(index) of \(sql.prefix(60))", rc) }
        }
        var rows: [[SQLValue]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw failure(String(sql.prefix(60)), rc) }
            let columns = sqlite3_column_count(statement)
            var row: [SQLValue] = []
            row.reserveCapacity(Int(columns))
            for c in 0 ..< columns {
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, c)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(statement, c)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(statement, c))))
                default: row.append(.null)
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs `body`'s reads as one read transaction: they all see the same state of the file,
    /// even while other connections commit.
    func readTransaction<T>(_ body: () throws(HistoryError) -> T) throws(HistoryError) -> T {
        try transaction("BEGIN", body)
    }

    /// Runs `body` in a write transaction that holds the write lock from the start
    /// (waiting for other writers up to the busy timeout); rolls back on error.
    func writeTransaction<T>(_ body: () throws(HistoryError) -> T) throws(HistoryError) -> T {
        try transaction("BEGIN IMMEDIATE", body)
    }

    private func transaction<T>(_ begin: String, _ body: () throws(HistoryError) -> T) throws(HistoryError) -> T {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The rowid of the last insert on this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The SQLite library version (e.g. "3.40.1").
    static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}

extension SQLValue {
    var text: String? { if case .text(let s) = self { s } else { nil } }
    var int: Int? { if case .integer(let v) = self { Int(v) } else { nil } }
    var double: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
    init(_ text: String?) { self = text.map(SQLValue.text) ?? .null }
    init(_ value: Double?) { self = value.map(SQLValue.real) ?? .null }
    init(_ value: Int) { self = .integer(Int64(value)) }
}
